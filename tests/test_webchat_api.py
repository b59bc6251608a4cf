"""The public web-chat API: tokens, signed-in visitors, limits, hours, and the citizen's tools."""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from flask_babel import refresh
from sqlalchemy import select

from channels.webchat import hours
from channels.webchat.identity import sign
from inbox.extensions import db
from inbox.models import (
    AuditEntry,
    ContactIdentity,
    Conversation,
    ConversationStatus,
    IdentityKind,
    InboundEvent,
    Message,
    Role,
    User,
)
from inbox.models.base import utcnow
from tests.conftest import run_inbound

SECRET_ENV = "TEST_WEBCHAT_IDENTITY_SECRET"
ALWAYS_CLOSED = {d: [] for d in hours.DAYS}


def _random_ip() -> str:
    return f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250)}"


@pytest.fixture
def chat(app, factory, client):  # type: ignore[no-untyped-def]
    # Each test is its own visitor address: with Redis, per-IP counters last the whole run.
    client.environ_base["REMOTE_ADDR"] = _random_ip()

    class Chat:
        app = client.application
        tenant = factory.tenant(chat_identity_secret_ref=SECRET_ENV)
        account = factory.channel(tenant)
        base = f"/api/chat/{account.external_id}"

        def token(self, **identity: object) -> str:
            resp = client.post(f"{self.base}/visitor", json=identity)
            assert resp.status_code == 201, resp.json
            return resp.json["token"]

        def send(  # type: ignore[no-untyped-def]
            self, token: str, body: str, client_id: str | None = None, *, store=True, **kw
        ):
            """POST a visitor message; with `store`, the inbound worker's batch runs after."""
            resp = client.post(
                f"{self.base}/messages",
                json={"body": body, "client_id": client_id or str(uuid.uuid4())},
                headers={"X-Chat-Token": token},
                **kw,
            )
            if store:
                run_inbound(app)
            return resp

        def get(self, token: str, path: str = "/messages"):  # type: ignore[no-untyped-def]
            return client.get(f"{self.base}{path}", headers={"X-Chat-Token": token})

    return Chat()


def test_anonymous_token_keeps_the_conversation_and_is_stored_hashed(chat):
    token = chat.token()
    assert chat.send(token, "Hei, første melding").status_code == 202
    assert chat.send(token, "Og en til").status_code == 202
    # A "page load" later: the same token sees both, another visitor sees nothing.
    assert [m["body"] for m in chat.get(token).json["messages"]] == [
        "Hei, første melding",
        "Og en til",
    ]
    assert chat.get(chat.token()).json["messages"] == []
    values = db.session.scalars(select(ContactIdentity.value)).all()
    assert token not in " ".join(values) and all(v.startswith("sha256:") for v in values)
    assert len(db.session.scalars(select(Conversation)).all()) == 1


def test_message_is_accepted_as_an_event_and_stored_by_the_worker(chat):
    token = chat.token()
    client_id = str(uuid.uuid4())
    resp = chat.send(token, "Hei, er det noen der?", client_id, store=False)
    # Answered once the raw event is stored: no message yet, the widget waits for its id.
    assert resp.status_code == 202, resp.json
    assert resp.json["message"]["client_id"] == client_id
    assert resp.json["message"]["pending"] is True
    events = db.session.scalars(select(InboundEvent)).all()
    assert [(e.kind, e.state.value) for e in events] == [("webchat", "pending")]
    assert token.encode() not in events[0].body  # the bearer token is never kept
    assert db.session.scalars(select(Message)).all() == []
    assert chat.get(token).json["messages"] == []

    assert run_inbound(chat.app) == 1  # the inbound worker's batch
    [stored] = chat.get(token).json["messages"]
    assert stored["body"] == "Hei, er det noen der?"
    assert stored["client_id"] == client_id and stored["from"] == "citizen"
    conv = db.session.scalars(select(Conversation)).one()
    assert conv.status is ConversationStatus.OPEN and conv.has_unread


def test_retried_client_id_stores_one_event_and_one_message(chat):
    token = chat.token()
    client_id = str(uuid.uuid4())
    first = chat.send(token, "Bare én gang", client_id, store=False)
    again = chat.send(token, "Bare én gang", client_id, store=False)
    assert first.status_code == again.status_code == 202
    assert first.json["message"]["client_id"] == again.json["message"]["client_id"]
    run_inbound(chat.app)
    # A retry after the message was stored is a duplicate too.
    assert chat.send(token, "Bare én gang", client_id).status_code == 202
    assert len(db.session.scalars(select(InboundEvent)).all()) == 1
    assert len(db.session.scalars(select(Message)).all()) == 1
    assert [m["client_id"] for m in chat.get(token).json["messages"]] == [client_id]


def test_two_visitors_with_the_same_client_id_both_get_their_message(chat):
    client_id = str(uuid.uuid4())
    first, second = chat.token(), chat.token()
    assert chat.send(first, "Fra den første", client_id, store=False).status_code == 202
    assert chat.send(second, "Fra den andre", client_id, store=False).status_code == 202
    run_inbound(chat.app)
    assert len(db.session.scalars(select(InboundEvent)).all()) == 2
    assert [m["body"] for m in chat.get(first).json["messages"]] == ["Fra den første"]
    assert [m["body"] for m in chat.get(second).json["messages"]] == ["Fra den andre"]


def test_signed_in_visitor_is_linked_to_the_citizen(chat, monkeypatch):
    monkeypatch.setenv(SECRET_ENV, "s3cret-of-the-municipality")
    ts = int(time.time())
    sig = sign("s3cret-of-the-municipality", "innbygger-42", ts)
    token = chat.token(user_id="innbygger-42", ts=ts, sig=sig)
    assert chat.send(token, "Hei fra innlogget").status_code == 202
    # A second browser of the same person lands on the same contact.
    token2 = chat.token(user_id="innbygger-42", ts=ts, sig=sig)
    assert chat.send(token2, "Fra mobilen").status_code == 202
    user_ident = db.session.scalars(
        select(ContactIdentity).where(ContactIdentity.kind == IdentityKind.CHAT_USER)
    ).one()
    assert user_ident.value == "innbygger-42"
    contacts = {m.contact_id for m in db.session.scalars(select(Message))}
    assert contacts == {user_ident.contact_id}


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"sig": "0" * 64}, 403, "identity_signature"),
        ({"user_id": "someone-else"}, 403, "identity_signature"),
        ({"ts": int(time.time()) - 7200}, 403, "identity_expired"),
        ({"ts": int(time.time()) + 3600}, 403, "identity_expired"),
        ({"sig": "not-hex"}, 400, "identity_invalid"),
        ({"user_id": "<script>"}, 400, "identity_invalid"),
    ],
)
def test_bad_signatures_are_refused_and_anonymous_still_works(
    chat, client, monkeypatch, change, status, code
):
    monkeypatch.setenv(SECRET_ENV, "s3cret")
    ts = int(time.time())
    claim = {"user_id": "innbygger-42", "ts": ts, "sig": sign("s3cret", "innbygger-42", ts)}
    if "ts" in change:  # an old or future signature, correctly signed
        claim = {"user_id": "innbygger-42", "ts": change["ts"]}
        claim["sig"] = sign("s3cret", "innbygger-42", change["ts"])
    else:
        claim.update(change)
    resp = client.post(f"{chat.base}/visitor", json=claim)
    assert resp.status_code == status
    assert resp.json["error"] == code and resp.json["message"]
    assert db.session.scalars(select(ContactIdentity)).all() == []
    # The widget falls back to an anonymous token.
    assert chat.send(chat.token(), "Anonymt").status_code == 202


def test_signed_in_visitor_without_a_configured_secret(chat, client, monkeypatch):
    monkeypatch.delenv(SECRET_ENV, raising=False)
    ts = int(time.time())
    resp = client.post(
        f"{chat.base}/visitor", json={"user_id": "a", "ts": ts, "sig": sign("x", "a", ts)}
    )
    assert resp.status_code == 403 and resp.json["error"] == "identity_not_configured"


@pytest.mark.parametrize(
    ("payload", "status", "error"),
    [
        ("not json", 400, "json"),
        ([1, 2], 400, "json"),
        ({"body": "hei", "client_id": "abcdefgh", "html": "<b>"}, 400, "json"),
        ({"body": "   ", "client_id": "abcdefgh"}, 400, "empty"),
        ({"body": 5, "client_id": "abcdefgh"}, 400, "empty"),
        ({"body": "hei", "client_id": "x"}, 400, "client_id"),
        ({"body": "hei\x00", "client_id": "abcdefgh"}, 400, "invalid"),
        ({"body": "x" * 5001, "client_id": "abcdefgh"}, 413, "too_long"),
    ],
)
def test_message_shape_and_size_are_checked(chat, client, payload, status, error):
    token = chat.token()
    kw = {"data": payload} if isinstance(payload, str) else {"json": payload}
    resp = client.post(f"{chat.base}/messages", headers={"X-Chat-Token": token}, **kw)
    assert resp.status_code == status and resp.json["error"] == error
    assert db.session.scalars(select(Message)).all() == []


def test_huge_request_and_missing_token_are_refused(chat, client):
    resp = client.post(
        f"{chat.base}/messages",
        data="{" + " " * 40000 + "}",
        headers={"X-Chat-Token": chat.token(), "Content-Type": "application/json"},
    )
    assert resp.status_code == 413 and resp.json["error"] == "too_large"
    resp = client.post(f"{chat.base}/messages", json={"body": "hei", "client_id": "abcdefgh"})
    assert resp.status_code == 401 and resp.json["error"] == "token"
    assert client.get("/api/chat/no-such-widget/status").status_code == 404


def test_citizen_html_is_kept_as_text(chat, login, factory, client):
    token = chat.token()
    chat.send(token, "<img src=x onerror=alert(1)>")
    assert chat.get(token).json["messages"][0]["body"] == "<img src=x onerror=alert(1)>"
    login(factory.user(chat.tenant))
    conv = db.session.scalars(select(Conversation)).one()
    page = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert "<img src=x" not in page and "&lt;img src=x" in page


def test_rate_limit_per_token(app, chat):
    app.config["WEBCHAT_LIMIT_POST_PER_TOKEN"] = "3/minute"
    token = chat.token()
    codes = [chat.send(token, f"melding {i}").status_code for i in range(4)]
    assert codes == [202, 202, 202, 429]
    resp = chat.send(token, "en til")
    assert resp.json["error"] == "rate_limited" and "for raskt" in resp.json["message"]
    assert int(resp.headers["Retry-After"]) > 0
    # Another visitor is not affected.
    assert chat.send(chat.token(), "annen besøkende").status_code == 202
    assert len(db.session.scalars(select(Message)).all()) == 4


def test_rate_limit_per_ip_across_visitors(app, chat):
    app.config["WEBCHAT_LIMIT_POST_PER_IP"] = "2/minute"
    ip = {
        "environ_base": {"REMOTE_ADDR": f"10.{secrets.randbelow(250)}.1.{secrets.randbelow(250)}"}
    }
    codes = [chat.send(chat.token(), "hei", **ip).status_code for _ in range(3)]
    assert codes == [202, 202, 429]
    assert chat.send(chat.token(), "fra en annen adresse").status_code == 202


def test_caseworker_reading_marks_messages_read(chat, client, factory, login):
    token = chat.token()
    chat.send(token, "Har dere lest dette?")
    [sent] = chat.get(token).json["messages"]
    assert sent["read"] is False
    assert chat.get(token).json["read_up_to"] == 0
    login(factory.user(chat.tenant))
    conv = db.session.scalars(select(Conversation)).one()
    client.get(f"/c/{conv.id}")
    data = chat.get(token).json
    assert data["read_up_to"] == sent["id"] and data["messages"][0]["read"] is True


def test_typing_indicator_from_the_inbox(app, chat, client, factory, login):
    token = chat.token()
    chat.send(token, "Hei")
    conv = db.session.scalars(select(Conversation)).one()
    login(factory.user(chat.tenant))
    url = f"/api/inbox/conversations/{conv.id}/typing"
    assert client.post(url, json={"typing": True}).json == {"typing": True, "supported": True}
    assert chat.get(token).json["typing"] is True
    assert client.post(url, json={"typing": False}).status_code == 200
    assert chat.get(token).json["typing"] is False
    assert client.post(url, json={"typing": "yes"}).status_code == 400
    # It expires by itself.
    app.config["WEBCHAT_TYPING_SECONDS"] = 0
    client.post(url, json={"typing": True})
    assert chat.get(token).json["typing"] is False


def test_typing_needs_a_member_of_the_tenant(chat, client, factory, login):
    token = chat.token()
    chat.send(token, "Hei")
    conv = db.session.scalars(select(Conversation)).one()
    url = f"/api/inbox/conversations/{conv.id}/typing"
    assert client.post(url, json={"typing": True}).status_code in (302, 401)
    login(factory.user(factory.tenant()))
    assert client.post(url, json={"typing": True}).status_code == 404


def test_stream_sends_messages_read_typing_and_ends(app, chat, client):
    app.config.update(WEBCHAT_STREAM_SECONDS=0.3, WEBCHAT_STREAM_POLL_SECONDS=0.05)
    token = chat.token()
    chat.send(token, "Første")
    [first] = chat.get(token).json["messages"]
    chat.send(token, "Andre")
    with client.get(
        f"{chat.base}/stream?after={first['id']}", headers={"X-Chat-Token": token}
    ) as resp:
        assert resp.status_code == 200 and resp.mimetype == "text/event-stream"
        text = resp.get_data(as_text=True)
    assert '"body": "Andre"' in text and '"body": "Første"' not in text
    for event in ("event: read_up_to", "event: typing", "event: availability", "event: end"):
        assert event in text
    assert client.get(f"{chat.base}/stream").status_code == 401


def test_opening_hours_with_a_fixed_clock(factory):
    tenant = factory.tenant(
        timezone="Europe/Oslo",
        opening_hours={
            "mon": [["08:00", "11:30"], ["12:00", "15:30"]],
            "sat": [],
            "dates": {"2026-12-24": []},
        },
    )
    oslo = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday 10:00 in Oslo (UTC+1)
    assert hours.is_open(tenant, oslo)
    assert not hours.is_open(tenant, oslo.replace(hour=10, minute=45))  # 11:45 lunch
    assert not hours.is_open(tenant, oslo.replace(hour=14, minute=30))  # 15:30 closed
    assert not hours.is_open(tenant, oslo + timedelta(days=1))  # Tuesday: not listed
    assert not hours.is_open(tenant, datetime(2026, 11, 28, 10, 0, tzinfo=UTC))  # Saturday
    summer = datetime(2026, 6, 1, 6, 30, tzinfo=UTC)  # Monday 08:30 in Oslo (UTC+2)
    assert hours.is_open(tenant, summer)
    assert hours.today_text(tenant, oslo) == "08:00–11:30, 12:00–15:30"
    tenant.opening_hours = {}
    assert hours.is_open(tenant, oslo)  # no hours configured: always open


def test_availability_needs_hours_and_a_caseworker_online(chat, client, factory, login):
    status = client.get(f"{chat.base}/status").json
    assert status == {
        "available": False,
        "open": True,
        "staff_online": False,
        "reason": "no_staff",
        "today": "",
    }
    caseworker = factory.user(chat.tenant, Role.CASEWORKER)
    login(caseworker)
    client.get("/")  # any page view counts as being online
    assert db.session.get(User, caseworker.id).last_seen_at is not None
    assert client.get(f"{chat.base}/status").json["available"] is True
    chat.tenant.opening_hours = ALWAYS_CLOSED
    db.session.commit()
    assert client.get(f"{chat.base}/status").json["reason"] == "closed"
    # Seen too long ago: not online.
    client.post("/logout")
    db.session.get(User, caseworker.id).last_seen_at = utcnow() - timedelta(hours=1)
    chat.tenant.opening_hours = {}
    db.session.commit()
    assert client.get(f"{chat.base}/status").json["reason"] == "no_staff"


def test_offline_message_asks_how_to_answer_and_lands_in_the_queue(chat, client, factory, login):
    chat.tenant.opening_hours = ALWAYS_CLOSED
    db.session.commit()
    token = chat.token()
    pref_url = f"{chat.base}/reply-preference"
    headers = {"X-Chat-Token": token}
    assert client.post(pref_url, json={"method": "chat"}, headers=headers).status_code == 409
    resp = chat.send(token, "Hei, dere har stengt")
    assert resp.status_code == 202
    assert resp.json["availability"]["reason"] == "closed"
    assert resp.json["ask_reply_preference"] is True
    bad = [
        ({"method": "fax"}, "invalid_method"),
        ({"method": "sms", "value": "123"}, "invalid_sms"),
        ({"method": "sms"}, "invalid_sms"),
        ({"method": "email", "value": "ikke-en-adresse"}, "invalid_email"),
        ({"method": "email", "value": "a@b.no", "x": 1}, "json"),
    ]
    for payload, error in bad:
        r = client.post(pref_url, json=payload, headers=headers)
        assert r.status_code == 400 and r.json["error"] == error and r.json["message"]
    r = client.post(pref_url, json={"method": "sms", "value": "912 34 567"}, headers=headers)
    assert r.json["reply_preference"] == {"method": "sms", "value": "+4791234567"}
    conv = db.session.scalars(select(Conversation)).one()
    assert conv.meta["reply_preference"]["value"] == "+4791234567"
    assert conv.meta["left_while_unavailable"] is True
    assert conv.status is ConversationStatus.OPEN and conv.has_unread
    # Once chosen, the next message does not ask again.
    assert chat.send(token, "En ting til").json["ask_reply_preference"] is False
    # It is in the caseworker's queue like any other.
    login(factory.user(chat.tenant))
    assert f"/c/{conv.id}" in client.get("/").get_data(as_text=True)


def test_download_my_conversation(chat, tasks, factory):
    from inbox.services.conversations import reply

    token = chat.token()
    chat.send(token, "Hva koster en parkeringstillatelse?")
    conv = db.session.scalars(select(Conversation)).one()
    user = factory.user(chat.tenant)
    reply(conv, user, "Den koster 300 kroner.")
    from inbox.services.conversations import add_note

    add_note(conv, user, "Intern: sjekk prislisten")
    db.session.commit()
    tasks.run_all()
    resp = chat.get(token, "/transcript")
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    assert resp.headers["Content-Disposition"].startswith("attachment; filename=")
    text = resp.get_data(as_text=True)
    assert "Hva koster en parkeringstillatelse?" in text and "Den koster 300 kroner." in text
    assert "Intern" not in text and user.name not in text
    assert "Hva koster" not in chat.get(chat.token(), "/transcript").get_data(as_text=True)


def test_end_chat(chat, client, factory, tasks):
    from inbox.services.conversations import reply

    answered, waiting = chat.token(), chat.token()
    chat.send(answered, "Spørsmål som blir besvart")
    chat.send(waiting, "Spørsmål uten svar ennå")
    conv_a = db.session.scalars(select(Conversation).order_by(Conversation.id)).first()
    reply(conv_a, factory.user(chat.tenant), "Svar")
    db.session.commit()
    tasks.run_all()
    for token in (answered, waiting):
        resp = client.post(f"{chat.base}/end", headers={"X-Chat-Token": token}, json={})
        assert resp.status_code == 200 and resp.json == {"ended": 1}
        # The token is forgotten: it no longer shows the conversation.
        assert chat.get(token).json["messages"] == []
    db.session.expire_all()
    conv_a, conv_w = db.session.scalars(select(Conversation).order_by(Conversation.id)).all()
    assert conv_a.status is ConversationStatus.CLOSED and conv_a.closed_at is not None
    # An unanswered question stays in the queue for staff.
    assert conv_w.status is ConversationStatus.OPEN and "ended_by_citizen_at" in conv_w.meta
    actions = db.session.scalars(select(AuditEntry.action)).all()
    assert actions.count("webchat.end") == 2


def test_chat_frame_headers_allow_embedding_only_where_configured(chat, client, factory):
    resp = client.get(f"/chat/{chat.account.external_id}?lang=en")
    assert resp.status_code == 200
    assert "frame-ancestors *" in resp.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in resp.headers
    assert 'lang="en"' in resp.get_data(as_text=True)
    assert "Access-Control-Allow-Origin" not in client.get(f"{chat.base}/status").headers
    acc = factory.channel(
        chat.tenant, config={"allowed_origins": ["https://www.eksempel.kommune.no"]}
    )
    csp = client.get(f"/chat/{acc.external_id}").headers["Content-Security-Policy"]
    assert "frame-ancestors https://www.eksempel.kommune.no" in csp
    js = client.get("/widget.js")
    assert js.headers["Access-Control-Allow-Origin"] == "*"
    refresh()  # the test shares one app context between requests; Babel caches the locale there
    nn = client.get(f"/chat/{chat.account.external_id}?lang=nn").get_data(as_text=True)
    assert "Meldinga di" in nn and "Avslutt chatten" in nn


def test_stream_cap_sends_the_widget_to_polling(app, chat, client):
    app.config.update(WEBCHAT_MAX_STREAMS=0)
    token = chat.token()
    resp = client.get(f"{chat.base}/stream", headers={"X-Chat-Token": token})
    assert resp.status_code == 503 and resp.json["error"] == "busy"
    assert chat.get(token).status_code == 200  # polling still works
    app.config.update(
        WEBCHAT_MAX_STREAMS=1, WEBCHAT_STREAM_SECONDS=0, WEBCHAT_STREAM_POLL_SECONDS=0
    )
    for _ in range(3):  # each finished stream gives its place back
        with client.get(f"{chat.base}/stream", headers={"X-Chat-Token": token}) as resp:
            assert resp.status_code == 200 and "event: end" in resp.get_data(as_text=True)


def test_documented_signature_example():
    # docs/webchat.md: echo -n 'innbygger-42:1795000000' | openssl dgst -sha256 -hmac 's3cret'
    assert sign("s3cret", "innbygger-42", 1795000000) == (
        "3d1de18f1354cd5fcb4773fb78093d7f8d454c4286e23418f42775a6bf0967b6"
    )


def test_typing_endpoint_requires_the_csrf_token(app, chat, client, factory, login):
    token = chat.token()
    chat.send(token, "Hei")
    conv = db.session.scalars(select(Conversation)).one()
    login(factory.user(chat.tenant))
    app.config["WTF_CSRF_ENABLED"] = True
    url = f"/api/inbox/conversations/{conv.id}/typing"
    assert client.post(url, json={"typing": True}).status_code == 400
    assert chat.get(token).json["typing"] is False
    page = client.get(f"/c/{conv.id}").get_data(as_text=True)
    csrf_token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    resp = client.post(url, json={"typing": True}, headers={"X-CSRFToken": csrf_token})
    assert resp.status_code == 200 and chat.get(token).json["typing"] is True
