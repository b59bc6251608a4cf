"""The queue: views, filters, keyset pages (no gaps or repeats, stable under ties), counts,
tenant isolation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from inbox.extensions import db
from inbox.models import ChannelKind, ConversationStatus, Role, TeamMember
from inbox.models.base import utcnow
from inbox.services.queue import QueueQuery, Sort, View, counts, queue_page


@pytest.fixture
def desk(factory):
    """Two municipalities; in the first, 13 conversations with ties in both sort keys."""
    tenant, other = factory.tenant(), factory.tenant()
    chat = factory.channel(tenant, ChannelKind.WEBCHAT)
    sms = factory.channel(tenant, ChannelKind.SMS)
    team = factory.team(tenant, "Bygg")
    me = factory.user(tenant, Role.CASEWORKER, name="Meg Selv")
    colleague = factory.user(tenant, Role.CASEWORKER)
    db.session.add(TeamMember(team_id=team.id, user_id=me.id))
    stranger_conv = factory.conversation(factory.channel(other), body="Hemmelig i annen kommune")
    base = utcnow() - timedelta(hours=1)
    convs = []
    for i in range(13):
        conv = factory.conversation(sms if i % 3 == 0 else chat, body=f"Melding {i}")
        conv.last_activity_at = base + timedelta(minutes=i // 4)  # groups of 4 share a time
        conv.waiting_since = None if i % 4 == 3 else base - timedelta(minutes=i // 3)
        conv.has_unread = i % 2 == 0
        conv.assignee_id = me.id if i in (1, 2) else colleague.id if i == 4 else None
        conv.team_id = team.id if i in (5, 6, 7) else None
        conv.flagged_for_archive = i == 8
        conv.status = ConversationStatus.CLOSED if i == 12 else ConversationStatus.OPEN
        convs.append(conv)
    db.session.commit()
    return {"me": me, "convs": convs, "team": team, "stranger": stranger_conv}


def all_pages(user, q, limit=3):
    seen, cursor, pages = [], None, 0
    while True:
        page = queue_page(user, q, cursor, limit=limit)
        seen += [c.id for c in page.conversations]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            return seen, pages


def test_activity_pages_have_no_gaps_or_repeats_under_ties(desk):
    open_convs = [c for c in desk["convs"] if c.status is ConversationStatus.OPEN]
    expected = [
        c.id for c in sorted(open_convs, key=lambda c: (c.last_activity_at, c.id), reverse=True)
    ]
    seen, pages = all_pages(desk["me"], QueueQuery())
    assert seen == expected
    assert pages == 4  # 12 rows, 3 a page, and the last page knows it is the last


def test_waiting_order_shows_longest_wait_first_then_the_rest(desk):
    open_convs = [c for c in desk["convs"] if c.status is ConversationStatus.OPEN]
    waiting = sorted(
        (c for c in open_convs if c.waiting_since), key=lambda c: (c.waiting_since, c.id)
    )
    rest = sorted(
        (c for c in open_convs if not c.waiting_since),
        key=lambda c: (c.last_activity_at, c.id),
        reverse=True,
    )
    for limit in (2, 5, 50):
        seen, _ = all_pages(desk["me"], QueueQuery(sort=Sort.WAITING), limit=limit)
        assert seen == [c.id for c in waiting + rest]


def ids(user, **kw):
    return {c.id for c in queue_page(user, QueueQuery(**kw)).conversations}


def test_views_and_filters(desk):
    me, convs = desk["me"], desk["convs"]
    assert ids(me, view=View.MINE) == {convs[1].id, convs[2].id}
    assert ids(me, view=View.TEAM) == {convs[i].id for i in (5, 6, 7)}
    assert ids(me, view=View.UNASSIGNED) == {convs[i].id for i in range(12) if i not in (1, 2, 4)}
    assert ids(me, status=ConversationStatus.CLOSED) == {convs[12].id}
    assert ids(me, channel=ChannelKind.SMS) == {convs[i].id for i in (0, 3, 6, 9)}
    assert ids(me, flagged=True) == {convs[8].id}
    assert ids(me, unread=True) == {convs[i].id for i in range(0, 12, 2)}
    assert ids(me, team_id=desk["team"].id, unread=True) == {convs[6].id}


def test_counts_per_view(desk):
    c = counts(desk["me"])
    assert c["all"] == {"total": 12, "unread": 6, "waiting": 9}
    assert c["mine"] == {"total": 2, "unread": 1, "waiting": 2}
    assert c["team"] == {"total": 3, "unread": 1, "waiting": 2}
    assert c["unassigned"]["total"] == 9


def test_other_municipalities_never_show(desk, client, login):
    assert desk["stranger"].id not in ids(desk["me"])
    login(desk["me"])
    html = client.get("/?view=all").get_data(as_text=True)
    assert "Hemmelig i annen kommune" not in html
    assert f'data-conversation-id="{desk["stranger"].id}"' not in html
    assert f'data-conversation-id="{desk["convs"][0].id}"' in html


def test_queue_page_follows_its_next_link(desk, client, login):
    login(desk["me"])
    html = client.get("/?view=all").get_data(as_text=True)
    assert html.count("data-conversation-id=") == 12  # one page of 50
    assert "Neste side" not in html
    # 12 open ones fit on a page; the counts are shown for every view.
    assert "12 åpne, 6 uleste, 9 venter" in html


@pytest.mark.parametrize(
    "query",
    ["view=everything", "status=gone", "channel=fax", "team=x", "sort=random", "cursor=bm90anNvbg"],
)
def test_bad_filters_are_a_clear_400(desk, client, login, query):
    login(desk["me"])
    resp = client.get(f"/?{query}")
    assert resp.status_code == 400
    assert "ikke gyldig" in resp.get_data(as_text=True)


def test_signed_out_visitors_are_sent_to_sign_in(client):
    assert client.get("/").status_code == 302
    assert client.get("/search?q=x").status_code == 302


def test_snoozed_conversations_show_until_when(desk, client, login):
    conv = desk["convs"][0]
    conv.status = ConversationStatus.SNOOZED
    conv.snoozed_until = utcnow() + timedelta(days=1)
    db.session.commit()
    login(desk["me"])
    html = client.get("/?status=snoozed").get_data(as_text=True)
    assert f'data-conversation-id="{conv.id}"' in html
    assert "Slumrer til" in html
    assert html.count("data-conversation-id=") == 1
