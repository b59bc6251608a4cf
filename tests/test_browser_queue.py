"""The queue and search pages in headless Chromium: keyboard shortcuts, help overlay, a message
arriving without reload, search with highlights, "a colleague is typing", and axe audits at
desktop and phone width."""

from __future__ import annotations

import pytest

from inbox.models import ChannelKind, Role
from tests.browser import DESKTOP, PHONE, audit, axe_violations, chromium
from tests.factories import PASSWORD
from tests.live import live_server

pytestmark = [pytest.mark.browser]


def sign_in(page, base, user):
    page.goto(f"{base}/login")
    page.get_by_label("E-postadresse").fill(user.email)
    page.get_by_label("Passord").fill(PASSWORD)
    page.get_by_role("button", name="Logg inn").click()
    page.wait_for_url(f"{base}/")


def focused_conversation(page):
    return page.evaluate(
        "() => { const li = document.activeElement.closest('[data-conversation-id]');"
        " return li ? Number(li.dataset.conversationId) : null; }"
    )


def test_queue_search_and_shortcuts_in_the_browser(app, factory):
    app.config.update(REALTIME_STREAM_SECONDS=5, REALTIME_POLL_SECONDS=0.2)
    tenant = factory.tenant()
    chat = factory.channel(tenant, ChannelKind.WEBCHAT, name="Nettprat")
    user = factory.user(tenant, Role.CASEWORKER)
    colleague = factory.user(tenant, Role.CASEWORKER, name="Ola Kollega")
    older = factory.inbound(chat, body="Når tømmes søppelet?", contact_name="Kari Nordmann")
    newer = factory.inbound(chat, body="Hjelp med byggesøknaden min", contact_name="Per Hansen")
    older_id, newer_id = older.conversation_id, newer.conversation_id

    with chromium() as browser, live_server(app) as base:
        page = browser.new_page(viewport=DESKTOP)
        sign_in(page, base, user)
        page.wait_for_selector(".queue__item")
        audit(page)

        # j / k move through the queue.
        page.keyboard.press("j")
        assert focused_conversation(page) == newer_id
        page.keyboard.press("j")
        assert focused_conversation(page) == older_id
        page.keyboard.press("k")
        assert focused_conversation(page) == newer_id

        # ? opens the help, Esc closes it.
        page.keyboard.press("?")
        help_dialog = page.get_by_role("dialog", name="Hurtigtaster")
        help_dialog.wait_for()
        assert axe_violations(page) == []
        page.keyboard.press("Escape")
        help_dialog.wait_for(state="hidden")

        # A message arriving appears without reload.
        factory.inbound(chat, body="Ny melding nå", contact_name="Live Innbygger")
        page.locator(".queue__who", has_text="Live Innbygger").wait_for(timeout=15000)
        assert page.locator(".queue__item").count() == 3

        # / goes to the search box; the results page highlights the match.
        page.keyboard.press("/")
        page.keyboard.type("byggesøknad")
        page.keyboard.press("Enter")
        page.wait_for_url("**/search?**")
        assert "byggesøknad" in page.locator(".queue__snippet mark").first.inner_text().lower()
        page.get_by_text("Per Hansen").wait_for()
        audit(page)

        # From the queue, open a conversation; r / n / j work there.
        page.goto(f"{base}/")
        page.keyboard.press("j")
        page.keyboard.press("j")
        assert focused_conversation(page) == newer_id
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/c/{newer_id}")
        page.keyboard.press("r")
        assert page.evaluate("document.activeElement.id") == "reply-body"
        page.evaluate("document.activeElement.blur()")
        page.keyboard.press("n")
        assert page.locator('input[name="kind"][value="note"]').is_checked()
        assert page.evaluate("document.activeElement.id") == "reply-body"
        page.evaluate("document.activeElement.blur()")
        page.keyboard.press("j")
        page.wait_for_url(f"**/c/{older_id}")

        # A colleague on the same conversation sees that a reply is being written.
        other = browser.new_context(viewport=PHONE).new_page()
        sign_in(other, base, colleague)
        other.goto(f"{base}/c/{older_id}")
        other.wait_for_timeout(500)  # let its event stream connect
        page.locator("#reply-body").press_sequentially("Hei Kari", delay=20)
        other.get_by_text("skriver allerede et svar", exact=False).wait_for(timeout=15000)

        # ... and when the first one takes the conversation, the colleague's page says so.
        page.locator("#assign-me-form button").click()
        page.get_by_text("Tildelt deg.").wait_for()
        other.locator("#conv-meta").get_by_text(f"Tildelt {user.name}").wait_for(timeout=15000)


def test_a_message_committed_while_the_stream_reconnects_still_appears(app, factory):
    """Redis pub/sub does not replay what was published while nobody listened: the queue
    catches up when its stream opens again."""
    app.config.update(REALTIME_STREAM_SECONDS=1, REALTIME_RETRY_MS=1500, REALTIME_POLL_SECONDS=0.2)
    tenant = factory.tenant()
    chat = factory.channel(tenant, ChannelKind.WEBCHAT, name="Nettprat")
    user = factory.user(tenant, Role.CASEWORKER)
    factory.inbound(chat, body="Første", contact_name="Kari Nordmann")

    with chromium() as browser, live_server(app) as base:
        page = browser.new_page(viewport=DESKTOP)
        sign_in(page, base, user)
        page.wait_for_selector(".queue__item")
        # Wait until a stream has ended, then commit while the page is between streams.
        with page.expect_event(
            "requestfinished", predicate=lambda r: "/live/events" in r.url, timeout=15000
        ):
            pass
        factory.inbound(chat, body="Mens strømmen var borte", contact_name="Per Hansen")
        page.locator(".queue__who", has_text="Per Hansen").wait_for(timeout=15000)
