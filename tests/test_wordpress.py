"""WordPress comments: pull by id cursor over a real-HTTP fake, sanitising, outages, replies."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from channels.interfaces import ChannelConnector
from channels.registry import get_connector
from inbox.extensions import db
from inbox.models import (
    ChannelAccount,
    ChannelKind,
    ContactMatchSuggestion,
    Conversation,
    DeliveryStatus,
    Direction,
    IdentityKind,
    MatchReason,
    MatchStatus,
    Message,
    Tenant,
)
from inbox.services import conversations
from inbox.services.outbound import send
from tests.fakes.wordpress import FakeWordPress


@pytest.fixture
def wp() -> Iterator[FakeWordPress]:
    with FakeWordPress() as fake:
        fake.add_post(11, "Høring: reguleringsplan for Sentrum &amp; havna")
        fake.add_post(12, "Nytt bibliotek")
        yield fake


@pytest.fixture
def site(factory, wp, monkeypatch) -> ChannelAccount:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WP_TEST_USER", wp.user)
    monkeypatch.setenv("WP_TEST_PASSWORD", "abcd EFGH 1234 ijkl")
    tenant = factory.tenant()
    return factory.channel(
        tenant,
        ChannelKind.WEB_COMMENTS,
        config={"source": "wordpress", "api_root": f"{wp.url}/wp-json"},
        secret_refs={"user": "WP_TEST_USER", "app_password": "WP_TEST_PASSWORD"},
    )


def poll(account: ChannelAccount) -> int:
    return get_connector(account.kind).poll(db.session.get(ChannelAccount, account.id))


def inbound(account: ChannelAccount) -> list[Message]:
    return list(
        db.session.scalars(
            select(Message)
            .where(Message.channel_account_id == account.id, Message.direction == Direction.INBOUND)
            .order_by(Message.id)
        )
    )


def test_pagination_id_cursor_and_pages(site, wp) -> None:  # type: ignore[no-untyped-def]
    for i in range(230):
        wp.add_comment(11 if i % 3 else 12, f"<p>Innspill nr. {i}</p>")
    assert poll(site) == 230
    pages = [r.query["page"][0] for r in wp.comment_requests()]
    assert pages == ["1", "2", "3"]
    q = wp.comment_requests()[0].query
    assert (q["per_page"], q["orderby"], q["order"]) == (["100"], ["id"], ["asc"])
    assert "after" not in q
    msgs = inbound(site)
    assert [m.body for m in msgs] == [f"Innspill nr. {i}" for i in range(230)]
    # One conversation per post, titled after the post and linked to it.
    convs = db.session.scalars(select(Conversation).order_by(Conversation.thread_key)).all()
    assert [c.thread_key for c in convs] == ["post:11", "post:12"]
    assert convs[0].subject == "Høring: reguleringsplan for Sentrum & havna"
    assert convs[0].meta["page_url"] == f"{wp.url}/11/side-11/"
    assert msgs[0].meta["page_url"] == f"{wp.url}/12/side-12/"

    # The next poll resumes on the page of the last comment, not from the start.
    wp.requests.clear()
    wp.add_comment(12, "<p>Ny</p>")
    assert poll(site) == 1
    assert [r.query["page"][0] for r in wp.comment_requests()] == ["3"]
    assert inbound(site)[-1].body == "Ny"


def small_pages(account: ChannelAccount, per_page: int = 10) -> None:
    acc = db.session.get(ChannelAccount, account.id)
    acc.config = {**acc.config, "per_page": per_page}
    db.session.commit()


def test_deleted_comments_shift_pages_and_nothing_is_missed(site, wp) -> None:  # type: ignore[no-untyped-def]
    small_pages(site)
    ids = [wp.add_comment(11, f"<p>{i}</p>") for i in range(20)]
    assert poll(site) == 20
    for cid in ids[:5]:  # a moderator deletes early comments: the list shifts back
        wp.delete_comment(cid)
    new = [wp.add_comment(11, f"<p>ny {i}</p>") for i in range(3)]
    assert poll(site) == 3
    assert [m.provider_message_id for m in inbound(site)[-3:]] == [str(i) for i in new]
    # So many deleted that the saved page no longer exists (WordPress answers 400).
    for cid in ids[5:]:
        wp.delete_comment(cid)
    last = wp.add_comment(11, "<p>siste</p>")
    assert poll(site) == 1
    assert inbound(site)[-1].provider_message_id == str(last)


def test_duplicate_and_overlapping_polls_store_each_comment_once(site, wp) -> None:  # type: ignore[no-untyped-def]
    small_pages(site)
    for i in range(25):
        wp.add_comment(11, f"<p>{i}</p>")
    assert poll(site) == 25
    assert poll(site) == 0
    # A cursor reset (or a rescan) reads everything again: still one message each.
    acc = db.session.get(ChannelAccount, site.id)
    acc.poll_cursor = {}
    db.session.commit()
    assert poll(site) == 0
    count = db.session.scalar(select(func.count()).select_from(Message))
    assert count == 25
    reply_id = wp.add_comment(11, "<p>Svar</p>", parent=3)
    assert poll(site) == 1
    assert inbound(site)[-1].provider_parent_id == "3"
    assert inbound(site)[-1].provider_message_id == str(reply_id)


def test_html_is_sanitised_to_plain_text(site, wp) -> None:  # type: ignore[no-untyped-def]
    wp.add_comment(
        11,
        '<p>Hei &amp; takk for &#8220;planen&#8221;</p>\n<p><script>alert("x")</script>'
        '<img src="x" onerror="alert(1)">Se <a href="https://evil.example">her</a> '
        "&lt;b&gt;ikke fet&lt;/b&gt;</p>",
        author_name="Ola &amp; Kari",
    )
    assert poll(site) == 1
    msg = inbound(site)[0]
    assert msg.body == "Hei & takk for “planen”\n\nSe her <b>ikke fet</b>"
    assert "alert" not in msg.body and "onerror" not in msg.body
    # The stored text is escaped when shown, never rendered as HTML.


def test_outage_then_recovery_loses_nothing(site, wp) -> None:  # type: ignore[no-untyped-def]
    small_pages(site)
    for i in range(25):
        wp.add_comment(11, f"<p>{i}</p>")
    wp.fail_next(1, 500)  # the site is down for the whole first poll
    assert poll(site) == 0
    assert inbound(site) == []
    wp.failing_pages.append(3)  # back up, but page 3 fails once mid-way
    assert poll(site) == 20
    assert poll(site) == 5
    assert poll(site) == 0
    assert [m.body for m in inbound(site)] == [str(i) for i in range(25)]
    assert db.session.get(ChannelAccount, site.id).alert is None


def test_rejected_credentials_raise_an_alert(site, wp, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WP_TEST_PASSWORD", "wrong wrong wrong")
    wp.add_comment(11, "<p>x</p>")
    assert poll(site) == 0
    assert "rejected the credentials" in db.session.get(ChannelAccount, site.id).alert


def test_reply_is_posted_threaded_with_application_password(site, wp, factory, tasks) -> None:  # type: ignore[no-untyped-def]
    first = wp.add_comment(11, "<p>Når er fristen?</p>")
    wp.add_comment(12, "<p>Annet innlegg</p>")
    assert poll(site) == 2
    conv = db.session.scalar(select(Conversation).where(Conversation.thread_key == "post:11"))
    user = factory.user(db.session.get(Tenant, site.tenant_id))
    msg = conversations.reply(conv, user, "Fristen er 1. desember. <Se planen>")
    db.session.commit()
    tasks.run_all()
    posted = [r for r in wp.comment_requests() if r.method == "POST"]
    assert len(posted) == 1
    assert posted[0].headers["Authorization"].startswith("Basic ")
    assert posted[0].json() == {
        "post": 11,
        "parent": first,
        "content": "Fristen er 1. desember. &lt;Se planen&gt;",
    }
    sent = db.session.get(Message, msg.id)
    assert sent.delivery_status is DeliveryStatus.SENT
    assert sent.provider_message_id == str(wp.comments[-1]["id"])
    assert sent.provider_parent_id == str(first)
    # Our own reply is not read back as a citizen comment.
    assert poll(site) == 0
    assert len(inbound(site)) == 2


def test_send_errors_are_transient_or_permanent(site, wp, factory, tasks, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    wp.add_comment(11, "<p>Spørsmål</p>")
    poll(site)
    conv = db.session.scalar(select(Conversation))
    user = factory.user(db.session.get(Tenant, conv.tenant_id))
    msg = conversations.reply(conv, user, "Svar")
    db.session.commit()
    wp.fail_next(1, 503)
    assert send(msg.id) == ("retry", 10)
    queued = db.session.get(Message, msg.id)
    assert queued.delivery_status is DeliveryStatus.QUEUED  # retried later
    assert queued.error_code == "503"
    monkeypatch.setenv("WP_TEST_PASSWORD", "wrong")
    assert send(msg.id) == ("failed", None)
    failed = db.session.get(Message, msg.id)
    assert failed.delivery_status is DeliveryStatus.FAILED
    assert "401" in failed.error_message


def test_without_application_password_the_inbox_says_why(app, factory, wp) -> None:  # type: ignore[no-untyped-def]
    acc = factory.channel(
        factory.tenant(),
        ChannelKind.WEB_COMMENTS,
        config={"source": "wordpress", "api_root": f"{wp.url}/wp-json"},
    )
    wp.add_comment(11, "<p>Hei</p>")
    assert poll(acc) == 1  # reading public comments needs no credentials
    conv = db.session.scalar(select(Conversation))
    with app.test_request_context("/?lang=en"):
        assert "application password" in get_connector(acc.kind).cannot_reply_reason(conv)


def test_beat_poll_reaches_wordpress_and_suggests_matches(site, wp, tasks) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(get_connector(ChannelKind.WEB_COMMENTS), ChannelConnector)
    wp.add_comment(11, "<p>Første</p>", author_name="Kari Nordmann")
    wp.add_comment(12, "<p>Andre</p>", author_name="kari  nordmann")
    tasks.send("servicetorg.inbound.poll_all", (), {})
    tasks.run_all()
    msgs = inbound(site)
    assert [m.body for m in msgs] == ["Første", "Andre"]
    # Same source, name spelt differently: two identities, suggested as one citizen.
    assert msgs[0].contact_id != msgs[1].contact_id
    (s,) = db.session.scalars(select(ContactMatchSuggestion)).all()
    assert (s.reason, s.status) == (MatchReason.LIKELY, MatchStatus.PENDING)


def test_author_emails_with_edit_context_give_certain_matches(site, wp, factory, tasks) -> None:  # type: ignore[no-untyped-def]
    acc = db.session.get(ChannelAccount, site.id)
    acc.config = {**acc.config, "fetch_emails": True}
    db.session.commit()
    chat = factory.channel(db.session.get(Tenant, site.tenant_id), ChannelKind.WEBCHAT)
    known = factory.inbound(chat, identity="per@example.no", kind=IdentityKind.EMAIL)
    wp.add_comment(11, "<p>Hei</p>", author_name="P. H.", author_email="Per@Example.no")
    assert poll(site) == 1
    assert wp.comment_requests()[0].query["context"] == ["edit"]
    msg = inbound(site)[0]
    assert msg.contact_id != known.contact_id  # suggested, not merged
    tasks.run_all()
    (s,) = db.session.scalars(select(ContactMatchSuggestion)).all()
    assert (s.reason, s.matched_on) == (MatchReason.CERTAIN, "email")
