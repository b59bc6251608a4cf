"""The caseworker pages in headless Chromium: sign-in (with lock-out), reply, note, assign,
merge contacts and undo, canned replies, language; axe (WCAG 2.1 A/AA) on every page at
desktop and phone width."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from channels.webchat.services import new_visitor_token, visitor_identity
from inbox.extensions import db
from inbox.models import ChannelKind, Contact, IdentityKind, Message, Role
from tests.browser import DESKTOP, audit, chromium, sign_in_by_keyboard
from tests.factories import PASSWORD
from tests.live import live_server

pytestmark = [pytest.mark.browser]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def test_sign_in_and_lock_out(app, factory, browser):
    tenant = factory.tenant()
    user = factory.user(tenant, Role.CASEWORKER)
    with live_server(app) as base:
        page = browser.new_page(viewport=DESKTOP)
        page.goto(f"{base}/login")
        audit(page)
        for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
            sign_in_by_keyboard(page, base, user.email, "feil passord")
            page.get_by_text("Feil e-postadresse eller passord.").wait_for()
        sign_in_by_keyboard(page, base, user.email, "feil passord")
        page.get_by_text("Kontoen er låst i 15 minutter", exact=False).wait_for()
        audit(page)
        sign_in_by_keyboard(page, base, user.email, PASSWORD)
        page.get_by_text("Kontoen er låst", exact=False).wait_for()
        # Another account signs in fine, by keyboard alone, and switches language.
        other = factory.user(tenant, Role.CASEWORKER)
        sign_in_by_keyboard(page, base, other.email, PASSWORD)
        page.get_by_role("heading", name="Innboks").wait_for()
        page.get_by_label("Språk").select_option("en")
        page.get_by_role("button", name="Bytt språk").click()
        page.get_by_role("heading", name="Inbox").wait_for()
        page.close()


def test_reply_note_assign_merge_and_undo(app, factory, browser):
    tenant = factory.tenant()
    chat = factory.channel(tenant, ChannelKind.WEBCHAT, name="Nettprat")
    sms = factory.channel(tenant, ChannelKind.SMS, name="SMS")
    cw = factory.user(tenant, Role.CASEWORKER, name="Kari Saksbehandler")
    admin = factory.user(tenant, Role.ADMIN, name="Ada Admin")
    # A web-chat visitor is known by the hash of its token, as the widget stores it.
    conv = factory.conversation(
        chat,
        body="Hei, når tømmes søpla?",
        contact_name="Ola",
        identity=visitor_identity(new_visitor_token()),
    )
    factory.inbound(sms, body="Det var meg på SMS", identity="+4798765432", kind=IdentityKind.PHONE)

    with live_server(app) as base:
        page = browser.new_page(viewport=DESKTOP)
        sign_in_by_keyboard(page, base, cw.email, PASSWORD)
        # Error pages are pages too: an unknown conversation, and a page for records staff.
        for url, status in ((f"{base}/c/{conv.id + 1000}", 404), (f"{base}/records/", 403)):
            assert page.goto(url).status == status
            page.get_by_role("link", name="Tilbake til innboksen", exact=True).wait_for()
            audit(page)
        page.goto(f"{base}/c/{conv.id}")
        page.locator("#thread").get_by_text("Hei, når tømmes søpla?").wait_for()
        audit(page)

        # Reply, by keyboard: the textarea, then Enter on the send button.
        page.locator("#reply-body").fill("Tirsdag annenhver uke.")
        page.locator("#reply-form button[type=submit]").focus()
        page.keyboard.press("Enter")
        page.get_by_text("Svaret er lagt i kø for sending.").wait_for()
        page.locator("#thread").get_by_text("Tirsdag annenhver uke.").wait_for()

        # An internal note.
        page.locator("#reply-body").fill("Sjekk adressen hans.")
        page.get_by_label("Internt notat").check()
        page.get_by_role("button", name="Send", exact=True).click()
        page.get_by_text("Notatet er lagret.").wait_for()

        # Assign to me (the reply already claimed it; unassign first, then claim).
        page.get_by_label("Tildelt", exact=True).select_option("")
        page.get_by_role("button", name="Bruk", exact=True).click()
        page.locator("#conv-meta").get_by_text("Ikke tildelt").wait_for()
        # Undo is offered for a few seconds, and puts the assignee back.
        page.get_by_role("button", name="Angre", exact=True).click()
        page.get_by_text("Angret.").wait_for()
        page.locator("#conv-meta").get_by_text("Tildelt Kari Saksbehandler").wait_for()
        page.get_by_label("Tildelt", exact=True).select_option("")
        page.get_by_role("button", name="Bruk", exact=True).click()
        page.locator("#conv-meta").get_by_text("Ikke tildelt").wait_for()
        page.locator("#assign-me-form button").click()
        page.get_by_text("Tildelt deg.").wait_for()

        # Merge the SMS contact into this one: the SMS message joins the thread.
        page.get_by_label("Slå en annen kontakt sammen med denne").fill("+4798765432")
        page.get_by_role("button", name="Slå sammen kontakter").click()
        page.get_by_text("Kontaktene er slått sammen.", exact=False).wait_for()
        page.locator("#thread").get_by_text("Det var meg på SMS").wait_for()
        audit(page)
        page.get_by_role("button", name="Angre sammenslåing", exact=False).click()
        page.get_by_text("Sammenslåingen er angret.").wait_for()
        assert page.locator("#thread").get_by_text("Det var meg på SMS").count() == 0

        # Canned replies: the admin page, and inserting one in the reply box.
        sign_in_by_keyboard(page, base, admin.email, PASSWORD)
        page.goto(f"{base}/admin/canned/")
        page.get_by_label("Tittel", exact=True).fill("Hilsen")
        page.get_by_label("Tekst", exact=True).fill("Hei {citizen_name}! Mvh {caseworker_name}")
        page.get_by_role("button", name="Lagre").click()
        page.get_by_text("Hurtigsvaret er lagret.").wait_for()
        audit(page)
        page.get_by_role("link", name="Rediger Hilsen").click()
        audit(page)
        page.goto(f"{base}/c/{conv.id}")
        page.locator("#reply-body").fill("Takk. ")
        page.get_by_label("Hurtigsvar").select_option(label="Hilsen")
        page.get_by_role("button", name="Sett inn").click()
        # Inserted where the cursor was, keeping what was already written.
        assert page.locator("#reply-body").input_value() == "Takk. Hei Ola! Mvh Ada Admin"
        page.close()

    notes = db.session.scalars(select(Message).where(Message.is_note.is_(True))).all()
    assert [n.body for n in notes] == ["Sjekk adressen hans."]
    assert db.session.scalar(select(Contact).where(Contact.merged_into_id.is_not(None))) is None
