"""Replies from the inbox through Facebook: the Messenger windows, comment replies, statuses,
an expired token and an outage."""

from __future__ import annotations

import json
import re
import time

import pytest
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import ChannelAccount, Conversation, DeliveryStatus, Direction, Message, Role
from tests.fakes.facebook import (
    FakeGraph,
    Page,
    comment_value,
    feed_entry,
    messaging_entry,
    text_event,
)

PAGE = "104857600654321"
POST = f"{PAGE}_777"
HOUR_MS = 3600 * 1000


@pytest.fixture
def fake():
    with FakeGraph(token="page-token-2", app_secret="app-secret-2") as fake:
        yield fake


@pytest.fixture
def page(factory, fake, monkeypatch):
    return Page(factory, factory.tenant(), fake, monkeypatch, PAGE)


@pytest.fixture
def caseworker(page, factory, login):
    user = factory.user(page.tenant, Role.CASEWORKER)
    login(user)
    return user


def citizen_writes(client, page, hours_ago: float, mid: str = "m_in1", psid: str = "31337"):  # type: ignore[no-untyped-def]
    ts = int(time.time() * 1000 - hours_ago * HOUR_MS)
    event = text_event(PAGE, psid, mid, "Hei, når kommer brøytebilen?", ts)
    assert page.deliver(client, [messaging_entry(PAGE, event)]).status_code == 200
    return db.session.scalars(select(Conversation)).one()


def reply(client, conv, body="Den kommer i morgen tidlig."):  # type: ignore[no-untyped-def]
    return client.post(f"/c/{conv.id}/reply", data={"body": body, "kind": "reply"})


def outbound() -> list[Message]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Message).where(Message.direction == Direction.OUTBOUND).order_by(Message.id)
        )
    )


def test_reply_within_24_hours(client, page, fake, caseworker, tasks):
    conv = citizen_writes(client, page, hours_ago=2)
    html = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert 'id="reply-window"' in html and 'id="reply-blocked"' not in html
    reply(client, conv)
    tasks.run_all()
    (sent,) = fake.sent
    assert json.loads(sent["recipient"]) == {"id": "31337"}
    assert json.loads(sent["message"]) == {"text": "Den kommer i morgen tidlig."}
    assert sent["messaging_type"] == "RESPONSE" and "tag" not in sent
    (msg,) = outbound()
    assert msg.delivery_status is DeliveryStatus.SENT and msg.provider_message_id == "m_out1"
    # The version we configured, and an appsecret_proof, were used.
    post = next(r for r in fake.requests if r.method == "POST")
    assert post.path == f"/v21.0/{PAGE}/messages"

    # Meta echoes our message, then reports delivery and reading (read arrives first here).
    t = int(time.time() * 1000) + 5000
    echo = {
        "sender": {"id": PAGE},
        "recipient": {"id": "31337"},
        "timestamp": t,
        "message": {"mid": "m_out1", "text": "Den kommer i morgen tidlig.", "is_echo": True},
    }
    read = {"sender": {"id": 31337}, "recipient": {"id": PAGE}, "read": {"watermark": t}}
    delivery = {
        "sender": {"id": "31337"},
        "recipient": {"id": PAGE},
        "delivery": {"mids": ["m_out1"], "watermark": t},
    }
    page.deliver(client, [messaging_entry(PAGE, echo, read)])
    page.deliver(client, [messaging_entry(PAGE, delivery)])
    (msg,) = outbound()
    assert msg.delivery_status is DeliveryStatus.READ  # a late delivery never moves it back
    assert db.session.query(Message).count() == 2  # the echo stored nothing


def test_delivery_by_mid_then_read(client, page, fake, caseworker, tasks):
    conv = citizen_writes(client, page, hours_ago=1)
    reply(client, conv)
    tasks.run_all()
    delivery = {
        "sender": {"id": "31337"},
        "recipient": {"id": PAGE},
        "delivery": {"mids": ["m_out1"], "watermark": 1},
    }
    page.deliver(client, [messaging_entry(PAGE, delivery)])
    assert outbound()[0].delivery_status is DeliveryStatus.DELIVERED
    html = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert "delivered" in html or "Levert" in html or "levert" in html


def test_reply_after_24_hours_uses_human_agent_tag(client, page, fake, caseworker, tasks):
    conv = citizen_writes(client, page, hours_ago=3 * 24)
    html = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert 'id="reply-window"' in html
    reply(client, conv)
    tasks.run_all()
    (sent,) = fake.sent
    assert sent["messaging_type"] == "MESSAGE_TAG" and sent["tag"] == "HUMAN_AGENT"
    assert outbound()[0].delivery_status is DeliveryStatus.SENT


def test_reply_refused_after_7_days(client, page, fake, caseworker, tasks):
    conv = citizen_writes(client, page, hours_ago=8 * 24)
    html = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert 'id="reply-blocked"' in html
    assert "7 dager" in html  # explained in Norwegian
    resp = reply(client, conv)
    assert resp.status_code == 303
    html = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert "7 dager" in html
    assert outbound() == [] and fake.sent == [] and tasks.sent == []


def test_comment_reply(client, page, fake, caseworker, tasks):
    top, child = f"{POST}_1", f"{POST}_2"
    page.deliver(
        client,
        [
            feed_entry(
                PAGE,
                comment_value("add", POST, top, "Hvorfor er veien stengt?"),
                comment_value(
                    "add", POST, child, "Ja, hvorfor?", parent_id=top, sender=("42", "Per")
                ),
            )
        ],
    )
    conv = db.session.scalars(select(Conversation)).one()
    reply(client, conv, "Veien er stengt på grunn av ras.")
    tasks.run_all()
    (sent,) = fake.sent
    # The latest comment is a reply, so ours goes under its top comment (two levels deep).
    assert sent["comment_id"] == top and sent["message"] == "Veien er stengt på grunn av ras."
    (msg,) = outbound()
    assert msg.delivery_status is DeliveryStatus.SENT
    assert msg.provider_parent_id == top and msg.provider_message_id.startswith(PAGE)

    # Facebook then tells us about the page's own comment: not a new inquiry.
    own = comment_value(
        "add",
        POST,
        msg.provider_message_id,
        "Veien er stengt...",
        parent_id=top,
        sender=(PAGE, "Kommunen"),
    )
    page.deliver(client, [feed_entry(PAGE, own)])
    assert db.session.query(Message).count() == 3


def test_no_comment_left_to_answer(client, page, fake, caseworker, tasks):
    cid = f"{POST}_9"
    page.deliver(client, [feed_entry(PAGE, comment_value("add", POST, cid, "Hei"))])
    page.deliver(client, [feed_entry(PAGE, comment_value("remove", POST, cid))])
    conv = db.session.scalars(select(Conversation)).one()
    reply(client, conv)
    assert outbound() == [] and fake.sent == []


def test_expired_token_raises_admin_alert_and_stops_sending(
    client, page, fake, factory, caseworker, tasks, login
):
    conv = citizen_writes(client, page, hours_ago=1)
    fake.expired = True
    reply(client, conv)
    tasks.run_all()
    (msg,) = outbound()
    assert msg.delivery_status is DeliveryStatus.FAILED and msg.error_code == "190"
    account = db.session.get(ChannelAccount, page.messenger.id)
    assert account.alert and page.refs["page_access_token"] in account.alert
    calls = len(fake.requests)

    # The reply box explains; a further reply is refused without calling Facebook.
    html = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert 'id="reply-blocked"' in html
    assert reply(client, conv).status_code == 303
    tasks.run_all()
    assert len(fake.requests) == calls

    # Admins see the banner on every page.
    client.post("/logout")
    admin = factory.user(page.tenant, Role.ADMIN)
    login(admin)
    html = client.get("/").get_data(as_text=True)
    assert f'id="channel-alert-{account.id}"' in html

    # A new token lifts the alert and replies go out again.
    page.replace_token("page-token-new")
    assert 'id="reply-blocked"' not in client.get(f"/c/{conv.id}").get_data(as_text=True)
    reply(client, conv, "Nå virker det.")
    tasks.run_all()
    assert outbound()[-1].delivery_status is DeliveryStatus.SENT
    assert db.session.get(ChannelAccount, page.messenger.id).alert is None
    assert f'id="channel-alert-{account.id}"' not in client.get("/").get_data(as_text=True)


def test_outage_then_recovery_retries_the_send(client, page, fake, caseworker, tasks, app):
    from inbox.services import outbound as outbound_service

    conv = citizen_writes(client, page, hours_ago=1)
    fake.fail_next(1, 503)
    reply(client, conv)
    msg_id = outbound()[0].id
    result = outbound_service.send(msg_id)
    assert result[0] == "retry" and result[1] > 0
    assert outbound()[0].delivery_status is DeliveryStatus.QUEUED
    assert outbound_service.send(msg_id)[0] == "sent"
    assert len(fake.sent) == 1 and outbound()[0].provider_message_id == "m_out1"


def test_permanent_graph_error_fails_without_retry(client, page, fake, caseworker, tasks):
    from tests.fakes.facebook import graph_error

    conv = citizen_writes(client, page, hours_ago=1)
    unavailable = graph_error(551, "This person isn't available right now.")
    fake.routes.insert(
        0, ("POST", re.compile(rf"/v21.0/{PAGE}/messages$"), lambda request, match: unavailable)
    )
    reply(client, conv)
    tasks.run_all()
    (msg,) = outbound()
    assert msg.delivery_status is DeliveryStatus.FAILED and msg.error_code == "551"
    assert "isn't available" in msg.error_message and msg.send_attempts == 1
    assert db.session.get(ChannelAccount, page.messenger.id).alert is None
    html = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert "available right now" in html
