"""In headless Chromium: a caseworker flags chosen messages, a records officer previews the
PDF, approves it, and sees the receipt. The pages pass an axe WCAG 2.1 A/AA audit."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from archiving.models import ArchiveItem, ArchiveState
from inbox.extensions import db
from inbox.models import ChannelKind, Role
from tests.archiving_support import thread
from tests.browser import audit, chromium
from tests.factories import PASSWORD
from tests.live import live_server

pytestmark = pytest.mark.browser


def sign_in(page, base: str, user) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login")
    page.get_by_label("E-postadresse").fill(user.email)
    page.get_by_label("Passord").fill(PASSWORD)
    page.get_by_role("button", name="Logg inn").click()
    page.wait_for_url(re.compile(r".*/$"))


def test_flag_chosen_messages_preview_approve_and_see_receipt(app, factory, tasks):
    tenant = factory.tenant(name="Stjørdal kommune")
    account = factory.channel(tenant, ChannelKind.SMS, name="SMS servicetorget")
    caseworker = factory.user(tenant, Role.CASEWORKER)
    officer = factory.user(tenant, Role.RECORDS_OFFICER)
    conv = thread(
        account,
        caseworker,
        [
            "Jeg søker om utsatt frist i sak 2026/1234.",
            "Vi har mottatt søknaden din.",
            "Takk for svaret!",
        ],
    )

    with chromium() as browser, live_server(app) as base:
        staff = browser.new_context().new_page()
        sign_in(staff, base, caseworker)
        staff.goto(f"{base}/c/{conv.id}")
        staff.get_by_text("Dette kan være arkivverdig.").wait_for()
        audit(staff)
        # The flag form opens on demand: f (or the action bar's link).
        staff.keyboard.press("f")
        audit(staff)
        # The thank-you is not part of the case: leave it out.
        staff.get_by_role("checkbox", name=re.compile(r"^Melding 3 av 3")).uncheck()
        staff.get_by_label("…eller tittel på ny sak").fill("Utsatt frist")
        staff.get_by_label("Tittel på journalposten").fill("Søknad om utsatt frist via SMS")
        staff.get_by_role("button", name="Flagg for arkivet").click()
        staff.get_by_text("Flagget for arkivet.", exact=False).wait_for()
        audit(staff)

        records = browser.new_context().new_page()
        sign_in(records, base, officer)
        records.goto(f"{base}/records/")
        audit(records)
        records.get_by_role("link", name="Søknad om utsatt frist via SMS").click()
        records.get_by_role("heading", name="Dette blir arkivert").wait_for()
        audit(records)
        preview = records.get_by_role("link", name=re.compile(r"^forhåndsvis henvendelse-"))
        assert preview.count() == 2  # the citizen's message (I) and our answer (U)
        resp = records.request.get(base + preview.first.get_attribute("href"))
        assert resp.status == 200 and resp.headers["content-type"] == "application/pdf"
        assert resp.body().startswith(b"%PDF-")
        records.get_by_role("button", name="Godkjenn og journalfør").click()
        records.get_by_text("Godkjent.", exact=False).wait_for()

        assert tasks.run_all() == ["journalled"]  # the worker's part, in this process
        item = db.session.scalars(select(ArchiveItem)).one()
        db.session.refresh(item)
        assert item.state is ArchiveState.JOURNALLED
        assert len(item.messages) == 2
        records.get_by_role("link", name="Journalført").click()
        for receipt in item.receipts:
            records.get_by_role("cell", name=receipt.journalpostnummer).wait_for()
        audit(records)

        # The caseworker sees the receipt on the conversation.
        staff.goto(f"{base}/c/{conv.id}")
        staff.get_by_text(f"Journalført som {item.receipts[0].journalpostnummer}").wait_for()


def test_long_thread_is_chosen_on_its_own_page_by_keyboard_at_phone_width(app, factory):  # type: ignore[no-untyped-def]
    tenant = factory.tenant()
    account = factory.channel(tenant, ChannelKind.SMS)
    caseworker = factory.user(tenant, Role.CASEWORKER)
    conv = thread(account, caseworker, [f"Melding nummer {i}" for i in range(30)])

    with chromium() as browser, live_server(app) as base:
        staff = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
        sign_in(staff, base, caseworker)
        staff.goto(f"{base}/c/{conv.id}")
        staff.get_by_role("link", name="Flagg for arkivet …").click()
        staff.get_by_text(
            "De 30 meldingene som ikke er flagget ennå, tas med", exact=False
        ).wait_for()
        link = staff.get_by_role("link", name="Velg meldinger og journalposttyper selv")
        link.focus()
        staff.keyboard.press("Enter")
        staff.get_by_role("heading", name="Flagg som del av en sak").wait_for()
        audit(staff)
        # No sideways scrolling at phone width.
        assert staff.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        staff.get_by_role("checkbox", name=re.compile(r"^Melding 1 av 30")).focus()
        staff.keyboard.press("Space")  # untick the first message
        staff.get_by_label("Type for melding 2", exact=True).select_option("N")
        staff.get_by_label("…eller tittel på ny sak").fill("Lang tråd")
        staff.get_by_label("Tittel på journalposten").fill("Alt unntatt første")
        staff.get_by_role("button", name="Flagg for arkivet").press("Enter")
        staff.get_by_text("Flagget for arkivet.", exact=False).wait_for()

    item = db.session.scalars(select(ArchiveItem)).one()
    types = {m.message_id: m.journalposttype for m in item.messages}
    assert len(types) == 29
    ordered = sorted(types)
    assert types[ordered[0]] == "N" and types[ordered[1]] == "I"
