"""The caseworker's workspace in headless Chromium: list and conversation side by side at
desktop width, j/k and click open a conversation without a page load while the URL follows
(back and forward work), keyboard only; at phone width list then conversation; axe (WCAG 2.1
A/AA) at 1280 and 390 px and no sideways scrolling at 320 px."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from inbox.extensions import db
from inbox.models import ChannelKind, IdentityKind, Role
from inbox.services import conversations
from tests.browser import DESKTOP, PHONE, audit, chromium
from tests.factories import PASSWORD
from tests.live import live_server

pytestmark = [pytest.mark.browser]


def sign_in(page, base, user):
    page.goto(f"{base}/login")
    page.get_by_label("E-postadresse").fill(user.email)
    page.get_by_label("Passord").fill(PASSWORD)
    page.get_by_role("button", name="Logg inn").click()
    page.wait_for_url(f"{base}/")


@pytest.fixture
def town(app, factory):  # type: ignore[no-untyped-def]
    app.config.update(REALTIME_STREAM_SECONDS=5, REALTIME_POLL_SECONDS=0.2)
    tenant = factory.tenant()
    chat = factory.channel(tenant, ChannelKind.WEBCHAT, name="Nettprat")
    sms = factory.channel(tenant, ChannelKind.SMS, name="SMS")
    user = factory.user(tenant, Role.CASEWORKER, name="Kari Saksbehandler")
    older = factory.inbound(chat, body="Når tømmes søppelet?", contact_name="Kari Nordmann")
    newer = factory.inbound(
        sms, body="Hjelp med byggesøknaden", kind=IdentityKind.PHONE, identity="+4791234567"
    )
    return {"user": user, "older": older.conversation_id, "newer": newer.conversation_id}


def no_reload_marker(page):
    page.evaluate("() => { window.__sameDocument = true; }")


def same_document(page) -> bool:
    return page.evaluate("() => window.__sameDocument === true")


def test_list_and_conversation_side_by_side_without_page_loads(app, town):
    with chromium() as browser, live_server(app) as base:
        page = browser.new_page(viewport=DESKTOP)
        sign_in(page, base, town["user"])
        page.wait_for_selector(".queue__item")
        audit(page)
        no_reload_marker(page)

        # Click: the conversation opens in the middle, the URL follows, no page load.
        page.locator(".queue__item a", has_text="Kari Nordmann").click()
        page.wait_for_url(f"{base}/c/{town['older']}")
        page.locator("#conv-h", has_text="Kari Nordmann").wait_for()
        assert same_document(page)
        assert page.locator("#ws-list").is_visible()  # the list stays beside it
        assert page.locator(".queue__item a[aria-current=page]").count() == 1

        # j / k from the list open the neighbour, still without a page load.
        page.locator(".queue__item a[aria-current=page]").focus()
        page.keyboard.press("k")
        page.wait_for_url(f"{base}/c/{town['newer']}")
        page.locator("#conv-h", has_text="+47 91").wait_for()
        assert same_document(page)
        audit(page)

        # Back and forward follow the history.
        page.go_back()
        page.wait_for_url(f"{base}/c/{town['older']}")
        page.locator("#conv-h", has_text="Kari Nordmann").wait_for()
        page.go_forward()
        page.wait_for_url(f"{base}/c/{town['newer']}")
        page.locator("#conv-h", has_text="+47 91").wait_for()
        assert same_document(page)

        # A link to a conversation works as a full page with the list beside it.
        page.goto(f"{base}/c/{town['older']}")
        page.locator("#conv-h", has_text="Kari Nordmann").wait_for()
        assert page.locator("#ws-list").is_visible()
        page.close()


def test_keyboard_only_enter_moves_focus_into_the_conversation(app, town):
    with chromium() as browser, live_server(app) as base:
        page = browser.new_page(viewport=DESKTOP)
        sign_in(page, base, town["user"])
        page.wait_for_selector(".queue__item")
        page.keyboard.press("j")
        page.wait_for_url(f"{base}/c/{town['newer']}")
        page.keyboard.press("Enter")
        page.wait_for_function("() => document.activeElement.id === 'conv-h'")
        # r writes a reply in the conversation that was opened.
        page.keyboard.press("r")
        page.wait_for_function("() => document.activeElement.id === 'reply-body'")
        page.keyboard.type("Hei! Vi ser på saken.")
        page.keyboard.press("Tab")  # the counter updates in the swapped-in conversation
        assert "21 /" in page.locator("#reply-counter").inner_text()
        page.close()


def test_archive_panel_opens_with_f_and_checks_the_case_number(app, town):
    with chromium() as browser, live_server(app) as base:
        page = browser.new_page(viewport=DESKTOP)
        sign_in(page, base, town["user"])
        page.goto(f"{base}/c/{town['older']}")
        assert not page.get_by_label("Tittel på journalposten").is_visible()
        page.keyboard.press("f")
        page.wait_for_function("() => document.activeElement.closest('#flag-details')")
        page.get_by_label("Eksisterende saksnummer", exact=False).fill("2026/77")
        page.keyboard.press("Tab")
        page.get_by_text("Det finnes ingen sak 2026/77 i arkivsystemet.", exact=False).wait_for()
        audit(page)
        page.close()


def test_phone_width_collapses_to_list_then_conversation(app, town):
    with chromium() as browser, live_server(app) as base:
        page = browser.new_page(viewport=PHONE)
        sign_in(page, base, town["user"])
        page.wait_for_selector(".queue__item")
        assert not page.locator("#conv-pane").is_visible()
        page.locator(".queue__item a", has_text="Kari Nordmann").click()
        page.wait_for_url(f"{base}/c/{town['older']}")
        page.locator("#conv-h").wait_for()
        assert not page.locator("#ws-list").is_visible()
        audit(page)
        page.get_by_role("link", name="Tilbake til listen").click()
        page.wait_for_url(f"{base}/?**")
        page.close()


def test_without_javascript_every_link_is_a_full_page(app, town):
    with chromium() as browser, live_server(app) as base:
        context = browser.new_context(java_script_enabled=False, viewport=DESKTOP)
        page = context.new_page()
        sign_in(page, base, town["user"])
        page.locator(".queue__item a", has_text="Kari Nordmann").click()
        page.wait_for_url(f"{base}/c/{town['older']}")
        assert page.locator("#ws-list").is_visible() and page.locator("#conv-h").is_visible()
        context.close()


@pytest.mark.skipif(
    not os.environ.get("SERVICETORG_SCREENSHOTS"),
    reason="set SERVICETORG_SCREENSHOTS=1 to refresh docs/screenshot*.png",
)
def test_screenshots_for_the_docs(app, factory):
    """docs/screenshot.png (1280 px) and docs/screenshot-phone.png (390 px) of the workspace."""
    tenant = factory.tenant()
    chat = factory.channel(tenant, ChannelKind.WEBCHAT, name="Chat på eksempel.kommune.no")
    sms = factory.channel(tenant, ChannelKind.SMS, name="SMS 2222")
    user = factory.user(tenant, Role.CASEWORKER, name="Sara Saksbehandler")
    factory.inbound(chat, body="Når tømmes glassavfallet i Storgata?", identity="anon-1")
    factory.inbound(
        sms, body="Strømmen er borte i hele gata", kind=IdentityKind.PHONE, identity="+4791234567"
    )
    msg = factory.inbound(
        chat,
        body="Hei! Jeg har søkt om byggetillatelse for en garasje i Storgata 1 (sak 2026/1). "
        "Når kan jeg vente svar?",
        contact_name="Kari Nordmann",
    )
    conversations.reply(msg.conversation, user, "Hei! Saken er under behandling.")
    db.session.commit()
    docs = Path(__file__).resolve().parent.parent / "docs"
    with chromium() as browser, live_server(app) as base:
        page = browser.new_page(viewport=DESKTOP)
        sign_in(page, base, user)
        page.goto(f"{base}/c/{msg.conversation_id}")
        page.screenshot(path=str(docs / "screenshot.png"))
        page.set_viewport_size(PHONE)
        page.screenshot(path=str(docs / "screenshot-phone.png"))
