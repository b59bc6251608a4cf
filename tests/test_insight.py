"""Insight figures: known conversations in, known figures out (docs/insight.md).

Medians and 90th percentiles, counts per local hour across both daylight-saving changes in
Europe/Oslo, response times that span closed hours, terms without stop words, the archive
share, channel cost, incremental refresh, and one municipality never seeing another's."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from archiving.models import ArchiveItem, ArchiveState, JournalReceipt
from inbox.extensions import db
from inbox.models import (
    ChannelKind,
    ConversationFact,
    ConversationStatus,
    ConversationTag,
    DeliveryStatus,
    Direction,
    Message,
    Tag,
)
from inbox.services import insight
from inbox.services.insight import Period

WEEKDAYS = {d: [["08:00", "15:30"]] for d in ("mon", "tue", "wed", "thu", "fri")}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def make(factory, account, created, *, body="Hei", replies=(), closed=None, team=None, notes=()):  # type: ignore[no-untyped-def]
    """A conversation that arrived at `created` with staff replies sent at `replies`."""
    conv = factory.conversation(account, body=body)
    conv.created_at = created
    conv.team_id = team
    if closed is not None:
        conv.status = ConversationStatus.CLOSED
        conv.closed_at = closed
    for at, note in [(r, False) for r in replies] + [(n, True) for n in notes]:
        db.session.add(
            Message(
                tenant_id=conv.tenant_id,
                conversation_id=conv.id,
                channel_account_id=account.id,
                direction=Direction.OUTBOUND,
                is_note=note,
                body="Svar",
                delivery_status=DeliveryStatus.SENT,
                sent_at=at,
            )
        )
    db.session.commit()
    return conv


def test_medians_and_90th_percentiles_per_channel_and_team(factory):
    tenant = factory.tenant()
    team = factory.team(tenant, "Byggesak")
    chat = factory.channel(tenant, ChannelKind.WEBCHAT)
    sms = factory.channel(tenant, ChannelKind.SMS)
    start = utc(2026, 5, 4, 8)
    # Chat: first answers after 1..10 minutes; resolved after 1..10 hours.
    for i in range(1, 11):
        at = start + timedelta(hours=i)
        make(
            factory,
            chat,
            at,
            replies=[at + timedelta(minutes=i), at + timedelta(minutes=i + 30)],
            closed=at + timedelta(hours=i),
            team=team.id,
        )
    # SMS: 4 and 8 minutes; an internal note before the answer does not count as one.
    for i in (4, 8):
        at = start + timedelta(days=1, hours=i)
        make(factory, sms, at, replies=[at + timedelta(minutes=i)], notes=[at])
    make(factory, sms, start + timedelta(days=2))  # never answered: no response time
    insight.refresh(tenant)

    f = insight.figures(tenant, Period(date(2026, 5, 1), date(2026, 5, 31)))
    assert f.inquiries == 13
    assert f.per_channel == {"webchat": 10, "sms": 3}
    chat_stats = f.response["first_response"]["webchat"]
    assert (chat_stats.n, chat_stats.p50, chat_stats.p90) == (10, 330.0, pytest.approx(546.0))
    sms_stats = f.response["first_response"]["sms"]
    assert (sms_stats.n, sms_stats.p50, sms_stats.p90) == (2, 360.0, pytest.approx(456.0))
    both = f.response["first_response"]["*"]
    # 1..10 and 4, 8 minutes: sorted 1 2 3 4 4 5 6 7 8 8 9 10 -> median 5.5 min, p90 8.9 min.
    assert (both.n, both.p50, both.p90) == (12, 330.0, pytest.approx(534.0))
    resolution = f.response["resolution"]["webchat"]
    assert (resolution.p50, resolution.p90) == (5.5 * 3600, pytest.approx(9.1 * 3600))
    assert "sms" not in f.response["resolution"]
    per_team = f.response_team["first_response"]
    assert per_team[team.id].n == 10 and per_team[0].n == 2


def test_counts_per_local_hour_across_both_daylight_saving_changes(factory):
    tenant = factory.tenant(timezone="Europe/Oslo")
    chat = factory.channel(tenant)
    # 29 March 2026: 02:00 CET jumps to 03:00 CEST. 00:30 UTC is 01:30, 01:30 UTC is 03:30.
    make(factory, chat, utc(2026, 3, 29, 0, 30))
    make(factory, chat, utc(2026, 3, 29, 1, 30))
    # 25 October 2026: 03:00 CEST falls back to 02:00 CET, so 02:30 happens twice.
    make(factory, chat, utc(2026, 10, 25, 0, 30))
    make(factory, chat, utc(2026, 10, 25, 1, 30))
    # 23:30 UTC on Saturday 24 October is already Sunday 01:30 in Oslo.
    make(factory, chat, utc(2026, 10, 24, 23, 30))
    insight.refresh(tenant)

    march = insight.figures(tenant, Period(date(2026, 3, 29), date(2026, 3, 29)))
    assert march.heat == {(6, 1): 1, (6, 3): 1}  # Sunday; no 02:xx that night
    october = insight.figures(tenant, Period(date(2026, 10, 25), date(2026, 10, 25)))
    assert october.heat == {(6, 1): 1, (6, 2): 2}
    assert october.per_day == {date(2026, 10, 25): {"webchat": 3}}
    saturday = insight.figures(tenant, Period(date(2026, 10, 24), date(2026, 10, 24)))
    assert saturday.inquiries == 0


def test_response_time_inside_opening_hours_spans_the_weekend(factory):
    tenant = factory.tenant(opening_hours=WEEKDAYS)
    chat = factory.channel(tenant)
    # Friday 15:00 Oslo (13:00 UTC) -> answered Monday 08:30 (06:30 UTC): 65.5 hours on the
    # clock, one hour of it open (15:00-15:30 Friday, 08:00-08:30 Monday).
    make(factory, chat, utc(2026, 6, 5, 13), replies=[utc(2026, 6, 8, 6, 30)])
    # Asked Saturday, answered Saturday (outside hours), so no open time passed at all.
    make(factory, chat, utc(2026, 6, 6, 10), replies=[utc(2026, 6, 6, 11)])
    # Asked Monday 09:00, answered 09:20: inside hours.
    make(factory, chat, utc(2026, 6, 8, 7), replies=[utc(2026, 6, 8, 7, 20)])
    insight.refresh(tenant)

    facts = {
        f.created_at: f
        for f in db.session.scalars(
            db.select(ConversationFact).where(ConversationFact.tenant_id == tenant.id)
        )
    }
    friday = facts[utc(2026, 6, 5, 13)]
    assert friday.first_response_seconds == 65.5 * 3600
    assert friday.first_response_open_seconds == 3600
    assert facts[utc(2026, 6, 6, 10)].first_response_open_seconds == 0
    assert facts[utc(2026, 6, 8, 7)].first_response_open_seconds == 20 * 60

    f = insight.figures(tenant, Period(date(2026, 6, 1), date(2026, 6, 30)))
    assert (f.replies, f.replies_outside) == (3, 1)  # the Saturday answer
    assert f.response["first_response_open"]["*"].p50 == 20 * 60


def test_open_seconds_across_the_spring_change(factory):
    """Opening hours every day 00:00-24:00 on the short night: 23 hours, not 24."""
    tenant = factory.tenant(opening_hours={d: [["00:00", "24:00"]] for d in insight_days()})
    start, end = utc(2026, 3, 28, 23), utc(2026, 3, 29, 22)  # Oslo midnight to midnight
    assert insight.open_seconds(tenant, start, end) == 23 * 3600


def insight_days() -> tuple[str, ...]:
    return ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def test_frequent_terms_skip_norwegian_stop_words(factory):
    tenant = factory.tenant()
    chat = factory.channel(tenant)
    at = utc(2026, 9, 1, 9)
    make(factory, chat, at, body="Hei! Når blir søppelet hentet? Søppelet står ute.")
    make(factory, chat, at, body="Hvordan søker jeg om byggetillatelse for garasje?")
    make(factory, chat, at, body="Hei, søppelet ble ikke hentet i dag, takk")
    insight.refresh(tenant)

    terms = dict(insight.figures(tenant, Period(date(2026, 9, 1), date(2026, 9, 1))).terms)
    assert terms["søppelet"] == 2  # once per message, however often it says it
    assert terms["hentet"] == 2
    assert terms["byggetillatelse"] == 1
    for stop in ("hei", "når", "jeg", "om", "for", "ikke", "takk", "blir"):
        assert stop not in terms


def test_top_tags_of_the_period(factory):
    tenant = factory.tenant()
    chat = factory.channel(tenant)
    tags = {name: Tag(tenant_id=tenant.id, name=name) for name in ("faktura", "byggesak")}
    db.session.add_all(tags.values())
    db.session.commit()
    for i, names in enumerate([["faktura"], ["faktura", "byggesak"], ["faktura"]]):
        conv = make(factory, chat, utc(2026, 9, 2 + i, 9))
        for name in names:
            db.session.add(ConversationTag(conversation_id=conv.id, tag_id=tags[name].id))
    old = make(factory, chat, utc(2026, 7, 1, 9))  # outside the period
    db.session.add(ConversationTag(conversation_id=old.id, tag_id=tags["byggesak"].id))
    db.session.commit()
    insight.refresh(tenant)
    f = insight.figures(tenant, Period(date(2026, 9, 1), date(2026, 9, 30)))
    assert f.tags == [("faktura", 3), ("byggesak", 1)]


def test_share_flagged_and_time_from_flag_to_journal(factory):
    tenant = factory.tenant()
    chat = factory.channel(tenant)
    at = utc(2026, 9, 1, 9)
    convs = [make(factory, chat, at + timedelta(hours=i)) for i in range(4)]
    delays = [timedelta(hours=2), timedelta(hours=6)]
    for conv, delay in zip(convs[:2], delays, strict=True):
        item = ArchiveItem(
            tenant_id=tenant.id,
            conversation_id=conv.id,
            title="Sak",
            state=ArchiveState.JOURNALLED,
            created_at=at + timedelta(days=1),
        )
        db.session.add(item)
        db.session.flush()
        db.session.add(
            JournalReceipt(
                tenant_id=tenant.id,
                archive_item_id=item.id,
                adapter="embedded",
                system_id=f"sys-{item.id}",
                case_number="2026/1",
                created_at=at + timedelta(days=1) + delay,
            )
        )
    # Flagged and then withdrawn: not archive-worthy after all.
    db.session.add(
        ArchiveItem(
            tenant_id=tenant.id,
            conversation_id=convs[2].id,
            title="Nei",
            state=ArchiveState.WITHDRAWN,
        )
    )
    db.session.commit()
    insight.refresh(tenant)
    f = insight.figures(tenant, Period(date(2026, 9, 1), date(2026, 9, 1)))
    assert (f.inquiries, f.flagged, f.journalled) == (4, 2, 2)
    assert f.flag_to_journal.p50 == 4 * 3600
    assert f.flag_to_journal.p90 == pytest.approx(5.6 * 3600)


def test_refresh_picks_up_only_what_changed_and_forgets_merged_conversations(factory):
    tenant = factory.tenant()
    chat = factory.channel(tenant)
    at = utc(2026, 9, 1, 9)
    first = make(factory, chat, at)
    second = make(factory, chat, at + timedelta(hours=1))
    assert insight.refresh(tenant).conversations == 2
    assert insight.refresh(tenant).conversations == 2  # both inside the safety margin

    insight.refresh(tenant, now=insight.utcnow() + timedelta(minutes=50))
    later = insight.utcnow() + timedelta(hours=1)
    assert insight.refresh(tenant, now=later).conversations == 0
    # Closing one bumps its updated_at: the next run sees it, and only it.
    first.status = ConversationStatus.CLOSED
    first.closed_at = at + timedelta(hours=3)
    db.session.commit()
    first.updated_at = later + timedelta(minutes=1)
    db.session.commit()
    assert insight.refresh(tenant, now=later + timedelta(minutes=2)).conversations == 1
    fact = db.session.get(ConversationFact, first.id)
    assert fact.resolution_seconds == 3 * 3600 and not fact.is_open

    second.merged_into_id = first.id
    second.updated_at = later + timedelta(minutes=3)
    db.session.commit()
    insight.refresh(tenant, now=later + timedelta(minutes=4))
    assert db.session.get(ConversationFact, second.id) is None
    f = insight.figures(tenant, Period(date(2026, 9, 1), date(2026, 9, 1)))
    assert f.inquiries == 1


def test_update_through_the_orm_bumps_updated_at(factory):
    tenant = factory.tenant()
    conv = make(factory, factory.channel(tenant), utc(2026, 9, 1, 9))
    before = conv.updated_at
    conv.subject = "Ny tittel"
    db.session.commit()
    assert conv.updated_at > before


def test_channel_cost_against_phone_and_letter(factory):
    tenant = factory.tenant()
    chat = factory.channel(tenant, ChannelKind.WEBCHAT)
    sms = factory.channel(tenant, ChannelKind.SMS)
    for _ in range(3):
        make(factory, chat, utc(2026, 9, 1, 9))
    make(factory, sms, utc(2026, 9, 1, 10))
    insight.refresh(tenant)
    f = insight.figures(tenant, Period(date(2026, 9, 1), date(2026, 9, 1)))
    cost = insight.cost_table(f, insight.costs_for(tenant.id))
    assert cost.actual == 3 * 3 + 5
    assert (cost.by_phone, cost.by_letter) == (4 * 40, 4 * 110)

    with pytest.raises(insight.CostError):
        insight.set_costs(tenant.id, {"webchat": "-1"})
    with pytest.raises(insight.CostError):
        insight.set_costs(tenant.id, {"phone": "nan"})
    db.session.rollback()
    insight.set_costs(tenant.id, {"webchat": "2,50", "phone": "55"})
    db.session.commit()
    cost = insight.cost_table(f, insight.costs_for(tenant.id))
    assert cost.actual == 3 * 2.5 + 5
    assert cost.by_phone == 4 * 55


def test_one_municipality_never_sees_anothers_figures(factory):
    a, b = factory.tenant(), factory.tenant()
    chat_a, chat_b = factory.channel(a), factory.channel(b)
    make(factory, chat_a, utc(2026, 9, 1, 9), body="Parkering ved rådhuset")
    for _ in range(3):
        make(factory, chat_b, utc(2026, 9, 1, 9), body="Hemmelig byggesak")
    insight.refresh_all()
    f = insight.figures(a, Period(date(2026, 9, 1), date(2026, 9, 1)))
    assert f.inquiries == 1
    assert "hemmelig" not in dict(f.terms)
    assert insight.backlog(a).open == 1


def test_backlog_and_current_waiting_time(factory):
    tenant = factory.tenant()
    chat = factory.channel(tenant)
    now = utc(2026, 9, 10, 12)
    for minutes in (10, 30, 50):
        conv = make(factory, chat, now - timedelta(hours=2))
        conv.waiting_since = now - timedelta(minutes=minutes)
    answered = make(factory, chat, now - timedelta(hours=2))
    answered.waiting_since = None
    make(factory, chat, now - timedelta(hours=3), closed=now - timedelta(hours=1))
    db.session.commit()
    b = insight.backlog(tenant, now=now)
    assert (b.open, b.waiting) == (4, 3)
    assert b.wait.p50 == 30 * 60 and b.longest == 50 * 60


def test_sms_alert_volume_and_delivery_rate(factory):
    """Counted by when each message went to Twilio, in the municipality's time zone: a message
    sent at 23:30 UTC on 30 September is 1 October in Oslo, outside September."""
    from inbox.models import ChannelKind
    from inbox.models.alerts import Alert, AlertRecipient, RecipientState

    tenant, other = factory.tenant(), factory.tenant()
    sept = Period(date(2026, 9, 1), date(2026, 9, 30))
    assert insight.sms_alert_stats(tenant, sept).sent == 0

    def alert(t, states, sent_at):  # type: ignore[no-untyped-def]
        account = factory.channel(t, ChannelKind.SMS)
        a = Alert(
            tenant_id=t.id, channel_account_id=account.id, title="Vann", body="Vannet er borte"
        )
        db.session.add(a)
        db.session.flush()
        for i, state in enumerate(states):
            db.session.add(
                AlertRecipient(
                    tenant_id=t.id,
                    alert_id=a.id,
                    phone=f"+479100{a.id:02d}{i:02d}",
                    state=state,
                    sent_at=sent_at,
                )
            )

    d, u, f = RecipientState.DELIVERED, RecipientState.UNDELIVERED, RecipientState.FAILED
    alert(tenant, [d, d, d, u], datetime(2026, 9, 10, 8, tzinfo=UTC))
    alert(tenant, [d, f, RecipientState.SENT], datetime(2026, 9, 20, 8, tzinfo=UTC))
    alert(tenant, [d, d], datetime(2026, 9, 30, 23, 30, tzinfo=UTC))  # 1 October in Oslo
    alert(other, [d] * 5, datetime(2026, 9, 15, 8, tzinfo=UTC))  # another municipality
    db.session.commit()
    stats = insight.sms_alert_stats(tenant, sept)
    assert (stats.alerts, stats.sent, stats.delivered, stats.failed) == (2, 7, 4, 2)
    assert stats.rate == pytest.approx(4 / 7)
    october = insight.sms_alert_stats(tenant, Period(date(2026, 10, 1), date(2026, 10, 31)))
    assert (october.alerts, october.sent, october.delivered) == (1, 2, 2)


def test_previous_period_has_the_same_length():
    p = Period(date(2026, 3, 1), date(2026, 3, 31))
    assert p.previous() == Period(date(2026, 1, 29), date(2026, 2, 28))


def test_the_beat_job_refreshes_every_municipality(factory):
    from workers.insight import refresh
    from workers.schedule import beat_schedule

    tenant = factory.tenant()
    make(factory, factory.channel(tenant), utc(2026, 9, 1, 9))
    assert refresh() >= 1
    f = insight.figures(tenant, Period(date(2026, 9, 1), date(2026, 9, 1)))
    assert f.inquiries == 1
    tasks = {
        e["task"]
        for e in beat_schedule({"SWEEP_INTERVAL_SECONDS": 1, "POLL_INTERVAL_SECONDS": 1}).values()
    }
    assert "servicetorg.insight.refresh" in tasks


def test_erased_and_anonymised_conversations_leave_no_terms_behind(factory):
    """The fact table keeps the first message's words: erasure removes the fact, and
    anonymisation empties its terms at the next refresh."""
    from inbox.services import erasure

    tenant = factory.tenant()
    chat = factory.channel(tenant)
    gone = make(factory, chat, utc(2026, 9, 1, 9), body="Kari Nordmann har gjeld")
    hidden = make(factory, chat, utc(2026, 9, 1, 10), body="Ola Nordmann har gjeld")
    gone_id, hidden_id = gone.id, hidden.id
    insight.refresh(tenant)
    assert "nordmann" in dict(
        insight.figures(tenant, Period(date(2026, 9, 1), date(2026, 9, 1))).terms
    )
    erasure.delete_conversations([gone_id])
    erasure.anonymise_conversations([hidden_id])
    db.session.commit()
    assert db.session.get(ConversationFact, gone_id) is None
    insight.refresh(tenant)
    assert db.session.get(ConversationFact, hidden_id).first_terms == ""
    f = insight.figures(tenant, Period(date(2026, 9, 1), date(2026, 9, 1)))
    assert f.terms == [] and f.inquiries == 1
