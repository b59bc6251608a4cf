"""One citizen, many channels: certain and likely matches are suggested, never merged silently;
the caseworker confirms (merge, undoable) or rejects (never suggested again)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from flask import render_template_string
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import (
    ChannelAccount,
    ChannelKind,
    Contact,
    ContactIdentity,
    ContactMatchSuggestion,
    Conversation,
    IdentityKind,
    MatchReason,
    MatchStatus,
    Message,
    Tenant,
)
from inbox.services import matching
from tests.conftest import make_app

SECRET = "matching-secret"


@pytest.fixture
def setup(factory, monkeypatch) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MATCH_TEST_SECRET", SECRET)
    tenant = factory.tenant()
    return {
        "tenant": tenant,
        "chat": factory.channel(tenant, ChannelKind.WEBCHAT),
        "sms": factory.channel(tenant, ChannelKind.SMS),
        "web": factory.channel(
            tenant,
            ChannelKind.WEB_COMMENTS,
            config={"source": "webhook"},
            secret_refs={"webhook_secret": "MATCH_TEST_SECRET"},
        ),
    }


@pytest.fixture
def caseworker(factory, setup):  # type: ignore[no-untyped-def]
    return factory.user(setup["tenant"])


def comment(client, account: ChannelAccount, cid: str, author: dict[str, str]):  # type: ignore[no-untyped-def]
    body = json.dumps(
        {
            "id": cid,
            "page_url": "https://kommune.example.no/nyheter/1",
            "author": author,
            "body": "Hei",
            "created_at": "2026-11-20T10:00:00Z",
        }
    ).encode()
    sig = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    resp = client.post(
        f"/webhooks/comments/{account.id}",
        data=body,
        headers={"X-Servicetorg-Signature": sig, "Content-Type": "application/json"},
    )
    assert resp.status_code in (200, 202), resp.get_json()
    client.application.extensions["servicetorg.dispatcher"].run_inbound()  # the worker's batch
    return db.session.scalar(
        select(Message).where(
            Message.channel_account_id == account.id, Message.provider_message_id == cid
        )
    )


def suggestions() -> list[ContactMatchSuggestion]:
    return list(
        db.session.scalars(select(ContactMatchSuggestion).order_by(ContactMatchSuggestion.id))
    )


def test_normalisation() -> None:
    assert matching.normalise_phone("912 34 567") == "+4791234567"
    assert matching.normalise_phone("0047 912-34-567") == "+4791234567"
    assert matching.normalise_phone("12") is None
    assert matching.normalise_email("  Kari@Example.NO ") == "kari@example.no"
    assert matching.normalise_name("  KARI   Nordmann ") == "kari nordmann"
    assert matching.normalise_name("Kari") is None  # one word is too weak


def test_same_email_across_channels_is_a_certain_suggestion(client, factory, setup, tasks) -> None:  # type: ignore[no-untyped-def]
    chat_msg = factory.inbound(setup["chat"], identity="KARI@example.no", kind=IdentityKind.EMAIL)
    web_msg = comment(client, setup["web"], "c1", {"name": "K. N.", "email": "Kari@Example.no"})
    assert chat_msg.contact_id != web_msg.contact_id  # not merged silently
    assert "servicetorg.default.match_contacts" in tasks.names()
    tasks.run_all()
    (s,) = suggestions()
    assert (s.reason, s.matched_on, s.status) == (
        MatchReason.CERTAIN,
        "email",
        MatchStatus.PENDING,
    )
    assert {s.contact_a_id, s.contact_b_id} == {chat_msg.contact_id, web_msg.contact_id}
    # Computing again never makes a second row for the pair.
    assert matching.suggest_for_contact(web_msg.contact_id) == []


def test_same_phone_is_certain_and_same_name_is_likely(factory, setup) -> None:  # type: ignore[no-untyped-def]
    sms = factory.inbound(setup["sms"], identity="+4791234567", kind=IdentityKind.PHONE)
    chat = factory.inbound(setup["chat"], contact_name="Ola  NORDMANN")
    chat_contact = db.session.get(Contact, chat.contact_id)
    chat_contact.phone = "912 34 567"  # left in the widget as how to be reached
    namesake = factory.inbound(setup["chat"], contact_name="ola nordmann")
    other = factory.inbound(setup["chat"], contact_name="Kari Nordmann")
    db.session.commit()
    matching.suggest_for_contact(chat.contact_id)
    db.session.commit()
    # Some suggestions were already made when the messages arrived; all are there once.
    rows = db.session.scalars(select(ContactMatchSuggestion)).all()
    got = {(s.contact_a_id, s.contact_b_id): (s.reason, s.matched_on) for s in rows}
    assert len(got) == len(rows)
    pair = tuple(sorted((sms.contact_id, chat.contact_id)))
    assert got[pair] == (MatchReason.CERTAIN, "phone")
    assert got[tuple(sorted((chat.contact_id, namesake.contact_id)))] == (
        MatchReason.LIKELY,
        "name",
    )
    assert other.contact_id not in {c for p in got for c in p}


def test_confirm_merges_and_undo_restores(client, factory, setup, caseworker, login, tasks) -> None:  # type: ignore[no-untyped-def]
    chat_msg = factory.inbound(setup["chat"], identity="kari@example.no", kind=IdentityKind.EMAIL)
    web_msg = comment(client, setup["web"], "c1", {"name": "Kari N", "email": "kari@example.no"})
    tasks.run_all()
    (s,) = suggestions()
    older, newer = sorted((chat_msg.contact_id, web_msg.contact_id))
    web_conv = web_msg.conversation_id
    login(caseworker)

    # The conversation page partial offers the suggestion.
    conv = db.session.get(Conversation, web_conv)
    with client.application.test_request_context(f"/c/{conv.id}?lang=nb"):
        html = render_template_string('{% include "inbox/_match_suggestions.html" %}', conv=conv)
    assert "Sikkert treff" in html and f"/contacts/matches/{s.id}/confirm" in html

    resp = client.post(f"/contacts/matches/{s.id}/confirm", data={"next": f"/c/{web_conv}"})
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/c/{web_conv}")
    db.session.expire_all()
    assert db.session.get(Contact, newer).merged_into_id == older
    assert db.session.get(Conversation, web_conv).contact_id == older
    idents = db.session.scalars(select(ContactIdentity).where(ContactIdentity.contact_id == older))
    assert {i.kind for i in idents} == {IdentityKind.EMAIL, IdentityKind.WEB_AUTHOR}
    s = db.session.get(ContactMatchSuggestion, s.id)
    assert s.status is MatchStatus.CONFIRMED and s.decided_by_id == caseworker.id
    # The same commenter writing again lands on the surviving contact.
    again = comment(client, setup["web"], "c2", {"name": "Kari N", "email": "kari@example.no"})
    assert again.contact_id == older
    # Deciding twice is refused.
    twice = client.post(f"/contacts/matches/{s.id}/confirm", headers={"Accept": "application/json"})
    assert twice.status_code == 409

    resp = client.post(f"/contacts/matches/{s.id}/undo", headers={"Accept": "application/json"})
    assert resp.status_code == 200 and resp.get_json()["status"] == "undone"
    db.session.expire_all()
    assert db.session.get(Contact, newer).merged_into_id is None
    assert db.session.get(Conversation, web_conv).contact_id == newer
    web_ident = db.session.scalar(
        select(ContactIdentity).where(ContactIdentity.kind == IdentityKind.WEB_AUTHOR)
    )
    assert web_ident.contact_id == newer
    assert db.session.get(Message, web_msg.id).contact_id == newer
    # An undone pair is not suggested again.
    assert matching.suggest_for_contact(newer) == []


def test_rejected_pair_is_never_suggested_again(client, factory, setup, caseworker, login) -> None:  # type: ignore[no-untyped-def]
    a = factory.inbound(setup["chat"], contact_name="Per Hansen")
    b = factory.inbound(setup["chat"], contact_name="per hansen")
    matching.suggest_for_contact(b.contact_id)
    db.session.commit()
    (s,) = suggestions()
    assert s.reason is MatchReason.LIKELY
    login(caseworker)
    resp = client.post(f"/contacts/matches/{s.id}/reject", headers={"Accept": "application/json"})
    assert resp.get_json()["status"] == "rejected"
    assert matching.suggest_for_contact(a.contact_id) == []
    assert matching.suggest_for_contact(b.contact_id) == []
    conv = db.session.get(Conversation, a.conversation_id)
    assert matching.for_conversation(conv) == []
    assert db.session.get(Contact, b.contact_id).merged_into_id is None


def test_tenants_are_isolated(client, factory, setup, login) -> None:  # type: ignore[no-untyped-def]
    other_tenant = factory.tenant()
    other_chat = factory.channel(other_tenant, ChannelKind.WEBCHAT)
    factory.inbound(other_chat, identity="kari@example.no", kind=IdentityKind.EMAIL)
    mine = factory.inbound(setup["chat"], identity="kari@example.no", kind=IdentityKind.EMAIL)
    assert matching.suggest_for_contact(mine.contact_id) == []  # same address, other tenant
    a = factory.inbound(setup["chat"], contact_name="Per Hansen")
    b = factory.inbound(setup["chat"], contact_name="Per Hansen")
    matching.suggest_for_contact(b.contact_id)
    db.session.commit()
    (s,) = suggestions()
    login(factory.user(db.session.get(Tenant, other_tenant.id)))
    assert client.post(f"/contacts/matches/{s.id}/confirm").status_code == 404
    assert db.session.get(ContactMatchSuggestion, s.id).status is MatchStatus.PENDING
    assert db.session.get(Contact, a.contact_id).merged_into_id is None


def test_decisions_need_login_and_a_csrf_token(base_config, factory, setup) -> None:  # type: ignore[no-untyped-def]
    factory.inbound(setup["chat"], contact_name="Per Hansen")
    b = factory.inbound(setup["chat"], contact_name="Per Hansen")
    matching.suggest_for_contact(b.contact_id)
    db.session.commit()
    (s,) = suggestions()
    strict = make_app({**base_config, "WTF_CSRF_ENABLED": True})
    resp = strict.test_client().post(f"/contacts/matches/{s.id}/confirm")
    assert resp.status_code == 400  # CSRF token missing
    assert db.session.get(ContactMatchSuggestion, s.id).status is MatchStatus.PENDING
