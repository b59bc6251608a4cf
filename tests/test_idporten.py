"""Citizens identified through ID-porten in the chat widget, against a local ID-porten over
real HTTP (tests/fakes/oidc.py FakeIdporten): the flow, the level of assurance, the identity
stored encrypted and shown masked, the archive's correspondent, and no silent merge."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask
from sqlalchemy import select

from archiving import triage
from archiving.adapters.fiks_arkiv import arkivmelding
from archiving.journal import build_request
from channels.webchat import services
from inbox.extensions import db
from inbox.models import (
    ChannelAccount,
    ChannelKind,
    ContactIdentity,
    ContactMatchSuggestion,
    Conversation,
    IdentityKind,
    Message,
    Role,
    Tenant,
)
from inbox.models.matching import MatchReason
from inbox.models.sso import IdportenIdentity
from inbox.services import oidc, secret_store
from tests.conftest import run_inbound
from tests.fakes.oidc import FakeIdporten
from tests.schemas import assert_valid
from tests.staff_support import Browser, new_request
from tests.test_records_fiks import OPPRETT_XSD

PID = "17059010182"  # a valid fødselsnummer (mod-11), made up for the tests
MASKED = "170590*****"


@pytest.fixture
def idp() -> Iterator[FakeIdporten]:
    oidc.clear_caches()
    with FakeIdporten(PID) as provider:
        yield provider
    oidc.clear_caches()


def widget(
    factory: Any, idp: FakeIdporten, tenant: Tenant | None = None, **over: Any
) -> ChannelAccount:
    tenant = tenant or factory.tenant(name="Demo kommune")
    settings = {
        "enabled": True,
        "required": False,
        "issuer": idp.issuer,
        "client_id": idp.client_id,
        "client_secret_enc": secret_store.encrypt(idp.clients[idp.client_id]),
        "acr": "idporten-loa-substantial",
        **over,
    }
    return factory.channel(tenant, ChannelKind.WEBCHAT, name="Chat", config={"idporten": settings})


def visitor(client: Any, account: ChannelAccount) -> str:
    resp = client.post(f"/api/chat/{account.external_id}/visitor", json={})
    assert resp.status_code == 201
    return resp.get_json()["token"]


def identify(client: Any, account: ChannelAccount, token: str) -> Any:
    """What the widget and its window do: ask for the start address, go to ID-porten (which
    signs the person in at once), come back."""
    new_request()
    resp = client.post(f"/api/chat/{account.external_id}/idporten", headers={"X-Chat-Token": token})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    new_request()
    start = client.get(resp.get_json()["url"])
    assert start.status_code == 303, start.get_data(as_text=True)
    at_idporten = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    assert at_idporten.status_code == 302, at_idporten.text
    back = urlsplit(at_idporten.headers["Location"])
    new_request()
    return client.get(f"{back.path}?{back.query}")


def new_token(page: Any) -> str:
    text = page.get_data(as_text=True)
    return text.split('data-token="', 1)[1].split('"', 1)[0]


def send(client: Any, account: ChannelAccount, token: str, body: str, app: Flask) -> Any:
    new_request()
    resp = client.post(
        f"/api/chat/{account.external_id}/messages",
        json={"body": body, "client_id": str(uuid.uuid4())},
        headers={"X-Chat-Token": token},
    )
    assert resp.status_code in (202, 403), resp.get_data(as_text=True)
    if resp.status_code == 202:
        assert run_inbound(app) == 1, "the inbound worker stores the message"
    return resp


def test_the_widget_offers_id_porten_only_where_enabled(
    app: Flask, client: Any, factory: Any, idp: FakeIdporten
) -> None:
    account = widget(factory, idp)
    page = client.get(f"/chat/{account.external_id}").get_data(as_text=True)
    assert "Logg inn med ID-porten" in page
    plain = factory.channel(account.tenant if hasattr(account, "tenant") else factory.tenant())
    page = client.get(f"/chat/{plain.external_id}").get_data(as_text=True)
    assert "ID-porten" not in page
    token = visitor(client, plain)
    resp = client.post(f"/api/chat/{plain.external_id}/idporten", headers={"X-Chat-Token": token})
    assert resp.status_code == 404


def test_an_identified_visitor_is_a_contact_of_its_own_kind_with_the_number_encrypted(
    app: Flask, client: Any, factory: Any, idp: FakeIdporten
) -> None:
    account = widget(factory, idp)
    token = visitor(client, account)
    page = identify(client, account, token)
    assert page.status_code == 200, page.get_data(as_text=True)
    assert "Du er identifisert" in page.get_data(as_text=True)
    assert idp.codes == {} and not idp.refusals
    assert idp.requests[1].query["acr_values"] == ["idporten-loa-substantial"]
    identified = new_token(page)
    assert identified != token
    assert send(client, account, identified, "Gjelder min byggesøknad", app).status_code == 202
    ident = db.session.scalar(
        select(ContactIdentity).where(ContactIdentity.kind == IdentityKind.IDPORTEN_PID)
    )
    assert ident is not None and PID not in ident.value
    row = db.session.scalar(select(IdportenIdentity))
    assert row is not None and PID not in row.pid_enc
    assert secret_store.decrypt(row.pid_enc) == PID
    assert row.acr == "idporten-loa-substantial"
    conv = db.session.scalars(select(Conversation)).one()
    assert conv.contact_id == ident.contact_id
    # The same person identified again is the same contact.
    again = identify(app.test_client(), account, visitor(app.test_client(), account))
    assert again.status_code == 200
    assert (
        len(
            db.session.scalars(
                select(ContactIdentity).where(ContactIdentity.kind == IdentityKind.IDPORTEN_PID)
            ).all()
        )
        == 1
    )


def test_caseworkers_see_the_level_and_a_masked_number_and_admins_the_number(
    app: Flask, client: Any, factory: Any, idp: FakeIdporten
) -> None:
    account = widget(factory, idp)
    idp.user["name"] = "Ola Nordmann"
    identified = new_token(identify(client, account, visitor(client, account)))
    send(client, account, identified, "Hei", app)
    conv = db.session.scalars(select(Conversation)).one()
    tenant = db.session.get(Tenant, account.tenant_id)
    caseworker = factory.user(tenant, Role.CASEWORKER)
    page = Browser(app, caseworker).text(f"/c/{conv.id}")
    assert "Identifisert med ID-porten (nivå betydelig): Ola Nordmann" in page
    assert MASKED in page and PID not in page
    admin = factory.user(tenant, Role.ADMIN)
    page = Browser(app, admin).text(f"/c/{conv.id}")
    assert PID in page


def test_a_level_below_the_widgets_is_refused(
    app: Flask, client: Any, factory: Any, idp: FakeIdporten
) -> None:
    account = widget(factory, idp, acr="idporten-loa-high")
    idp.acr_override = "idporten-loa-substantial"
    page = identify(client, account, visitor(client, account))
    assert page.status_code == 403
    assert 'data-reason="acr"' in page.get_data(as_text=True)
    assert db.session.scalar(select(IdportenIdentity)) is None


@pytest.mark.parametrize(
    ("knob", "value", "reason"),
    [
        ("sign_with_foreign_key", True, "signature"),
        ("nonce_override", "another", "nonce"),
        ("issuer_override", "https://idporten.example", "issuer"),
    ],
)
def test_an_unverifiable_answer_identifies_nobody(
    app: Flask, client: Any, factory: Any, idp: FakeIdporten, knob: str, value: Any, reason: str
) -> None:
    account = widget(factory, idp)
    setattr(idp, knob, value)
    page = identify(client, account, visitor(client, account))
    assert page.status_code == 400
    text = page.get_data(as_text=True)
    assert f'data-reason="{reason}"' in text and "data-token" not in text
    assert db.session.scalar(select(IdportenIdentity)) is None


def test_a_malformed_identity_number_is_refused(
    app: Flask, client: Any, factory: Any, idp: FakeIdporten
) -> None:
    account = widget(factory, idp)
    idp.user["pid"] = "17059010183"  # wrong check digit
    page = identify(client, account, visitor(client, account))
    assert page.status_code == 403 and 'data-reason="pid"' in page.get_data(as_text=True)


def test_a_widget_that_requires_id_porten_refuses_anonymous_messages(
    app: Flask, client: Any, factory: Any, idp: FakeIdporten
) -> None:
    account = widget(factory, idp, required=True)
    anonymous = visitor(client, account)
    resp = send(client, account, anonymous, "Hei", app)
    assert resp.status_code == 403
    assert resp.get_json()["error"] == "identification_required"
    identified = new_token(identify(client, account, anonymous))
    assert send(client, account, identified, "Hei", app).status_code == 202


def test_an_anonymous_chat_is_not_merged_with_the_identified_person_but_suggested(
    app: Flask, client: Any, factory: Any, idp: FakeIdporten
) -> None:
    account = widget(factory, idp)
    anonymous = visitor(client, account)
    send(client, account, anonymous, "Et spørsmål før jeg logget inn", app)
    identified = new_token(identify(client, account, anonymous))
    send(client, account, identified, "Nå er jeg logget inn", app)
    convs = db.session.scalars(select(Conversation).order_by(Conversation.id)).all()
    assert len(convs) == 2 and convs[0].contact_id != convs[1].contact_id
    suggestion = db.session.scalars(select(ContactMatchSuggestion)).one()
    assert suggestion.reason is MatchReason.IDPORTEN
    assert {suggestion.contact_a_id, suggestion.contact_b_id} == {
        convs[0].contact_id,
        convs[1].contact_id,
    }
    tenant = db.session.get(Tenant, account.tenant_id)
    page = Browser(app, factory.user(tenant, Role.CASEWORKER)).text(f"/c/{convs[0].id}")
    assert "logget inn med ID-porten i samme chat" in page


def test_archive_flagging_names_the_verified_person_and_fiks_arkiv_gets_the_number(
    app: Flask, client: Any, factory: Any, idp: FakeIdporten
) -> None:
    account = widget(factory, idp)
    idp.user["name"] = "Ola Nordmann"
    identified = new_token(identify(client, account, visitor(client, account)))
    send(client, account, identified, "Søknad om parkering", app)
    conv = db.session.scalars(select(Conversation)).one()
    tenant = db.session.get(Tenant, account.tenant_id)
    details = triage.default_details(conv)
    assert details.correspondent_name == "Ola Nordmann" and not details.anonymous
    user = factory.user(tenant, Role.RECORDS_OFFICER)
    item = triage.flag_conversation(conv, user, new_case_title="Parkering", title="Søknad")
    db.session.commit()
    messages = list(db.session.scalars(select(Message).where(Message.conversation_id == conv.id)))
    request = build_request(item, tenant, 0, "I", messages, None)
    [citizen] = [c for c in request.correspondents if not c.internal]
    assert citizen.national_id == PID
    xml = arkivmelding(request, "servicetorg")
    doc = assert_valid(OPPRETT_XSD, xml)  # personid where the schema has it
    assert [e.text for e in doc.iter("{*}personid")] == [PID]
    # A correspondent changed by the caseworker is not given the verified number.
    item.correspondent_name = "Noen andre"
    request = build_request(item, tenant, 0, "I", messages, None)
    assert all(c.national_id is None for c in request.correspondents)


def test_a_visitor_token_of_another_widget_cannot_start_the_flow(
    app: Flask, client: Any, factory: Any, idp: FakeIdporten
) -> None:
    account = widget(factory, idp)
    resp = client.post(f"/api/chat/{account.external_id}/idporten")
    assert resp.status_code == 401
    forged = client.get(f"/chat/{account.external_id}/idporten/start?ticket=forged")
    assert forged.status_code == 400
    # A ticket made for one widget does not start another's.
    other = widget(factory, idp)
    token = visitor(client, account)
    url = client.post(
        f"/api/chat/{account.external_id}/idporten", headers={"X-Chat-Token": token}
    ).get_json()["url"]
    ticket = url.split("ticket=", 1)[1]
    resp = client.get(f"/chat/{other.external_id}/idporten/start?ticket={ticket}")
    assert resp.status_code == 400
    assert services.TOKEN_RE.match(token)


def test_an_admin_turns_id_porten_on_for_a_widget_and_the_secret_is_stored_encrypted(
    app: Flask, factory: Any, idp: FakeIdporten
) -> None:
    tenant = factory.tenant()
    account = factory.channel(tenant, ChannelKind.WEBCHAT, name="Chat")
    admin = Browser(app, factory.user(tenant, Role.ADMIN))
    assert "Chatvindu Chat" in admin.text("/admin/sso/")
    url = f"/admin/sso/{tenant.id}/idporten/{account.id}"
    form = {
        "enabled": "1",
        "issuer": idp.issuer,
        "client_id": idp.client_id,
        "client_secret": "idporten-secret",
        "acr": "idporten-loa-high",
    }
    assert admin.post(url, data={**form, "acr": "loa-low"}).status_code == 400
    assert admin.post(url, data={**form, "issuer": "http://idporten.example"}).status_code == 400
    assert admin.post(url, data={**form, "client_id": ""}).status_code == 400
    db.session.expire_all()
    assert "idporten" not in (account.config or {})
    assert admin.post(url, data=form).status_code == 303
    db.session.expire_all()
    stored = account.config["idporten"]
    assert stored["acr"] == "idporten-loa-high" and "idporten-secret" not in str(stored)
    assert secret_store.decrypt(stored["client_secret_enc"]) == "idporten-secret"
    # Saved again without a secret: the stored one stays, and the flow works with it.
    assert admin.post(url, data={**form, "client_secret": ""}).status_code == 303
    client = app.test_client()
    page = identify(client, account, visitor(client, account))
    assert page.status_code == 200, page.get_data(as_text=True)
    assert idp.requests[1].query["acr_values"] == ["idporten-loa-high"]
    # Another municipality's admin cannot touch this widget.
    other = Browser(app, factory.user(factory.tenant(), Role.ADMIN))
    assert other.post(url, data=form).status_code == 404


def test_noark5_gets_the_verified_number_as_personidentifikator(
    app: Flask, client: Any, factory: Any, idp: FakeIdporten, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archiving.adapters.noark5_rest import Noark5Rest
    from tests.fakes.noark5 import FakeNoark5

    account = widget(factory, idp)
    idp.user["name"] = "Ola Nordmann"
    identified = new_token(identify(client, account, visitor(client, account)))
    send(client, account, identified, "Søknad om parkering", app)
    conv = db.session.scalars(select(Conversation)).one()
    tenant = db.session.get(Tenant, account.tenant_id)
    user = factory.user(tenant, Role.RECORDS_OFFICER)
    item = triage.flag_conversation(conv, user, new_case_title="Parkering", title="Søknad")
    db.session.commit()
    messages = list(db.session.scalars(select(Message).where(Message.conversation_id == conv.id)))
    monkeypatch.setenv("NOARK_TOKEN_TEST", "test-token")
    with FakeNoark5(token="test-token") as fake:
        tenant.records_adapter = "noark5_rest"
        tenant.records_config = {"base_url": fake.url, "token_env": "NOARK_TOKEN_TEST"}
        request = build_request(item, tenant, 0, "I", messages, None)
        Noark5Rest(tenant).journal(request)
        [jp] = fake.entries(request.external_key)
        [party] = fake.of_kind("korrespondansepartperson", jp["systemID"])
        fake.release()
    assert party["personidentifikator"] == [PID]
    assert party["navn"] == "Ola Nordmann"


def test_a_subject_access_export_holds_what_id_porten_verified(
    app: Flask, client: Any, factory: Any, idp: FakeIdporten
) -> None:
    from inbox.services import subject_access

    account = widget(factory, idp)
    identified = new_token(identify(client, account, visitor(client, account)))
    send(client, account, identified, "Hei", app)
    conv = db.session.scalars(select(Conversation)).one()
    data = subject_access.export(conv.contact)
    [verified] = [
        i for c in data["contacts"] for i in c["identities"] if i["kind"] == "idporten_pid"
    ]
    assert verified["value"] == PID and verified["level"] == "idporten-loa-substantial"
