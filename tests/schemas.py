"""The official Noark 5 and Fiks Arkiv schemas in ../shared/standards (present in CI).

A local checkout without them skips the schema tests with a message that says so.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import pytest
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent


def standards_dir() -> Path | None:
    candidates = [
        os.environ.get("SERVICETORG_STANDARDS_DIR"),
        ROOT.parent / "shared" / "standards",  # CI: the repository next to shared/
        ROOT.parent.parent / "shared" / "standards",  # a git worktree one level further down
    ]
    for c in candidates:
        if c and (Path(c) / "SOURCES.md").is_file():
            return Path(c)
    return None


@cache
def _load(relpath: str) -> etree.XMLSchema:
    base = standards_dir()
    assert base is not None
    return etree.XMLSchema(etree.parse(str(base / relpath)))


def schema(relpath: str) -> etree.XMLSchema:
    """The schema, or skip: without the official XSDs nothing can be claimed about validity."""
    base = standards_dir()
    if base is None or not (base / relpath).is_file():
        pytest.skip(
            f"official schema {relpath} not found (expected in ../shared/standards or "
            "SERVICETORG_STANDARDS_DIR); schema validation NOT checked in this run"
        )
    return _load(relpath)


def assert_valid(relpath: str, data: bytes) -> etree._Element:
    doc = etree.fromstring(data)  # noqa: S320 (our own output)
    xsd = schema(relpath)
    if not xsd.validate(doc):
        errors = "\n".join(f"line {e.line}: {e.message}" for e in xsd.error_log)
        raise AssertionError(f"{relpath} rejects the document:\n{errors}")
    return doc
