"""The API tokens page in headless Chromium, by keyboard: an admin creates a token, sees it
once, and revokes it; axe (WCAG 2.1 A/AA) at desktop and phone width, no sideways scrolling
down to 320 px."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from inbox.extensions import db
from inbox.models import ApiToken, Role
from tests.browser import DESKTOP, audit, chromium, sign_in_by_keyboard
from tests.factories import PASSWORD
from tests.live import live_server

pytestmark = [pytest.mark.browser]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def test_admin_creates_and_revokes_a_token_by_keyboard(app, factory, browser):
    tenant = factory.tenant(name="Eksempel kommune")
    admin = factory.user(tenant, Role.ADMIN, name="Ada Admin")
    with live_server(app) as base:
        page = browser.new_page(viewport=DESKTOP)
        sign_in_by_keyboard(page, base, admin.email, PASSWORD)
        link = page.get_by_role("link", name="API-nøkler")
        link.focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        page.get_by_role("heading", name="API-nøkler", level=1).wait_for()
        audit(page)

        page.get_by_label("Navn").focus()
        page.keyboard.type("Kommunebot")
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        page.keyboard.press("Space")  # the third permission: hand over conversations
        assert page.get_by_label("Overlevere samtaler", exact=False).is_checked()
        page.keyboard.press("Tab")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        page.get_by_role("heading", name="Den nye nøkkelen din").wait_for()
        token = page.get_by_label("Nøkkel", exact=True).input_value()
        assert token.startswith("st_")
        audit(page)

        revoke = page.get_by_role("button", name="Trekk tilbake Kommunebot")
        revoke.focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        page.get_by_text("Nøkkelen er trukket tilbake.").wait_for()
        assert token not in page.content()
        audit(page)
        page.close()

    row = db.session.query(ApiToken).one()
    db.session.refresh(row)
    assert row.scopes == ["handover"] and row.revoked_at is not None
