"""The insight dashboard in headless Chromium: reached by keyboard from the menu, axe (WCAG 2.1
A/AA) zero violations at desktop and phone width, no sideways scrolling at 320 px, and the
period form works from the keyboard."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from inbox.models import ChannelKind, Role
from inbox.services import insight
from tests.browser import DESKTOP, audit, chromium, sign_in_by_keyboard
from tests.factories import PASSWORD
from tests.live import live_server
from tests.test_insight import WEEKDAYS, make, utc

pytestmark = [pytest.mark.browser]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def test_dashboard_by_keyboard_and_accessible(app, factory, browser):
    tenant = factory.tenant(name="Eksempel kommune", opening_hours=WEEKDAYS)
    team = factory.team(tenant, "Byggesak")
    chat = factory.channel(tenant, ChannelKind.WEBCHAT)
    sms = factory.channel(tenant, ChannelKind.SMS)
    start = utc(2026, 9, 1, 6)
    for i in range(40):
        at = start + timedelta(days=i % 28, hours=i % 11)
        make(
            factory,
            chat if i % 3 else sms,
            at,
            body="Når blir søppelet hentet? Byggesøknad for garasje og parkering",
            replies=[at + timedelta(minutes=7 * (i + 1))],
            closed=at + timedelta(hours=i % 5 + 1) if i % 4 else None,
            team=team.id if i % 2 else None,
        )
    insight.refresh(tenant)
    admin = factory.user(tenant, Role.ADMIN, name="Ada Admin")
    with live_server(app) as base:
        page = browser.new_page(viewport=DESKTOP)
        sign_in_by_keyboard(page, base, admin.email, PASSWORD)
        link = page.get_by_role("link", name="Innsikt")
        link.focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        page.get_by_role("heading", name="Innsikt", exact=True).wait_for()

        # Choose September 2026 by keyboard and show it.
        page.get_by_label("Fra", exact=True).fill("2026-09-01")
        page.get_by_label("Til", exact=True).fill("2026-09-30")
        page.get_by_label("Team", exact=True).focus()
        page.keyboard.press("Tab")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "from=2026-09-01" in page.url
        summary = page.locator("#table-summary")
        assert (
            summary.locator("tr", has_text="Henvendelser").locator("td").first.inner_text() == "40"
        )
        assert page.locator("svg.chart").count() >= 5
        audit(page)

        # The monthly report is accessible too.
        page.goto(f"{base}/insight/{tenant.id}/report?month=2026-09")
        page.get_by_role("heading", name="Innsiktsrapport: Eksempel kommune").wait_for()
        audit(page)
