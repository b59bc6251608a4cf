"""Headless Chromium (Debian's package) driven by Playwright, for browser tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium"):
        if candidate and os.path.exists(candidate):
            return candidate
    return shutil.which("chromium")


def require_chromium() -> str:
    path = chromium_path()
    if path is None:
        message = "no Chromium installed (apt-get install chromium): browser tests skipped"
        if os.environ.get("SERVICETORG_REQUIRE_BROWSER"):
            pytest.fail(message.replace("skipped", "required in CI"))
        pytest.skip(message)
    return path


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    path = require_chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


# WCAG 2.1 A and AA rules only.
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def axe_violations(page: Any) -> list[dict[str, Any]]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options=AXE_OPTIONS)
    return [
        {"id": v["id"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in results.response["violations"]
    ]


DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# WCAG 2.1 SC 1.4.10 (reflow): content fits 320 CSS px without scrolling in two dimensions.
NARROWEST = {"width": 320, "height": 640}


def audit(page: Any) -> None:
    """Zero axe WCAG 2.1 A/AA violations at desktop and phone width, and no sideways
    scrolling at desktop, phone and 320 px width. Leaves the page at its own size."""
    own = page.viewport_size
    for size in (DESKTOP, PHONE, NARROWEST):
        page.set_viewport_size(size)
        if size is not NARROWEST:
            assert axe_violations(page) == [], f"{page.url} at {size['width']}px"
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px at {size['width']}px"
    page.set_viewport_size(own)


def sign_in_by_keyboard(page: Any, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("E-postadresse").focus()
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    with page.expect_navigation():
        page.keyboard.press("Enter")
