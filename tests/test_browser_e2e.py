"""The thin path through the real pages in headless Chromium, with a real Celery worker."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from archiving.models import ArchiveItem, ArchiveState
from inbox.extensions import db
from inbox.models import ChannelKind, Role
from tests.browser import audit, axe_violations, chromium
from tests.factories import PASSWORD
from tests.live import celery_worker, live_server, wait_for
from workers.celery_app import CeleryDispatcher

pytestmark = [pytest.mark.browser, pytest.mark.worker]


def test_citizen_and_caseworker_in_the_browser(app, factory, base_config):
    app.extensions["servicetorg.dispatcher"] = CeleryDispatcher(app.extensions["celery"])
    tenant = factory.tenant(slug="demo-e2e", name="Demo kommune")
    factory.channel(tenant, ChannelKind.WEBCHAT, name="Chat")
    caseworker = factory.user(tenant, Role.CASEWORKER)

    with chromium() as browser, celery_worker(base_config), live_server(app) as base:
        citizen = browser.new_page()
        citizen.goto(f"{base}/demo/{tenant.slug}")
        citizen.get_by_role("button", name="Chat med oss").click()
        chat = citizen.frame_locator("#servicetorg-chat-frame")
        chat.get_by_label("Din melding").fill("Hei, hvor søker jeg om parkeringstillatelse?")
        chat.get_by_role("button", name="Send").click()
        chat.locator(".chat__msg--citizen").first.wait_for()

        staff = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
        staff.goto(f"{base}/login")
        audit(staff)
        staff.get_by_label("E-postadresse").fill(caseworker.email)
        staff.get_by_label("Passord").fill(PASSWORD)
        staff.get_by_role("button", name="Logg inn").click()
        staff.get_by_role("link", name="parkeringstillatelse", exact=False).or_(
            staff.locator(".queue__item a")
        ).first.click()
        staff.locator("#thread").get_by_text(
            "Hei, hvor søker jeg om parkeringstillatelse?"
        ).wait_for()
        audit(staff)
        staff.get_by_label("Melding til innbyggeren").fill("Du søker på kommunens nettside.")
        staff.get_by_role("button", name="Send", exact=True).click()
        staff.get_by_text("Svaret er lagt i kø for sending.").wait_for()

        # The citizen sees the answer in the widget without reloading.
        chat.get_by_text("Du søker på kommunens nettside.").wait_for(timeout=15000)
        assert axe_violations(citizen) == []

        # Flag as part of a case from the conversation page (f opens the form).
        staff.keyboard.press("f")
        staff.get_by_label("…eller tittel på ny sak").fill("Parkeringstillatelse")
        staff.get_by_label("Tittel på journalposten").fill("Spørsmål om parkering")
        staff.get_by_role("button", name="Flagg for arkivet").click()
        staff.get_by_text("Flagget for arkivet.", exact=False).wait_for()

    item = wait_for(lambda: db.session.scalars(select(ArchiveItem)).first())
    assert item.state is ArchiveState.FLAGGED
