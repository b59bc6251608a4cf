""" "Test connection" speaks the admin's language: the step that failed reads in bokmål or
nynorsk, with the provider's own message, HTTP status and error code quoted unchanged, while
the audit log keeps the problem in English."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import AuditEntry, ChannelAccount, ChannelKind, Role
from tests.fakes.facebook import FakeGraph
from tests.fakes.twilio import FakeTwilio
from tests.test_admin_setup import sign_in


@pytest.fixture
def twilio():  # type: ignore[no-untyped-def]
    fake = FakeTwilio("AC" + secrets.token_hex(16), secrets.token_hex(16))
    with fake:
        yield fake


def _sms_number(client, factory, twilio: FakeTwilio, lang: str, **form: str) -> str:  # type: ignore[no-untyped-def]
    """A municipal admin reading in `lang` sets up an SMS number; the test button's address."""
    tenant = factory.tenant()
    admin = factory.user(tenant, Role.ADMIN)
    admin.locale = lang
    db.session.commit()
    sign_in(client, admin)
    data = {
        "name": "SMS servicetorget",
        "number": "+4740000001",
        "account_sid": twilio.account_sid,
        "auth_token": twilio.auth_token,
        "api_base_url": twilio.url,
        **form,
    }
    resp = client.post(f"/admin/municipality/{tenant.id}/channels/new/sms", data=data)
    assert resp.status_code == 303
    account = db.session.scalars(select(ChannelAccount)).one()
    return f"/admin/municipality/{tenant.id}/channels/{account.id}/test"


def _problem() -> str:
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "channel.test")).one()
    return str(entry.data["problem"])


@pytest.mark.parametrize(
    ("lang", "heading", "expected"),
    [
        (
            "nb",
            "Tilkoblingen feilet",
            "Twilio avviste kontoens SID og auth token (401, feil 20003: Authenticate)",
        ),
        (
            "nn",
            "Tilkoplinga feila",
            "Twilio avviste SID-en til kontoen og auth token (401, feil 20003: Authenticate)",
        ),
    ],
)
def test_twilio_refusal_in_norwegian_with_twilios_own_message(
    app, client, factory, twilio, lang, heading, expected
):  # type: ignore[no-untyped-def]
    url = _sms_number(client, factory, twilio, lang, auth_token="wrong-" + secrets.token_hex(8))
    page = client.post(url).get_data(as_text=True)
    assert heading in page
    assert expected in page
    assert "Twilio refused" not in page
    assert _problem() == (
        "Twilio refused the account SID and auth token (401, error 20003: Authenticate)"
    )


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("nb", "DNS: fant ikke navnet api.twilio.invalid"),
        ("nn", "DNS: fann ikkje namnet api.twilio.invalid"),
    ],
)
def test_unreachable_host_in_norwegian(app, client, factory, twilio, lang, expected):  # type: ignore[no-untyped-def]
    url = _sms_number(client, factory, twilio, lang, api_base_url="https://api.twilio.invalid")
    page = client.post(url).get_data(as_text=True)
    assert expected in page
    assert "could not be found" not in page
    assert _problem() == "DNS: the name api.twilio.invalid could not be found"


def test_the_providers_text_is_escaped_in_the_translated_sentence(app, client, factory):  # type: ignore[no-untyped-def]
    """The quoted message comes from outside: translated or not, it is shown as text."""
    graph = FakeGraph("EAAB" + secrets.token_hex(12), secrets.token_hex(16))
    with graph:
        tenant = factory.tenant()
        admin = factory.user(tenant, Role.ADMIN)
        admin.locale = "nb"
        db.session.commit()
        sign_in(client, admin)
        client.post(
            f"/admin/municipality/{tenant.id}/channels/new/facebook",
            data={
                "name": "Kommunen på Facebook",
                "page_id": "1111",
                "page_access_token": graph.token,
                "app_secret": graph.app_secret,
                "verify_token": "bekreft-meg",
                "graph_version": "v21.0",
                "graph_url": graph.url,
            },
        )
        messenger = db.session.scalars(
            select(ChannelAccount).where(ChannelAccount.kind == ChannelKind.MESSENGER)
        ).one()
        graph.me = {"id": "2222", "name": "<b>Nabo</b>"}
        page = client.post(
            f"/admin/municipality/{tenant.id}/channels/{messenger.id}/test"
        ).get_data(as_text=True)
    assert "Feil side-ID: tokenet gjelder siden &#39;&lt;b&gt;Nabo&lt;/b&gt;&#39; (ID 2222)" in page
    assert "<b>Nabo</b>" not in page
