"""Pull through the Graph API: paging, the saved cursor, overlap with push, an expired token
and an outage followed by recovery."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from channels.registry import get_connector
from inbox.extensions import db
from inbox.models import ChannelAccount, Conversation, Message
from tests.fakes.facebook import (
    FakeGraph,
    Page,
    comment_value,
    fb_time,
    feed_entry,
    messaging_entry,
    text_event,
)

PAGE = "104857600999888"


@pytest.fixture
def fake():
    with FakeGraph(token="page-token-3", app_secret="app-secret-3", page_size=2) as fake:
        yield fake


@pytest.fixture
def page(factory, fake, monkeypatch):
    return Page(factory, factory.tenant(), fake, monkeypatch, PAGE)


def poll(account: ChannelAccount) -> int:
    account = db.session.get(ChannelAccount, account.id)
    stored = get_connector(account.kind).poll(account)
    db.session.commit()
    return stored


def bodies() -> list[str]:
    db.session.expire_all()
    return sorted(m.body for m in db.session.scalars(select(Message)))


def add_messages(fake: FakeGraph, conv: dict, psid: str, texts: list[str], start: float) -> None:  # type: ignore[type-arg]
    for i, text in enumerate(texts):
        conv["messages"].insert(
            0,
            {
                "id": f"m_{psid}_{i}",
                "message": text,
                "from": {"id": psid, "name": "Innbygger"},
                "created_time": fb_time(start + i * 60),
            },
        )


def test_messenger_pull_pages_through_and_overlaps_push(client, page, fake):
    now = time.time()
    # Three citizens (two pages of conversations); one has five messages (three pages).
    for n, psid in enumerate(("111", "222", "333")):
        conv = fake.add_conversation(PAGE, psid, f"Innbygger {n}")
        texts = [f"{psid} melding {i}" for i in range(5 if psid == "111" else 1)]
        add_messages(fake, conv, psid, texts, now - 3600)
    # Our own reply in a conversation is not an inbound message.
    fake.conversations[PAGE][0]["messages"].insert(
        0,
        {
            "id": "m_page_1",
            "message": "Svar fra kommunen",
            "from": {"id": PAGE, "name": "Kommunen"},
            "created_time": fb_time(now - 60),
        },
    )
    # The webhook already delivered one of them (same provider id).
    pushed = text_event(PAGE, "111", "m_111_2", "111 melding 2", int((now - 3480) * 1000))
    page.deliver(client, [messaging_entry(PAGE, pushed)])

    assert poll(page.messenger) == 6
    expected = sorted([f"111 melding {i}" for i in range(5)] + ["222 melding 0", "333 melding 0"])
    assert bodies() == expected
    assert db.session.query(Conversation).count() == 3
    cursor = db.session.get(ChannelAccount, page.messenger.id).poll_cursor["since"]
    assert cursor >= int(now - 3600 + 4 * 60)

    # A later push of one the poll fetched, and the next poll: still one of each.
    again = text_event(PAGE, "222", "m_222_0", "222 melding 0", int((now - 3600) * 1000))
    page.deliver(client, [messaging_entry(PAGE, again)])
    assert poll(page.messenger) == 0
    assert bodies() == expected
    conv = db.session.scalars(
        select(Conversation).where(Conversation.meta["psid"].as_string() == "333")
    ).one()
    assert conv.contact.name == "Innbygger 2"
    # appsecret_proof on every call, and the configured version in every path.
    gets = [r for r in fake.requests if r.method == "GET"]
    assert gets and all(r.query.get("appsecret_proof") for r in gets)
    assert all(r.path.startswith("/v21.0/") for r in gets)


def test_feed_pull_with_comment_paging(client, page, fake):
    now = time.time()
    post = fake.add_post(PAGE, f"{PAGE}_1", "Vegarbeid i sentrum", now - 86400)
    other = fake.add_post(PAGE, f"{PAGE}_2", "Nytt bibliotek", now - 7200)
    fake.add_post(PAGE, f"{PAGE}_3", "Ingen kommentarer", now - 3600)
    for i in range(3):
        post["comments"].append(
            {
                "id": f"{PAGE}_1_{i}",
                "message": f"Kommentar {i} om vegarbeid",
                "from": {"id": f"90{i}", "name": f"Person {i}"},
                "created_time": fb_time(now - 3000 + i),
            }
        )
    other["comments"].append(
        {
            "id": f"{PAGE}_2_0",
            "message": "Når åpner det?",
            "from": {"id": "900", "name": "Person 0"},
            "created_time": fb_time(now - 100),
        }
    )
    other["comments"].append(
        {
            "id": f"{PAGE}_2_1",
            "message": "Kommunens svar",
            "from": {"id": PAGE, "name": "Kommunen"},
            "created_time": fb_time(now - 50),
        }
    )
    # Push already brought one comment.
    page.deliver(
        client,
        [
            feed_entry(
                PAGE, comment_value("add", f"{PAGE}_1", f"{PAGE}_1_0", "Kommentar 0 om vegarbeid")
            )
        ],
    )
    assert poll(page.comments) == 3
    assert bodies() == [
        "Kommentar 0 om vegarbeid",
        "Kommentar 1 om vegarbeid",
        "Kommentar 2 om vegarbeid",
        "Når åpner det?",
    ]
    convs = db.session.scalars(select(Conversation).order_by(Conversation.thread_key)).all()
    assert [c.thread_key for c in convs] == [f"{PAGE}_1", f"{PAGE}_2"]
    assert convs[1].meta["permalink"] == f"https://www.facebook.com/{PAGE}_2"
    assert poll(page.comments) == 0
    assert any(r.path == f"/v21.0/{PAGE}_1/comments" for r in fake.requests)  # paged on


def test_expired_token_alerts_and_stops_polling_until_replaced(client, page, fake):
    conv = fake.add_conversation(PAGE, "444", "Kari")
    add_messages(fake, conv, "444", ["Hallo?"], time.time() - 600)
    fake.expired = True
    assert poll(page.messenger) == 0  # no crash
    account = db.session.get(ChannelAccount, page.messenger.id)
    assert "FB_TOKEN_" in account.alert
    calls = len(fake.requests)
    assert poll(page.messenger) == 0
    assert len(fake.requests) == calls  # not hammering Facebook with a dead token

    page.replace_token("fresh-token")
    assert poll(page.messenger) == 1
    assert db.session.get(ChannelAccount, page.messenger.id).alert is None
    assert bodies() == ["Hallo?"]


def test_outage_then_recovery_loses_nothing(client, page, fake):
    conv = fake.add_conversation(PAGE, "555", "Ola")
    add_messages(fake, conv, "555", ["En", "To", "Tre"], time.time() - 600)
    fake.fail_next(1, 500)
    assert poll(page.messenger) == 0
    assert "since" not in db.session.get(ChannelAccount, page.messenger.id).poll_cursor
    assert bodies() == []
    assert poll(page.messenger) == 3
    assert bodies() == ["En", "To", "Tre"]
    assert db.session.get(ChannelAccount, page.messenger.id).alert is None


def test_outage_mid_paging_keeps_cursor(client, page, fake):
    now = time.time()
    for psid in ("601", "602", "603"):
        add_messages(
            fake, fake.add_conversation(PAGE, psid, psid), psid, [f"hei {psid}"], now - 300
        )
    original = fake._conversations

    def flaky(request, match):  # type: ignore[no-untyped-def]
        if request.args.get("after"):
            from tests.fakes.server import json_response

            return json_response({"error": {"message": "Service unavailable", "code": 2}}, 503)
        return original(request, match)

    # Fails half-way: the first page is stored, the next is not; the cursor must not move.
    fake.routes = [(m, p, flaky if h == original else h) for m, p, h in fake.routes]
    poll(page.messenger)
    assert bodies() == ["hei 602", "hei 603"]
    assert "since" not in db.session.get(ChannelAccount, page.messenger.id).poll_cursor
    fake.routes = [(m, p, original if h == flaky else h) for m, p, h in fake.routes]
    poll(page.messenger)
    assert bodies() == ["hei 601", "hei 602", "hei 603"]


def test_connectors_satisfy_the_channel_contract(page):
    from channels.interfaces import ChannelConnector
    from inbox.models import ChannelKind

    for kind in (ChannelKind.MESSENGER, ChannelKind.FACEBOOK_COMMENTS):
        assert isinstance(get_connector(kind), ChannelConnector)


def test_missing_token_is_an_alert_not_a_crash(page, monkeypatch, fake):
    monkeypatch.delenv(page.refs["page_access_token"])
    assert poll(page.comments) == 0
    assert db.session.get(ChannelAccount, page.comments.id).alert
    assert fake.requests == []


def test_pass_cut_short_keeps_the_cursor(client, page, fake, app):
    now = time.time()
    for psid in ("701", "702", "703"):
        add_messages(
            fake, fake.add_conversation(PAGE, psid, psid), psid, [f"hei {psid}"], now - 300
        )
    app.config["FACEBOOK_POLL_MAX_PAGES"] = 1
    assert poll(page.messenger) == 2
    assert "since" not in db.session.get(ChannelAccount, page.messenger.id).poll_cursor
    app.config["FACEBOOK_POLL_MAX_PAGES"] = 10
    assert poll(page.messenger) == 1
    assert db.session.get(ChannelAccount, page.messenger.id).poll_cursor["since"] >= int(now)
    assert bodies() == ["hei 701", "hei 702", "hei 703"]
