"""The chat widget in headless Chromium: real time, reconnecting, offline messages, keyboard
use and an axe-core audit (WCAG 2.1 A/AA), also at 320 px."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from werkzeug.serving import make_server

from channels.webchat import hours, services
from inbox.extensions import db
from inbox.models import Conversation, Message, Role
from inbox.models.base import utcnow
from inbox.services.conversations import mark_read, reply
from tests.browser import axe_violations, chromium
from tests.live import live_server, wait_for

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    with chromium() as b:  # one Chromium for the module: starting it is the slow part
        yield b


@pytest.fixture(autouse=True)
def _close_pages(browser):  # type: ignore[no-untyped-def]
    yield
    for context in list(browser.contexts):
        context.close()


@pytest.fixture(autouse=True)
def inbound_worker(app):  # type: ignore[no-untyped-def]
    """The inbound worker, in a thread: the widget's messages are accepted as events (202) and
    stored by the worker's batch, which the widget then finds in its stream or poll."""
    from inbox.services.events import PROCESS_TASK

    celery = app.extensions["celery"]
    celery.loader.import_default_modules()
    task = celery.tasks[PROCESS_TASK]
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(0.2):
            with app.app_context():
                try:
                    task.apply(throw=True)
                finally:
                    db.session.remove()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(10)


@pytest.fixture
def site(factory):  # type: ignore[no-untyped-def]
    tenant = factory.tenant(name="Demo kommune")
    account = factory.channel(tenant, name="Chat")
    caseworker = factory.user(tenant, Role.CASEWORKER)
    return tenant, account, caseworker


def _online(user) -> None:  # type: ignore[no-untyped-def]
    user.last_seen_at = utcnow()
    db.session.commit()


def _answer(tasks, caseworker, text: str) -> None:  # type: ignore[no-untyped-def]
    db.session.expire_all()
    conv = db.session.scalars(select(Conversation)).one()
    reply(conv, caseworker, text)
    db.session.commit()
    tasks.run_all()


def _bodies() -> list[str]:
    db.session.expire_all()
    return list(db.session.scalars(select(Message.body).order_by(Message.id)))


def _open_widget(page, base: str, tenant):  # type: ignore[no-untyped-def]
    page.goto(f"{base}/demo/{tenant.slug}")
    page.get_by_role("button", name="Chat med oss").click()
    return page.frame_locator("#servicetorg-chat-frame")


def test_send_and_receive_in_real_time(app, browser, site, tasks):
    tenant, account, caseworker = site
    _online(caseworker)
    with live_server(app) as base:
        page = browser.new_page()
        streams: list[str] = []
        page.on("request", lambda r: streams.append(r.url) if "/stream" in r.url else None)
        chat = _open_widget(page, base, tenant)
        chat.get_by_label("Din melding").fill("Når tømmes glassavfallet?")
        chat.get_by_role("button", name="Send").click()
        chat.locator(".chat__msg--citizen[data-id]").wait_for()
        assert _bodies() == ["Når tømmes glassavfallet?"]
        # The stored message replaced the pending bubble: shown once, no longer "sending".
        mine = chat.locator(".chat__msg--citizen")
        assert mine.count() == 1
        assert mine.get_attribute("id") == f"m-{mine.get_attribute('data-id')}"
        assert mine.locator(".chat__receipt").inner_text() == ""

        # The caseworker writes; the citizen sees "writing…", then the answer, without reloading.
        conv = db.session.scalars(select(Conversation)).one()
        services.set_staff_typing(conv, True, 30)
        db.session.commit()
        chat.get_by_text("Servicetorget skriver …").wait_for(timeout=5000)
        _answer(tasks, caseworker, "Første mandag i måneden.")
        chat.locator(".chat__msg--staff").get_by_text("Første mandag i måneden.").wait_for(
            timeout=5000
        )
        assert streams, "the widget should listen on the event stream"
        assert chat.locator("#chat-scroll").get_attribute("aria-live") == "polite"

        # The caseworker opens the conversation: the citizen sees that it was read.
        db.session.expire_all()
        mark_read(db.session.scalars(select(Conversation)).one())
        db.session.commit()
        chat.locator(".chat__msg--citizen .chat__receipt").get_by_text("Lest").wait_for(
            timeout=5000
        )

        # The conversation survives a page load (same visitor token).
        page.reload()
        page.get_by_role("button", name="Chat med oss").click()
        chat.get_by_text("Første mandag i måneden.").wait_for(timeout=5000)
        assert axe_violations(page) == []


def test_reconnect_after_the_network_drops_sends_once(app, browser, site, tasks):
    tenant, account, caseworker = site
    _online(caseworker)
    with live_server(app) as base:
        context = browser.new_context()
        page = context.new_page()
        chat = _open_widget(page, base, tenant)
        chat.get_by_label("Din melding").fill("Første melding")
        chat.get_by_role("button", name="Send").click()
        chat.locator(".chat__msg--citizen[data-id]").wait_for()

        context.set_offline(True)
        chat.get_by_label("Din melding").fill("Skrevet uten nett")
        chat.get_by_role("button", name="Send").click()
        chat.get_by_text("Ikke sendt. Vi prøver igjen når forbindelsen er tilbake.").wait_for()
        page.wait_for_timeout(2200)  # the widget retries (every 2 s) while offline
        assert _bodies() == ["Første melding"]

        context.set_offline(False)
        wait_for(lambda: "Skrevet uten nett" in _bodies(), timeout=10)
        page.wait_for_timeout(2200)  # a further retry round must not double it
        assert _bodies() == ["Første melding", "Skrevet uten nett"]
        assert chat.locator(".chat__msg--citizen").get_by_text("Skrevet uten nett").count() == 1

        # Answers reach the citizen again after the reconnect.
        _answer(tasks, caseworker, "Vi har fått begge meldingene.")
        chat.get_by_text("Vi har fått begge meldingene.").wait_for(timeout=8000)
        context.close()


def test_offline_message_with_reply_preference(app, browser, site):
    tenant, account, _caseworker = site
    tenant.opening_hours = {d: [] for d in hours.DAYS}
    db.session.commit()
    with live_server(app) as base:
        page = browser.new_page(viewport={"width": 320, "height": 640})
        page.goto(f"{base}/chat/{account.external_id}")
        page.get_by_text("Vi har stengt nå.", exact=False).wait_for()
        page.get_by_label("Din melding").fill("Jeg trenger hjelp med byggesøknad")
        page.get_by_role("button", name="Send").click()
        page.get_by_role("group", name="Hvordan vil du at vi skal svare deg?").wait_for()
        page.get_by_label("På tekstmelding (SMS)").check()
        page.get_by_label("Mobilnummer").fill("123")
        page.get_by_role("button", name="Lagre hvordan dere skal svare meg").click()
        page.get_by_text("Skriv et gyldig mobilnummer", exact=False).wait_for()
        assert page.get_by_label("Mobilnummer").get_attribute("aria-invalid") == "true"
        assert axe_violations(page) == []  # at 320 px, with the error showing
        page.get_by_label("Mobilnummer").fill("+47 912 34 567")
        page.get_by_role("button", name="Lagre hvordan dere skal svare meg").click()
        page.get_by_text("Takk. Vi svarer deg slik du ba om.").wait_for()
        page.locator("#chat-pref").wait_for(state="hidden")
        # No horizontal scrolling at 320 px (reflow).
        assert page.evaluate("document.documentElement.scrollWidth") <= 320

    db.session.expire_all()
    conv = db.session.scalars(select(Conversation)).one()
    assert conv.meta["reply_preference"]["method"] == "sms"
    assert conv.meta["reply_preference"]["value"] == "+4791234567"
    assert _bodies() == ["Jeg trenger hjelp med byggesøknad"]


def test_keyboard_only_download_end_and_accessibility(app, browser, site):
    tenant, account, caseworker = site
    _online(caseworker)
    with live_server(app) as base:
        page = browser.new_page()
        page.goto(f"{base}/demo/{tenant.slug}?lang=nb")
        assert axe_violations(page) == []
        button = page.get_by_role("button", name="Chat med oss")
        # Styled despite the page's strict CSP (no inline <style>), fixed at the bottom right.
        assert button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(0, 80, 158)"
        box = button.bounding_box()
        assert box is not None and box["x"] + box["width"] > 1280 - 40
        for _ in range(10):  # Tab until the chat button has focus
            page.keyboard.press("Tab")
            if button.evaluate("b => b.getRootNode().activeElement === b"):
                break
        page.keyboard.press("Enter")
        assert page.get_by_role("button", name="Lukk chat").get_attribute("aria-expanded") == "true"
        frame = page.frame_locator("#servicetorg-chat-frame")
        frame.get_by_label("Din melding").wait_for()
        wait_for(
            lambda: (
                frame.locator("body").evaluate("() => document.activeElement.id") == "chat-input"
            ),
            timeout=5,
        )
        page.keyboard.type("Skrevet bare med tastaturet")
        page.keyboard.press("Enter")
        frame.locator(".chat__msg--citizen[data-id]").wait_for()
        assert axe_violations(page) == []

        # Download my conversation (a plain-text file of what the citizen sees).
        with page.expect_download() as dl:
            frame.get_by_role("button", name="Last ned samtalen min").press("Enter")
        path = dl.value.path()
        with open(path, encoding="utf-8") as fh:
            assert "Skrevet bare med tastaturet" in fh.read()

        # Escape closes the chat and gives focus back to the button.
        # (The frame asks the page to close it by a message: wait for it, do not sample.)
        page.keyboard.press("Escape")
        page.locator("#servicetorg-chat-frame").wait_for(state="hidden")
        expect(button).to_have_attribute("aria-expanded", "false")
        page.wait_for_function(
            "b => b.getRootNode().activeElement === b", arg=button.element_handle()
        )

        # End chat: the browser forgets the token; a reload starts an empty chat.
        button.press("Enter")
        frame.get_by_role("button", name="Avslutt chatten").click()
        frame.get_by_text("Chatten er avsluttet.", exact=False).wait_for()
        page.reload()
        page.get_by_role("button", name="Chat med oss").click()
        frame.get_by_label("Din melding").wait_for()
        page.wait_for_timeout(500)
        assert frame.locator(".chat__msg").count() == 0

        # A phone: the demo page with the chat open fills the screen without sideways scrolling.
        phone = browser.new_page(viewport={"width": 320, "height": 640})
        phone.goto(f"{base}/demo/{tenant.slug}")
        phone.get_by_role("button", name="Chat med oss").click()
        phone.frame_locator("#servicetorg-chat-frame").get_by_label("Din melding").wait_for()
        assert axe_violations(phone) == []
        assert phone.evaluate("document.documentElement.scrollWidth") <= 320
        box = phone.locator("#servicetorg-chat-frame").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 320
        phone.close()

        # The frame itself, English, at 320 px and at 200 % zoom-equivalent width.
        for width in (320, 640):
            small = browser.new_page(viewport={"width": width, "height": 600})
            small.goto(f"{base}/chat/{account.external_id}?lang=en")
            small.get_by_label("Your message").wait_for()
            small.get_by_text("Privacy").click()
            assert axe_violations(small) == []
            assert small.evaluate("document.documentElement.scrollWidth") <= width
            small.close()


def test_signed_in_visitor_on_a_foreign_page(app, browser, site, monkeypatch):
    import time

    from channels.webchat.identity import sign
    from inbox.models import ContactIdentity, IdentityKind

    tenant, account, _caseworker = site
    monkeypatch.setenv("TEST_BROWSER_CHAT_SECRET", "nettstedets-hemmelighet")
    tenant.chat_identity_secret_ref = "TEST_BROWSER_CHAT_SECRET"
    db.session.commit()
    ts = int(time.time())
    with live_server(app) as base:
        page = browser.new_page()

        def embed(sig: str) -> str:
            return (
                '<!doctype html><html lang="en"><head><title>Kommunen</title>'
                "<style>button{background:red!important;font-size:40px}</style></head>"
                "<body><main><h1>Min side</h1></main>"
                f'<script async src="{base}/widget.js" data-key="{account.external_id}" '
                f'data-user-id="innbygger-7" data-user-ts="{ts}" data-user-sig="{sig}"></script>'
                "</body></html>"
            )

        # The municipality's own site: another origin (its own server on another port).
        pages = {"/": embed(sign("nettstedets-hemmelighet", "innbygger-7", ts))}
        pages["/forged"] = embed("0" * 64)
        with _static_site(pages) as site_url:
            page.goto(site_url + "/")
            button = page.get_by_role("button", name="Chat with us")
            # The page's CSS does not reach the widget's button; no globals are added.
            assert button.evaluate("b => getComputedStyle(b).backgroundColor") == (
                "rgb(0, 80, 158)"
            )
            assert page.evaluate("Object.keys(window).filter(k => /servicetorg/i.test(k))") == []
            button.click()
            chat = page.frame_locator("#servicetorg-chat-frame")
            chat.get_by_label("Your message").fill("Hello from my account")
            chat.get_by_role("button", name="Send").click()
            chat.locator(".chat__msg--citizen[data-id]").wait_for()
            db.session.expire_all()
            ident = db.session.scalars(
                select(ContactIdentity).where(ContactIdentity.kind == IdentityKind.CHAT_USER)
            ).one()
            assert ident.value == "innbygger-7"
            assert db.session.scalars(select(Message)).one().contact_id == ident.contact_id

            # A forged signature: the chat says so and continues anonymously.
            page2 = browser.new_page()
            page2.goto(site_url + "/forged")
            page2.get_by_role("button", name="Chat with us").click()
            chat2 = page2.frame_locator("#servicetorg-chat-frame")
            chat2.get_by_label("Your message").fill("Anonymous after all")
            chat2.get_by_role("button", name="Send").click()
            chat2.get_by_text("so this chat is anonymous", exact=False).wait_for()
            chat2.locator(".chat__msg--citizen[data-id]").wait_for()
        db.session.expire_all()
        anon = db.session.scalars(
            select(Message).where(Message.body == "Anonymous after all")
        ).one()
        assert anon.contact_id != ident.contact_id


@contextmanager
def _static_site(pages: dict[str, str]) -> Iterator[str]:
    """A stand-in for the municipality's web site, on its own origin."""

    def wsgi(environ, start_response):  # type: ignore[no-untyped-def]
        body = pages.get(environ["PATH_INFO"])
        if body is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [body.encode()]

    server = make_server("127.0.0.1", 0, wsgi, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # "localhost" rather than 127.0.0.1: a different origin from the inbox.
        yield f"http://localhost:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def test_polling_fallback_when_streams_are_full(app, browser, site, tasks):
    tenant, account, caseworker = site
    app.config["WEBCHAT_MAX_STREAMS"] = 0  # every stream is refused: the widget must poll
    with live_server(app) as base:
        page = browser.new_page()
        page.goto(f"{base}/chat/{account.external_id}")
        page.get_by_label("Din melding").fill("Virker det uten strøm?")
        page.get_by_role("button", name="Send").click()
        page.locator(".chat__msg--citizen[data-id]").wait_for()
        _answer(tasks, caseworker, "Ja, med spørring hvert andre sekund.")
        page.get_by_text("Ja, med spørring hvert andre sekund.").wait_for(timeout=8000)
