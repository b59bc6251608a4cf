"""Crafted input on every public endpoint: a clear 4xx or a cleaned, stored message, never a
500, and a bad event in a batch never costs the good ones (issue 13, "Hostile input")."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from flask import current_app
from sqlalchemy import func, select

from channels.interfaces import InvalidPayload
from channels.validation import TRUNCATED_MARK
from channels.wordpress.items import parse_item
from inbox.extensions import db
from inbox.models import Attachment, ChannelKind, Contact, InboundEvent, Message
from tests.conftest import run_inbound
from tests.fakes.facebook import (
    FakeGraph,
    Page,
    comment_value,
    feed_entry,
    messaging_entry,
    text_event,
)
from tests.sms_support import sms_setup

PAGE = "104857600777001"
POST = f"{PAGE}_555001"
DEEP = ("[" * 1500 + "]" * 1500).encode()


def now_ms() -> int:
    return int(time.time() * 1000)


def messages() -> list[Message]:
    """What is stored once the inbound worker has run the webhooks' events."""
    run_inbound(current_app._get_current_object())  # type: ignore[attr-defined]
    db.session.expire_all()
    return list(db.session.scalars(select(Message).order_by(Message.id)))


# --- web chat --------------------------------------------------------------------------


@pytest.fixture
def chat(factory, client):  # type: ignore[no-untyped-def]
    client.environ_base["REMOTE_ADDR"] = "10.13.0.1"
    account = factory.channel(factory.tenant())
    base = f"/api/chat/{account.external_id}"
    token = client.post(f"{base}/visitor", json={}).get_json()["token"]
    return base, {"X-Chat-Token": token}


@pytest.mark.parametrize("endpoint", ["visitor", "messages", "reply-preference"])
def test_chat_api_answers_deeply_nested_json_with_400(client, chat, endpoint) -> None:  # type: ignore[no-untyped-def]
    base, headers = chat
    resp = client.post(
        f"{base}/{endpoint}", data=DEEP, content_type="application/json", headers=headers
    )
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "json"


def test_lone_surrogate_in_a_chat_message_is_stored_replaced(client, chat) -> None:  # type: ignore[no-untyped-def]
    base, headers = chat
    raw = b'{"body": "hei \\ud800 der", "client_id": "abcdefgh1"}'
    resp = client.post(
        f"{base}/messages", data=raw, content_type="application/json", headers=headers
    )
    assert resp.status_code == 202
    run_inbound(client.application)
    assert messages()[-1].body == "hei \ufffd der"


@pytest.mark.parametrize("path", ["/chat/%00", "/api/chat/%00/status", "/demo/%00", "/chat/a%01b"])
def test_control_characters_in_a_path_are_not_found(client, path) -> None:  # type: ignore[no-untyped-def]
    assert client.get(path).status_code == 404


def test_demo_page_is_off_in_production(app, factory, client) -> None:  # type: ignore[no-untyped-def]
    tenant = factory.tenant()
    factory.channel(tenant)
    assert client.get(f"/demo/{tenant.slug}").status_code == 200
    app.config["DEMO_PAGE"] = False  # what production mode sets unless asked otherwise
    assert client.get(f"/demo/{tenant.slug}").status_code == 404


def test_demo_page_defaults_to_off_in_production_mode(base_config) -> None:  # type: ignore[no-untyped-def]
    from inbox.config import DEFAULTS, _fill_defaults

    class Fake:
        instance_path = base_config["INSTANCE_PATH"]
        config = {**DEFAULTS, **base_config, "MODE": "production"}

    _fill_defaults(Fake)  # type: ignore[arg-type]
    assert Fake.config["DEMO_PAGE"] is False


# --- Facebook --------------------------------------------------------------------------


@pytest.fixture
def page(factory, monkeypatch):  # type: ignore[no-untyped-def]
    with FakeGraph(token="page-token-h", app_secret="app-secret-h") as fake:
        yield Page(factory, factory.tenant(), fake, monkeypatch, PAGE)


def test_nul_and_a_huge_messenger_text_are_cleaned_and_cut(app, client, page) -> None:  # type: ignore[no-untyped-def]
    huge = "x" * (1024 * 1024)
    resp = page.deliver(
        client,
        [
            messaging_entry(
                PAGE,
                text_event(PAGE, "9001", "m_nul", "hei\x00 der", now_ms()),
                text_event(PAGE, "9001", "m_huge", huge, now_ms()),
            )
        ],
    )
    assert resp.status_code == 200
    nul, big = messages()
    assert nul.body == "hei der"
    limit = app.config["MAX_MESSAGE_CHARS"]
    assert len(big.body) == limit and big.body.endswith(TRUNCATED_MARK)


@pytest.mark.parametrize("stamp", [1e400, 10**30, -5, "1790000000", True])
def test_implausible_timestamps_mean_received_now(client, page, stamp) -> None:  # type: ignore[no-untyped-def]
    event = {"sender": {"id": "9002"}, "timestamp": "STAMP", "message": {"mid": "m_t"}}
    body = json.dumps({"object": "page", "entry": [{"id": PAGE, "messaging": [event]}]})
    # json.dumps cannot write 1e400 (it is inf once parsed): put the literal in by hand.
    raw = body.replace('"STAMP"', "1e400" if stamp == 1e400 else json.dumps(stamp)).encode()
    before = time.time()
    resp = client.post(
        f"/webhooks/facebook/{PAGE}",
        data=raw,
        content_type="application/json",
        headers={"X-Hub-Signature-256": page.sign(raw)},
    )
    assert resp.status_code == 200
    (msg,) = messages()
    assert msg.sent_at.timestamp() >= before - 1


def test_a_bad_event_is_refused_alone_and_the_good_ones_stored(client, page) -> None:  # type: ignore[no-untyped-def]
    bad_sender = text_event(PAGE, "9003", "m_bad", "nope", now_ms())
    bad_sender["sender"] = "9003"  # not an object
    long_type = text_event(PAGE, "9004", "m_att", "", now_ms())
    long_type["message"]["attachments"] = [
        {"type": "t" * 300, "payload": {"url": "https://cdn.example/x.jpg"}}
    ]
    long_name = comment_value("add", POST, f"{POST}_1", "ok", sender=("777", "N" * 300))
    nul_comment = comment_value("add", POST, f"{POST}_2", "kom\x00mentar", created=10**30)
    resp = page.deliver(
        client,
        [
            messaging_entry(
                PAGE,
                bad_sender,
                text_event(PAGE, "9005", "m_good", "god", now_ms()),
                long_type,
            ),
            feed_entry(PAGE, long_name, nul_comment),
            {"id": {"not": "an id"}, "messaging": []},
        ],
    )
    assert resp.status_code == 200
    stored = {m.provider_message_id: m for m in messages()}
    assert set(stored) == {"m_good", "m_att", f"{POST}_1", f"{POST}_2"}
    att = db.session.scalar(select(Attachment))
    assert att.filename == "file-1" and len(att.filename) <= 255
    name = db.session.get(Contact, stored[f"{POST}_1"].contact_id).name
    assert name is not None and len(name) <= 200
    assert stored[f"{POST}_2"].body == "kommentar"


def test_a_disabled_messenger_account_answers_nothing_and_stores_nothing(client, page) -> None:  # type: ignore[no-untyped-def]
    page.messenger.enabled = False
    page.comments.enabled = False
    db.session.commit()
    verify = client.get(
        f"/webhooks/facebook/{PAGE}",
        query_string={
            "hub.mode": "subscribe",
            "hub.verify_token": "verify-me-please",
            "hub.challenge": "42",
        },
    )
    assert verify.status_code == 404
    resp = page.deliver(
        client, [messaging_entry(PAGE, text_event(PAGE, "9006", "m_off", "hei", now_ms()))]
    )
    assert resp.status_code == 404
    assert messages() == []


def test_messenger_disabled_but_comments_enabled_stores_only_comments(client, page) -> None:  # type: ignore[no-untyped-def]
    page.messenger.enabled = False
    db.session.commit()
    resp = page.deliver(
        client,
        [
            messaging_entry(PAGE, text_event(PAGE, "9007", "m_off2", "hei", now_ms())),
            feed_entry(PAGE, comment_value("add", POST, f"{POST}_9", "kommentar")),
        ],
    )
    assert resp.status_code == 200
    assert [m.channel_account_id for m in messages()] == [page.comments.id]


def test_a_payload_that_is_not_a_page_webhook_is_400(client, page) -> None:  # type: ignore[no-untyped-def]
    for raw in (b'{"object": "page", "entry": "x"}', b"[1]", DEEP, b'{"object": NaN}'):
        resp = client.post(
            f"/webhooks/facebook/{PAGE}",
            data=raw,
            content_type="application/json",
            headers={"X-Hub-Signature-256": page.sign(raw)},
        )
        assert resp.status_code == 400, raw[:40]
        assert resp.get_json()["error"] == "payload"


# --- Twilio SMS --------------------------------------------------------------------------


@pytest.fixture
def sms(app, factory, monkeypatch):  # type: ignore[no-untyped-def]
    with sms_setup(app, factory, monkeypatch) as sms:
        yield sms


def test_nul_and_a_100000_character_sms_are_cleaned_and_cut(app, sms) -> None:  # type: ignore[no-untyped-def]
    assert sms.inbound("hei\x00 der").status_code == 200
    assert sms.inbound("y" * 100_000).status_code == 200
    nul, big = sms.messages()
    assert nul.body == "hei der"
    assert len(big.body) == app.config["MAX_MESSAGE_CHARS"]
    assert big.body.endswith(TRUNCATED_MARK)


def test_sms_form_fields_with_control_characters_are_not_stored(sms) -> None:  # type: ignore[no-untyped-def]
    resp = sms.inbound(
        "hei",
        MessagingServiceSid="MG\x00" + "0" * 30,
        NumSegments="1\x00",
        NumMedia="1",
        MediaUrl0="https://api.twilio.com/x\x00y",
        MediaContentType0="image/jpeg\x00",
    )
    assert resp.status_code == 200
    (msg,) = sms.messages()
    assert "\x00" not in json.dumps(msg.meta)
    assert "MessagingServiceSid" not in msg.meta and "pending_media" not in msg.meta


def test_a_status_callback_with_a_bad_error_code_is_not_stored_as_is(sms, factory) -> None:  # type: ignore[no-untyped-def]
    from tests.sms_support import CITIZEN  # noqa: F401 - the conversation's number

    resp = sms.post(
        sms.path("status"),
        {"MessageSid": "SM" + "1" * 32, "MessageStatus": "failed", "ErrorCode": "3\x00" * 20},
    )
    assert resp.status_code == 200
    bad = sms.post(sms.path("status"), {"MessageSid": "nope"})
    assert bad.status_code == 400 and bad.get_json()["error"] == "payload"


@pytest.mark.parametrize("query", ["m=%00", "m=12abc", "m=", "a=%00", "a=-1", "m=1&a=x"])
def test_a_status_callback_whose_url_ids_are_not_numbers_is_refused(sms, query) -> None:  # type: ignore[no-untyped-def]
    """The status callback URL carries our ids (`m` a reply, `a` an alert recipient). Signed
    with the account's token but not a number: a clear 400, nothing stored (a NUL byte in
    the event's key made PostgreSQL refuse the insert, and the webhook answered 500)."""
    form = {"MessageSid": "SM" + "2" * 32, "MessageStatus": "delivered"}
    resp = sms.post(f"{sms.path('status')}?{query}", form)
    assert resp.status_code == 400 and resp.get_json()["error"] == "payload"
    assert db.session.scalar(select(func.count()).select_from(InboundEvent)) == 0
    assert sms.post(f"{sms.path('status')}?m=7", form).status_code == 200


# --- the signed comment webhook --------------------------------------------------------

SECRET = "hostile-comment-secret"


@pytest.fixture
def source(factory, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HOSTILE_COMMENTS_SECRET", SECRET)
    return factory.channel(
        factory.tenant(),
        ChannelKind.WEB_COMMENTS,
        config={"source": "webhook"},
        secret_refs={"webhook_secret": "HOSTILE_COMMENTS_SECRET"},
    )


def comment(**kw: Any) -> dict[str, Any]:
    data = {
        "id": "c-1",
        "page_url": "https://www.example.kommune.no/horing",
        "author": {"name": "Kari"},
        "body": "Hei",
        "created_at": "2026-11-20T11:15:00+01:00",
    }
    data.update(kw)
    return data


def post_comment(client, account, raw: bytes):  # type: ignore[no-untyped-def]
    sig = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return client.post(
        f"/webhooks/comments/{account.id}",
        data=raw,
        headers={"X-Servicetorg-Signature": sig, "Content-Type": "application/json"},
    )


@pytest.mark.parametrize(
    "created", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "1970-01-01T00:00:00Z"]
)
def test_comment_created_at_out_of_range_is_400(client, source, created) -> None:  # type: ignore[no-untyped-def]
    resp = post_comment(client, source, json.dumps(comment(created_at=created)).encode())
    assert resp.status_code == 400
    assert resp.get_json()["field"] == "created_at"
    assert messages() == []


def test_long_comment_is_cut_with_a_mark_and_surrogates_replaced(app, client, source) -> None:  # type: ignore[no-untyped-def]
    raw = json.dumps(comment(body="z" * 20_000)).encode()
    assert post_comment(client, source, raw).status_code == 202
    raw = json.dumps(comment(id="c-2", body="a\ud800b")).encode()  # escaped as \ud800
    assert post_comment(client, source, raw).status_code == 202
    long, surrogate = messages()
    assert len(long.body) == app.config["MAX_MESSAGE_CHARS"]
    assert long.body.endswith(TRUNCATED_MARK)
    assert surrogate.body == "a\ufffdb"


def test_deeply_nested_comment_json_is_400(client, source) -> None:  # type: ignore[no-untyped-def]
    resp = post_comment(client, source, DEEP)
    assert resp.status_code == 400 and resp.get_json()["error"] == "json"


# --- WordPress comment items -----------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"id": "abc"},
        {"id": None},
        {"post": -1},
        {"content": ["x"]},
        {"content": {"rendered": 5}},
        "not an object",
    ],
)
def test_a_malformed_wordpress_item_is_invalid(change) -> None:  # type: ignore[no-untyped-def]
    good = {"id": 5, "post": 11, "content": {"rendered": "<p>hei</p>"}, "date_gmt": "2026-01-01"}
    item = change if isinstance(change, str) else {**good, **change}
    with pytest.raises(InvalidPayload):
        parse_item(item)


def test_wordpress_item_text_is_cleaned() -> None:
    item = parse_item(
        {
            "id": 7,
            "post": 11,
            "author_name": "K\x00ari " + "N" * 300,
            "content": {"rendered": "<p>hei\x00 der</p>"},
            "date_gmt": "0001-01-01T00:00:00",
            "link": "https://example.no/a b",
        }
    )
    assert item.comment.body == "hei der"
    assert len(item.comment.author_name or "") <= 200
    assert item.comment.created_at is None and item.comment.page_url is None


def test_a_malformed_wordpress_item_is_skipped_and_the_rest_of_the_page_stored(
    factory, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from channels.registry import get_connector
    from inbox.models import ChannelAccount
    from tests.fakes.wordpress import FakeWordPress

    with FakeWordPress() as wp:
        wp.add_post(11, "Høring")
        monkeypatch.setenv("WP_HOSTILE_USER", wp.user)
        monkeypatch.setenv("WP_HOSTILE_PASSWORD", "abcd EFGH 1234 ijkl")
        site = factory.channel(
            factory.tenant(),
            ChannelKind.WEB_COMMENTS,
            config={"source": "wordpress", "api_root": f"{wp.url}/wp-json"},
            secret_refs={"user": "WP_HOSTILE_USER", "app_password": "WP_HOSTILE_PASSWORD"},
        )
        first = wp.add_comment(11, "<p>Første</p>")
        broken = wp.add_comment(11, "<p>Ødelagt</p>")
        wp.add_comment(11, "<p>Tredje\x00</p>", author_name="N" * 400)
        for c in wp.comments:
            if c["id"] == broken:
                c["content"] = ["not", "an", "object"]
                c["post"] = "elleve"
        stored = get_connector(site.kind).poll(db.session.get(ChannelAccount, site.id))
        assert stored == 2
        bodies = [m.body for m in messages()]
        assert bodies == ["Første", "Tredje"]
        assert str(first) in {m.provider_message_id for m in messages()}
