"""Log in with ID-porten in the chat widget, in headless Chromium against a local ID-porten
(tests/fakes/oidc.py): the citizen clicks the button on the municipality's page, the log-in
runs in a window of its own, and the chat goes on as the identified person. The widget, the
staff side and the pages of the flow have no axe-core (WCAG 2.1 A/AA) violations at 1280 and
390 px."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import ContactIdentity, Conversation, IdentityKind
from inbox.services import oidc
from tests.browser import audit, chromium, sign_in_by_keyboard
from tests.factories import PASSWORD
from tests.fakes.oidc import FakeIdporten
from tests.live import live_server, wait_for
from tests.test_idporten import PID, widget

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    with chromium() as b:
        yield b


@pytest.fixture
def idp() -> Iterator[FakeIdporten]:
    oidc.clear_caches()
    with FakeIdporten(PID) as provider:
        provider.user["name"] = "Ola Nordmann"
        yield provider
    oidc.clear_caches()


@pytest.fixture(autouse=True)
def inbound_worker(app):  # type: ignore[no-untyped-def]
    """The inbound worker in a thread, as in tests/test_webchat_browser.py."""
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


def test_a_citizen_logs_in_with_id_porten_in_the_widget(app, browser, factory, idp):  # type: ignore[no-untyped-def]
    from inbox.models import Role, Tenant

    account = widget(factory, idp, required=True)
    tenant = db.session.get(Tenant, account.tenant_id)
    with live_server(app) as base:
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{base}/demo/{tenant.slug}")
        page.get_by_role("button", name="Chat med oss").click()
        chat = page.frame_locator("#servicetorg-chat-frame")
        button = chat.get_by_role("button", name="Logg inn med ID-porten")
        button.wait_for()
        # Required here: nothing to write in until the citizen is identified.
        assert chat.locator("#chat-form").is_hidden()
        with context.expect_page() as popup_info:
            button.click()
        popup = popup_info.value
        popup.wait_for_event("close", timeout=15000)
        chat.get_by_text("Identifisert med ID-porten (nivå betydelig): Ola Nordmann").wait_for(
            timeout=10000
        )
        assert chat.locator("#chat-idporten").is_hidden()
        chat.get_by_label("Din melding").fill("Gjelder søknaden min om barnehageplass")
        chat.get_by_role("button", name="Send").click()
        chat.locator(".chat__msg--citizen[data-id]").wait_for(timeout=10000)
        conv = wait_for(
            lambda: (db.session.expire_all(), db.session.scalars(select(Conversation)).first())[1]
        )
        kinds = {
            i.kind
            for i in db.session.scalars(
                select(ContactIdentity).where(ContactIdentity.contact_id == conv.contact_id)
            )
        }
        assert IdentityKind.IDPORTEN_PID in kinds
        assert idp.requests[1].query["acr_values"] == ["idporten-loa-substantial"]

        # The caseworker sees who it is, with the number masked.
        staff = context.new_page()
        caseworker = factory.user(tenant, Role.CASEWORKER)
        sign_in_by_keyboard(staff, base, caseworker.email, PASSWORD)
        staff.goto(f"{base}/c/{conv.id}")
        staff.get_by_text("Identifisert med ID-porten (nivå betydelig): Ola Nordmann").wait_for()
        assert "170590*****" in staff.content() and PID not in staff.content()
        audit(staff)


def test_the_widget_and_the_flow_pages_are_accessible(app, browser, factory, idp):  # type: ignore[no-untyped-def]
    account = widget(factory, idp)
    with live_server(app) as base:
        page = browser.new_page()
        page.goto(f"{base}/chat/{account.external_id}")
        page.get_by_role("button", name="Logg inn med ID-porten").wait_for()
        audit(page)
        # The page a citizen sees when the log-in cannot be completed.
        page.goto(f"{base}/chat/{account.external_id}/idporten/start?ticket=expired")
        page.get_by_role("heading", name="Ikke identifisert").wait_for()
        audit(page)
