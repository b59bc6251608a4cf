"""Pull through the Graph API for what Instagram's webhooks missed: direct messages through the
linked page's Conversations API and comments on the account's media, paged with cursors,
overlapping push without twins; a comment edited or removed on Instagram keeps its earlier
text here; an expired token and an outage."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from channels.registry import get_connector
from inbox.extensions import db
from inbox.models import ChannelAccount, ChannelKind, Conversation, Message, Role
from tests.fakes.instagram import (
    FakeInstagramGraph,
    InstagramAccount,
    comment_value,
    comments_entry,
    dm_entry,
    dm_event,
)

IG = "17841400000000404"
PAGE = "104857600700404"


@pytest.fixture
def fake():
    with FakeInstagramGraph(token="ig-pull-token", app_secret="ig-pull-secret") as fake:
        yield fake


@pytest.fixture
def account(factory, fake, monkeypatch):
    return InstagramAccount(factory, factory.tenant(), fake, monkeypatch, IG, PAGE)


def poll(account: ChannelAccount) -> int:
    account = db.session.get(ChannelAccount, account.id)
    stored = get_connector(account.kind).poll(account)
    db.session.commit()
    return stored


def bodies() -> list[str]:
    db.session.expire_all()
    return sorted(m.body for m in db.session.scalars(select(Message)))


def test_direct_messages_pulled_through_the_page_without_twins(client, account, fake):
    now = time.time()
    for n, igsid in enumerate(("17841455500000101", "17841455500000102", "17841455500000103")):
        conv = fake.add_ig_conversation(IG, igsid, f"innbygger_{n}")
        for i in range(5 if n == 0 else 1):
            sender = {"username": f"innbygger_{n}", "id": igsid}
            fake.add_ig_message(conv, f"aWdf_{igsid}_{i}", f"{n} melding {i}", sender, now - 600)
    # The account's own reply in a conversation is not an inbound message.
    first = fake.ig_conversations[IG][-1]
    fake.add_ig_message(first, "aWdf_own", "Svar", {"username": "kommunen", "id": IG}, now - 60)
    # A Messenger conversation of the same page is not read as Instagram.
    fake.add_conversation(PAGE, "31337", "Messenger-bruker")["messages"].append(
        {"id": "m_fb", "message": "Fra Messenger", "from": {"id": "31337"}, "created_time": "x"}
    )
    # The webhook already brought one of them (the same mid).
    pushed = dm_event(IG, "17841455500000101", "aWdf_17841455500000101_2", "0 melding 2", 1)
    account.deliver(client, [dm_entry(IG, pushed)])

    assert poll(account.dms) == 6
    expected = sorted([f"0 melding {i}" for i in range(5)] + ["1 melding 0", "2 melding 0"])
    assert bodies() == expected
    assert db.session.query(Conversation).count() == 3
    assert fake.refused == []
    listing = next(r for r in fake.requests if r.path.endswith("/conversations"))
    assert listing.path == f"/v21.0/{PAGE}/conversations"
    assert listing.query["platform"] == ["instagram"]
    assert listing.query["fields"] == ["participants,messages{id,message,from,to,created_time}"]
    assert any(r.path.startswith("/v21.0/aWdf") for r in fake.requests)  # paged on
    assert all(r.query.get("appsecret_proof") for r in fake.requests if r.method == "GET")
    conv = db.session.scalars(
        select(Conversation).where(Conversation.meta["igsid"].as_string() == "17841455500000103")
    ).one()
    assert conv.contact.name == "innbygger_2"

    # A later push of one the poll fetched, and the next poll: still one of each.
    again = dm_event(IG, "17841455500000102", "aWdf_17841455500000102_0", "1 melding 0", 2)
    account.deliver(client, [dm_entry(IG, again)])
    assert poll(account.dms) == 0
    assert bodies() == expected
    assert db.session.get(ChannelAccount, account.dms.id).poll_cursor["since"] >= int(now)


def test_media_comments_pulled_and_overlapping_push(client, account, fake, factory, login):
    now = time.time()
    old = fake.add_media(IG, "17895695668000001", "Gammelt innlegg", now - 90 * 86400)
    fake.add_comment(old, "17870000000000009", "For gammel", "1784145550000009", "x", now - 1)
    post = fake.add_media(IG, "17895695668000002", "Vegarbeid i sentrum", now - 86400)
    other = fake.add_media(IG, "17895695668000003", "Nytt bibliotek", now - 7200)
    fake.add_media(IG, "17895695668000004", "Ingen kommentarer", now - 3600)
    for i in range(3):
        fake.add_comment(
            post,
            f"1787000000000010{i}",
            f"Kommentar {i}",
            f"178414555000002{i}",
            f"p{i}",
            now - 900,
        )
    fake.add_comment(other, "17870000000000201", "Når åpner det?", "1784145550000020", "p0", now)
    # Push already brought one comment.
    account.deliver(
        client,
        [
            comments_entry(
                IG,
                comment_value(
                    "17870000000000100",
                    "17895695668000002",
                    "Kommentar 0",
                    ("1784145550000020", "p0"),
                ),
            )
        ],
    )
    assert poll(account.comments) == 3
    assert bodies() == ["Kommentar 0", "Kommentar 1", "Kommentar 2", "Når åpner det?"]
    assert fake.refused == []
    media_call = next(r for r in fake.requests if r.path == f"/v21.0/{IG}/media")
    assert set(media_call.query["fields"][0].split(",")) <= {
        "id",
        "caption",
        "media_product_type",
        "permalink",
        "timestamp",
    }
    comments_call = next(r for r in fake.requests if r.path.endswith("/comments"))
    assert comments_call.query["fields"] == ["id,text,timestamp,from,username"]
    assert not any(r.path == f"/v21.0/{old['id']}/comments" for r in fake.requests)
    convs = db.session.scalars(select(Conversation).order_by(Conversation.thread_key)).all()
    assert [c.thread_key for c in convs] == [post["id"], other["id"]]
    assert convs[0].meta["permalink"] == post["permalink"]
    assert poll(account.comments) == 0

    login(factory.user(account.tenant, Role.CASEWORKER))
    html = client.get(f"/c/{convs[0].id}").get_data(as_text=True)
    assert "Åpne innlegget på Instagram" in html and post["permalink"] in html


def test_comment_edited_or_removed_on_instagram_keeps_its_earlier_text(
    client, account, fake, factory, login
):
    now = time.time()
    media = fake.add_media(IG, "17895695668000010", "Søppeltømming", now - 3600)
    kept = fake.add_comment(media, "17870000000001001", "Glemt igjen!", "17841455500001", "a", now)
    fake.add_comment(media, "17870000000001002", "Ikke hos oss", "17841455500002", "b", now)
    assert poll(account.comments) == 2

    kept["text"] = "Glemt igjen på Nordsida!"
    media["comments"] = [kept]  # the other was deleted on Instagram
    assert poll(account.comments) == 0
    db.session.expire_all()
    edited = db.session.scalars(
        select(Message).where(Message.provider_message_id == "17870000000001001")
    ).one()
    removed = db.session.scalars(
        select(Message).where(Message.provider_message_id == "17870000000001002")
    ).one()
    assert edited.body == "Glemt igjen på Nordsida!" and edited.edited_at is not None
    assert [r.body for r in edited.revisions] == ["Glemt igjen!"]
    assert removed.removed_at is not None and removed.body == "Ikke hos oss"
    assert removed.meta["removed_on_instagram"] is True
    assert poll(account.comments) == 0  # nothing changes on a second look
    assert len(edited.revisions) == 1

    login(factory.user(account.tenant, Role.CASEWORKER))
    html = client.get(f"/c/{edited.conversation_id}").get_data(as_text=True)
    assert "Glemt igjen!" in html and "msg__revisions" in html and "msg__removed" in html


def test_a_comment_listing_cut_short_marks_nothing_removed(client, account, fake, app):
    now = time.time()
    media = fake.add_media(IG, "17895695668000020", "Mange kommentarer", now - 3600)
    for i in range(5):
        fake.add_comment(media, f"1787000000000300{i}", f"k{i}", f"1784145550003{i}", "u", now)
    assert poll(account.comments) == 5
    media["comments"].pop(0)
    app.config["FACEBOOK_POLL_MAX_PAGES"] = 1  # two comments a page: the listing is cut short
    poll(account.comments)
    db.session.expire_all()
    assert db.session.scalars(select(Message).where(Message.removed_at.is_not(None))).all() == []
    assert "since" in db.session.get(ChannelAccount, account.comments.id).poll_cursor


def test_expired_token_alerts_and_stops_polling_until_replaced(client, account, fake):
    conv = fake.add_ig_conversation(IG, "17841455500000501", "kari")
    sender = {"username": "kari", "id": "17841455500000501"}
    fake.add_ig_message(conv, "aWdf_x", "Hallo?", sender, time.time() - 600)
    fake.expired = True
    assert poll(account.dms) == 0
    assert "IG_PAGE_TOKEN_" in db.session.get(ChannelAccount, account.dms.id).alert
    calls = len(fake.requests)
    assert poll(account.dms) == 0
    assert len(fake.requests) == calls

    fake.token = "fresh-token"
    fake.expired = False
    account.monkeypatch.setenv(account.refs["page_access_token"], "fresh-token")
    assert poll(account.dms) == 1
    assert db.session.get(ChannelAccount, account.dms.id).alert is None


def test_outage_keeps_the_cursor_and_loses_nothing(client, account, fake):
    media = fake.add_media(IG, "17895695668000030", "Brøyting", time.time() - 3600)
    fake.add_comment(media, "17870000000004001", "Når kommer brøytebilen?", "178414", "u", 0)
    media["comments"][0]["timestamp"] = media["timestamp"]
    fake.fail_next(1, 500)
    assert poll(account.comments) == 0
    assert "since" not in db.session.get(ChannelAccount, account.comments.id).poll_cursor
    assert poll(account.comments) == 1
    assert bodies() == ["Når kommer brøytebilen?"]


def test_connectors_satisfy_the_channel_contract(account):
    from channels.interfaces import ChannelConnector

    for kind in (ChannelKind.INSTAGRAM, ChannelKind.INSTAGRAM_COMMENTS):
        assert isinstance(get_connector(kind), ChannelConnector)
