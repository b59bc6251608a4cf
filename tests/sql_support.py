"""Counting the SQL statements requests send (query ceilings in tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import has_request_context
from sqlalchemy import event

from inbox.extensions import db


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL statements requests send while the block runs (the test's own reads, made
    outside a request, are not counted)."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if has_request_context():
            seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
