"""Replies from the inbox through Instagram: direct messages through the linked page's Send
API within Meta's messaging window (HUMAN_AGENT after 24 hours, refused after 7 days), comment
replies under the top comment, read receipts, each send reaching the Graph API exactly once."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import ChannelAccount, Conversation, DeliveryStatus, Direction, Message, Role
from inbox.services import outbound as outbound_service
from tests.fakes.instagram import (
    FakeInstagramGraph,
    InstagramAccount,
    comment_value,
    comments_entry,
    dm_entry,
    dm_event,
)

IG = "17841400000000303"
PAGE = "104857600700303"
KARI = "17841455500000011"
MEDIA = "17895695668009999"
HOUR_MS = 3600 * 1000


@pytest.fixture
def fake():
    with FakeInstagramGraph(token="ig-send-token", app_secret="ig-send-secret") as fake:
        yield fake


@pytest.fixture
def account(factory, fake, monkeypatch):
    acc = InstagramAccount(factory, factory.tenant(), fake, monkeypatch, IG, PAGE)
    fake.add_ig_conversation(IG, KARI, "kari.nordmann")  # Meta knows the person
    return acc


@pytest.fixture
def caseworker(account, factory, login):
    user = factory.user(account.tenant, Role.CASEWORKER)
    login(user)
    return user


def citizen_writes(client, account, hours_ago: float, mid: str = "aWdf_in1"):  # type: ignore[no-untyped-def]
    ts = int(time.time() * 1000 - hours_ago * HOUR_MS)
    event = dm_event(IG, KARI, mid, "Hei, når hentes hageavfallet?", ts)
    assert account.deliver(client, [dm_entry(IG, event)]).status_code == 200
    return db.session.scalars(select(Conversation)).one()


def reply(client, conv, body="Det hentes på torsdag."):  # type: ignore[no-untyped-def]
    return client.post(f"/c/{conv.id}/reply", data={"body": body, "kind": "reply"})


def outbound() -> list[Message]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Message).where(Message.direction == Direction.OUTBOUND).order_by(Message.id)
        )
    )


def graph_posts(fake: FakeInstagramGraph) -> list:  # type: ignore[type-arg]
    return [r for r in fake.requests if r.method == "POST"]


def test_direct_message_reply_within_24_hours_reaches_the_page_once(
    client, account, fake, caseworker, tasks
):
    conv = citizen_writes(client, account, hours_ago=2)
    html = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert 'id="reply-window"' in html and 'id="reply-blocked"' not in html
    assert 'maxlength="1000"' in html
    reply(client, conv)
    tasks.run_all()
    (post,) = graph_posts(fake)
    assert post.path == f"/v21.0/{PAGE}/messages"  # through the linked page
    form = post.form()
    assert json.loads(form["recipient"]) == {"id": KARI}
    assert json.loads(form["message"]) == {"text": "Det hentes på torsdag."}
    assert form["messaging_type"] == "RESPONSE" and "tag" not in form
    assert form["appsecret_proof"] and fake.refused == []
    (msg,) = outbound()
    assert msg.delivery_status is DeliveryStatus.SENT
    assert msg.provider_message_id == "aWdfZAG1faXRlbTox1"

    # Sending it again (a redelivered task) does not reach Instagram a second time.
    assert outbound_service.send(msg.id)[0] != "sent"
    tasks.run_all()
    assert len(graph_posts(fake)) == 1

    # Instagram reports it read (messaging_seen: read.mid), and echoes it: nothing new stored.
    seen = {
        "sender": {"id": KARI},
        "recipient": {"id": IG},
        "timestamp": int(time.time() * 1000),
        "read": {"mid": "aWdfZAG1faXRlbTox1"},
    }
    echo = dm_event(IG, KARI, "aWdfZAG1faXRlbTox1", "Det hentes på torsdag.", 1)
    echo["sender"], echo["recipient"] = {"id": IG}, {"id": KARI}
    echo["message"]["is_echo"] = True
    account.deliver(client, [dm_entry(IG, echo, seen)])
    (msg,) = outbound()
    assert msg.delivery_status is DeliveryStatus.READ
    assert db.session.query(Message).count() == 2


def test_reply_after_24_hours_uses_the_human_agent_tag(client, account, fake, caseworker, tasks):
    conv = citizen_writes(client, account, hours_ago=3 * 24)
    html = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert 'id="reply-window"' in html
    reply(client, conv)
    tasks.run_all()
    (sent,) = fake.ig_sent
    assert sent["messaging_type"] == "MESSAGE_TAG" and sent["tag"] == "HUMAN_AGENT"
    assert fake.refused == [] and outbound()[0].delivery_status is DeliveryStatus.SENT


def test_reply_refused_after_7_days(client, account, fake, caseworker, tasks):
    conv = citizen_writes(client, account, hours_ago=8 * 24)
    html = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert 'id="reply-blocked"' in html
    assert "Instagram tillater bare svar på direktemeldinger inntil 7 dager" in html
    assert reply(client, conv).status_code == 303
    tasks.run_all()
    assert outbound() == [] and graph_posts(fake) == []


def test_too_long_for_instagram_is_failed_with_the_reason(client, account, fake, caseworker, tasks):
    conv = citizen_writes(client, account, hours_ago=1)
    reply(client, conv, "æ" * 600)  # 600 characters, 1200 bytes
    tasks.run_all()
    (msg,) = outbound()
    assert msg.delivery_status is DeliveryStatus.FAILED and msg.error_code == "too_long"
    assert graph_posts(fake) == []
    assert "1000 byte" in client.get(f"/c/{conv.id}").get_data(as_text=True)


def test_no_linked_page_means_no_direct_replies(client, account, fake, caseworker, tasks):
    conv = citizen_writes(client, account, hours_ago=1)
    acc = db.session.get(ChannelAccount, account.dms.id)
    acc.linked_page_id = None
    db.session.commit()
    html = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert 'id="reply-blocked"' in html and "Facebook-side" in html
    reply(client, conv)
    tasks.run_all()
    assert outbound() == [] and graph_posts(fake) == []


def test_comment_reply_goes_under_the_top_comment_once(client, account, fake, caseworker, tasks):
    media = fake.add_media(IG, MEDIA, "Ny lekeplass på Torget", time.time() - 3600)
    top_id, child_id = "17870913679150001", "17870913679150002"
    fake.add_comment(media, top_id, "Når åpner den?", KARI, "kari.nordmann", time.time() - 60)
    account.deliver(
        client,
        [
            comments_entry(
                IG,
                comment_value(top_id, MEDIA, "Når åpner den?", (KARI, "kari.nordmann")),
                comment_value(
                    child_id,
                    MEDIA,
                    "Lurer på det samme",
                    ("17841455500000012", "ola_n"),
                    parent_id=top_id,
                ),
            )
        ],
    )
    conv = db.session.scalars(select(Conversation)).one()
    reply(client, conv, "Den åpner 1. juni.")
    tasks.run_all()
    (post,) = graph_posts(fake)
    assert post.path == f"/v21.0/{top_id}/replies"  # the latest is a reply: under its top
    assert post.form()["message"] == "Den åpner 1. juni." and fake.refused == []
    (msg,) = outbound()
    assert msg.delivery_status is DeliveryStatus.SENT and msg.provider_parent_id == top_id
    assert media["comments"][0]["replies"][0]["id"] == msg.provider_message_id
    assert outbound_service.send(msg.id)[0] != "sent"
    assert len(graph_posts(fake)) == 1

    # Instagram then tells of the account's own comment: not a new inquiry.
    own = comment_value(msg.provider_message_id, MEDIA, "Den åpner 1. juni.", (IG, "kommunen"))
    own["parent_id"] = top_id
    account.deliver(client, [comments_entry(IG, own)])
    assert db.session.query(Message).count() == 3


def test_expired_page_token_stops_instagram_replies_with_an_alert(
    client, account, fake, caseworker, tasks
):
    conv = citizen_writes(client, account, hours_ago=1)
    fake.expired = True
    reply(client, conv)
    tasks.run_all()
    (msg,) = outbound()
    assert msg.delivery_status is DeliveryStatus.FAILED and msg.error_code == "190"
    acc = db.session.get(ChannelAccount, account.dms.id)
    assert acc.alert and account.refs["page_access_token"] in acc.alert
    html = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert 'id="reply-blocked"' in html


def test_window_closing_before_the_worker_sends_fails_with_a_norwegian_reason(
    client, account, fake, caseworker, tasks
):
    from datetime import timedelta

    conv = citizen_writes(client, account, hours_ago=1)
    reply(client, conv)
    conv = db.session.get(Conversation, conv.id)
    conv.last_inbound_at = conv.last_inbound_at - timedelta(days=8)  # the queue was slow
    db.session.commit()
    tasks.run_all()
    (msg,) = outbound()
    assert msg.delivery_status is DeliveryStatus.FAILED and msg.error_code == "window"
    assert "Instagram tillater bare svar" in msg.error_message
    assert graph_posts(fake) == []


def test_the_fake_refuses_what_the_graph_api_documents_as_wrong(app, account, fake):
    """The fake is strict: a tag Instagram does not take, text over 1000 bytes, a field IG
    Comment does not have, or a reply to a comment that does not exist are refused."""
    from channels.meta.graph import GraphClient, GraphError

    media = fake.add_media(IG, MEDIA, "Bilde", time.time())
    fake.add_comment(media, "17870000000009001", "Hei", KARI, "kari", time.time())
    graph = GraphClient(db.session.get(ChannelAccount, account.dms.id))
    recipient = json.dumps({"id": KARI})
    wrong = [
        lambda: graph.post(
            f"{PAGE}/messages",
            recipient=recipient,
            message=json.dumps({"text": "x"}),
            messaging_type="MESSAGE_TAG",
            tag="CONFIRMED_EVENT_UPDATE",
        ),
        lambda: graph.post(
            f"{PAGE}/messages", recipient=recipient, message=json.dumps({"text": "ø" * 501})
        ),
        lambda: graph.get(f"{MEDIA}/comments", fields="id,message"),
        lambda: graph.post("17870000000000404/replies", message="Hei"),
    ]
    for call in wrong:
        with pytest.raises(GraphError) as err:
            call()
        assert err.value.kind == "permanent" and err.value.code == 100
    assert len(fake.refused) == 3
