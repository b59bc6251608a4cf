"""A new municipality put into service through the pages, in headless Chromium: a regional
administrator creates it, adds a team, an SMS number and a Facebook page against the fake
providers, tests both connections (the Facebook one fails on purpose: a token of another
page), adds a routing rule and automatic assignment; a signed SMS arrives and is routed to the
team and assigned. axe (WCAG 2.1 A/AA) on every page at 1280 and 390 px."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import ChannelAccount, ChannelKind, Conversation, Role, Team, Tenant
from tests.browser import DESKTOP, audit, chromium, sign_in_by_keyboard
from tests.conftest import run_inbound
from tests.factories import PASSWORD
from tests.fakes.facebook import FakeGraph
from tests.fakes.twilio import FakeTwilio, new_sid
from tests.live import live_server
from tests.sms_support import sign

pytestmark = [pytest.mark.browser]
PUBLIC = "https://innboks.example.kommune.no"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def submit(page: Any, button: Any) -> None:
    with page.expect_navigation():
        button.click()


def test_a_municipality_set_up_end_to_end_through_the_pages(app, factory, browser):
    home = factory.tenant(name="Regionen IKT")
    regional = factory.user(home, Role.ADMIN, name="Rita Region")
    regional.is_regional_admin = True
    db.session.commit()
    app.config["PUBLIC_BASE_URL"] = PUBLIC
    twilio = FakeTwilio("AC" + secrets.token_hex(16), secrets.token_hex(16))
    graph = FakeGraph("EAAB" + secrets.token_hex(12), secrets.token_hex(16))
    with twilio, graph, live_server(app) as base:
        twilio.phone_numbers = ["+4740000123"]
        graph.me = {"id": "999888777", "name": "Nabokommunen"}  # the token of another page
        page = browser.new_page(viewport=DESKTOP)
        sign_in_by_keyboard(page, base, regional.email, PASSWORD)

        # The regional administrator creates the municipality, with herself as its admin.
        page.goto(f"{base}/admin/region/")
        page.get_by_role("heading", name="Kommuner", exact=True).wait_for()
        audit(page)
        page.fill("#tenant-name", "Fjellbygd kommune")
        page.fill("#tenant-slug", "fjellbygd")
        page.fill("#tenant-admin-email", regional.email)
        page.fill("#tenant-admin-name", "Rita Region")
        submit(page, page.get_by_role("button", name="Opprett kommune"))
        page.locator("#existing-account").wait_for()
        audit(page)
        tenant = db.session.scalars(select(Tenant).where(Tenant.slug == "fjellbygd")).one()

        # A team, through the staff page.
        page.goto(f"{base}/admin/staff/?tenant={tenant.id}")
        page.fill("#team-name", "Byggesak")
        submit(page, page.get_by_role("button", name="Opprett team"))
        team = db.session.scalars(select(Team).where(Team.tenant_id == tenant.id)).one()

        # An SMS number against the fake Twilio, and its connection test.
        page.goto(f"{base}/admin/municipality/{tenant.id}/channels")
        audit(page)
        submit(page, page.get_by_role("link", name="Legg til: SMS-nummer"))
        audit(page)
        page.fill("#f-name", "SMS Fjellbygd")
        page.fill("#f-number", "+4740000123")
        page.fill("#f-account_sid", twilio.account_sid)
        page.fill("#f-auth_token", twilio.auth_token)
        page.fill("#f-api_base_url", twilio.url)
        submit(page, page.locator("#channel-form").get_by_role("button", name="Lagre"))
        url = page.locator("#sms-webhook-url").inner_text()
        sms = db.session.scalars(
            select(ChannelAccount).where(ChannelAccount.kind == ChannelKind.SMS)
        ).one()
        assert url == f"{PUBLIC}/webhooks/twilio/{sms.id}/sms"
        assert twilio.auth_token not in page.content()
        audit(page)
        submit(page, page.get_by_role("button", name="Test tilkoblingen"))
        page.get_by_role("heading", name="Tilkoblingen virker").wait_for()
        audit(page)

        # A Facebook page against the fake Graph API: the test fails, and says why.
        page.goto(f"{base}/admin/municipality/{tenant.id}/channels/new/facebook")
        page.fill("#f-name", "Fjellbygd på Facebook")
        page.fill("#f-page_id", "123456789")
        page.fill("#f-page_access_token", graph.token)
        page.fill("#f-app_secret", graph.app_secret)
        page.fill("#f-verify_token", "fjellbygd-bekreft")
        page.fill("#f-graph_url", graph.url)
        submit(page, page.locator("#channel-form").get_by_role("button", name="Lagre"))
        page.locator("#facebook-callback-url").wait_for()
        submit(page, page.get_by_role("button", name="Test tilkoblingen"))
        page.get_by_role("heading", name="Tilkoblingen feilet").wait_for()
        assert (
            "Feil side-ID: tokenet gjelder siden 'Nabokommunen' (ID 999888777), "
            "ikke side-ID 123456789" in page.locator("#test-result").inner_text()
        )
        audit(page)

        # Routing: the word "byggesøknad" goes to Byggesak, assigned automatically.
        page.goto(f"{base}/admin/municipality/{tenant.id}/routing")
        page.fill("#r-keyword", "byggesøknad")
        page.select_option("#r-team", str(team.id))
        submit(page, page.get_by_role("button", name="Legg til regel"))
        page.locator("#rule-list").get_by_text("byggesøknad").wait_for()
        section = page.locator(f"#team-load-{team.id}")
        section.get_by_role("checkbox").check()
        submit(page, section.get_by_role("button", name="Lagre"))
        audit(page)

        # A caseworker of the team is signed in.
        caseworker = factory.user(tenant, Role.CASEWORKER, name="Kari Saksbehandler")
        factory_member(team, caseworker)
        cw_page = browser.new_page(viewport=DESKTOP)
        sign_in_by_keyboard(cw_page, base, caseworker.email, PASSWORD)

        # A signed SMS arrives at the webhook URL the page showed.
        path = f"/webhooks/twilio/{sms.id}/sms"
        params = {
            "MessageSid": new_sid("SM"),
            "SmsMessageSid": "",
            "AccountSid": twilio.account_sid,
            "From": "+4791234567",
            "To": "+4740000123",
            "Body": "Hei, hvordan går det med byggesøknaden min?",
            "NumMedia": "0",
        }
        params["SmsMessageSid"] = params["MessageSid"]
        resp = app.test_client().post(
            path,
            data=params,
            headers={"X-Twilio-Signature": sign(PUBLIC + path, params, twilio.auth_token)},
        )
        assert resp.status_code == 200
        run_inbound(app)
        db.session.expire_all()
        conv = db.session.scalars(
            select(Conversation).where(Conversation.tenant_id == tenant.id)
        ).one()
        assert (conv.team_id, conv.assignee_id) == (team.id, caseworker.id)

        page.goto(f"{base}/admin/municipality/{tenant.id}/routing")
        load = page.locator(f"#team-load-{team.id}")
        load.get_by_text("Kari Saksbehandler").wait_for()
        assert "1 / 10" in load.inner_text()
        audit(page)
        page.goto(f"{base}/admin/municipality/{tenant.id}/audit")
        audit(page)
        page.goto(f"{base}/admin/municipality/{tenant.id}/profile")
        audit(page)
        page.goto(f"{base}/admin/municipality/{tenant.id}/widget")
        audit(page)
        page.goto(f"{base}/admin/municipality/{tenant.id}/records")
        audit(page)


def factory_member(team: Team, user: Any) -> None:
    from inbox.models import TeamMember

    db.session.add(TeamMember(team_id=team.id, user_id=user.id))
    db.session.commit()
