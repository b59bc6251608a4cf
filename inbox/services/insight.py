"""Insight: what citizens ask, through which channel, how fast it is answered and what it costs.

The dashboard never reads the messages. `refresh()` keeps one fact row per conversation
(`conversation_fact`) and two daily rollups (`insight_daily`, `insight_term_daily`) up to date
from the conversations changed since its last run (`conversation.updated_at`, archive items'
`updated_at`); the beat job runs it every few minutes and the page can ask for it. The figures
of a period are then indexed reads of the facts and rollups (docs/insight.md).
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, delete, func, literal, null, select, text, tuple_
from sqlalchemy.sql.elements import ColumnElement

from archiving.models import ArchiveItem, ArchiveState, JournalReceipt
from channels.webchat.hours import _periods, _zone, is_open
from inbox.extensions import db
from inbox.models import (
    ChannelAccount,
    Conversation,
    ConversationFact,
    ConversationStatus,
    ConversationTag,
    Direction,
    InsightDaily,
    InsightState,
    InsightTermDaily,
    Message,
    Tag,
    Team,
    Tenant,
)
from inbox.models.base import utcnow
from inbox.models.conversations import BACKLOG_SQL

# Conversations changed up to this long before the last run are looked at again: a transaction
# that started before the run may commit after it.
SAFETY_MARGIN = timedelta(minutes=5)
BATCH = 500

# Kroner per contact. Copenhagen's figures: web 3, phone 40, letter or e-mail 110; the other
# written digital channels cost about what the web chat does, SMS a little more (provider fees).
DEFAULT_COSTS: dict[str, float] = {
    "webchat": 3,
    "sms": 5,
    "messenger": 3,
    "facebook_comments": 3,
    "web_comments": 3,
    "instagram": 3,
    "instagram_comments": 3,
    "phone": 40,
    "letter": 110,
}
COMPARISON = ("phone", "letter")

# Norwegian (bokmål and nynorsk) function words, greetings and fillers that say nothing about
# what the citizen asks.
_STOP_TEXT = """
    og i jeg eg det at en ein ei et eit den til er som på pa de med han av ikke ikkje ikkje der
    så sa var meg seg men ett har om vi me min mitt ha hadde hun ho nå no over da då ved fra frå
    du ut sin dem oss opp man kan hans hvor kor eller hva kva skal selv sjøl sjølv her alle vil
    bli ble blei blitt kunne inn når kvar hvordan korleis ingen noen nokon noe noko ville dere
    som deres kun ja etter ned skulle denne for hos mot dette disse desse uten utan hvorfor
    kvifor deg dykk dykkar dere deira din ditt dine mine mi sine vår vårt våre hennar hennes
    hvis viss om også ogso og òg enn før mellom mange mykje mye bare berre blir vært vore
    være vere får fikk få gjøre gjere gjør gjer går gikk kom komme kommer hei heisann hallo
    god dag takk tusen mvh hilsen helsing vennlig venleg lurer lurte spørsmål spørje spørre
    angående ang vedr litt veldig ganske fortsatt framleis enda ennå sånn slik the to a is
    it this that what how when can you my ok okei yes nei ja jo vel bra fint
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())
WORD = re.compile(r"[a-zæøåéèêóòôüäö]+(?:-[a-zæøåéèêóòôüäö]+)*")
MAX_TERMS_PER_MESSAGE = 40


def terms_of(text_: str) -> list[str]:
    """The distinct words of a message worth counting (lower case, no stop words)."""
    seen: list[str] = []
    for word in WORD.findall((text_ or "").lower()):
        if len(word) < 3 or len(word) > 64 or word in STOP_WORDS or word in seen:
            continue
        seen.append(word)
        if len(seen) >= MAX_TERMS_PER_MESSAGE:
            break
    return seen


# -- opening hours ------------------------------------------------------------------------------


def _local_instant(day: date, hhmm: str, zone: ZoneInfo) -> datetime:
    if hhmm == "24:00":
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    hour, minute = (int(x) for x in hhmm.split(":"))
    return datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)


def open_seconds(tenant: Tenant, start: datetime, end: datetime) -> int:
    """Seconds between `start` and `end` that fall inside the municipality's opening hours
    (all of them when it has none)."""
    if end <= start:
        return 0
    hours = tenant.opening_hours or {}
    if not hours:
        return int((end - start).total_seconds())
    zone = _zone(tenant)
    day = start.astimezone(zone).date()
    last = end.astimezone(zone).date()
    total = 0.0
    while day <= last:
        local_noon = datetime.combine(day, time(12), tzinfo=zone)
        for a, b in _periods(hours, local_noon) or []:
            lo = max(start, _local_instant(day, a, zone))
            hi = min(end, _local_instant(day, b, zone))
            if hi > lo:
                total += (hi - lo).total_seconds()
        day += timedelta(days=1)
    return int(total)


# -- refresh ------------------------------------------------------------------------------------


@dataclass
class RefreshResult:
    conversations: int = 0
    days: int = 0


def _state(tenant_id: int) -> InsightState:
    state = db.session.get(InsightState, tenant_id)
    if state is None:
        state = InsightState(tenant_id=tenant_id, costs={})
        db.session.add(state)
        db.session.flush()
    return state


def refresh(tenant: Tenant, *, full: bool = False, now: datetime | None = None) -> RefreshResult:
    """Bring the facts and rollups of one municipality up to date. Commits."""
    now = now or utcnow()
    state = _state(tenant.id)
    since = None if full or state.refreshed_through is None else state.refreshed_through
    ids: set[int] = set()
    q = select(Conversation.id).where(Conversation.tenant_id == tenant.id)
    if since is not None:
        q = q.where(Conversation.updated_at >= since - SAFETY_MARGIN)
    ids.update(db.session.scalars(q))
    if since is not None:
        ids.update(
            db.session.scalars(
                select(ArchiveItem.conversation_id).where(
                    ArchiveItem.tenant_id == tenant.id,
                    ArchiveItem.updated_at >= since - SAFETY_MARGIN,
                )
            )
        )
    result = RefreshResult()
    days: set[date] = set()
    ordered = sorted(ids)
    for i in range(0, len(ordered), BATCH):
        days |= _refresh_batch(tenant, ordered[i : i + BATCH], now)
    if full:
        days |= set(
            db.session.scalars(
                select(InsightDaily.local_date)
                .where(InsightDaily.tenant_id == tenant.id)
                .distinct()
            )
        )
    _rebuild_days(tenant.id, days)
    state.refreshed_through = now
    db.session.commit()
    result.conversations = len(ordered)
    result.days = len(days)
    return result


def refresh_all(*, full: bool = False) -> int:
    total = 0
    for tenant in db.session.scalars(select(Tenant).order_by(Tenant.id)).all():
        total += refresh(tenant, full=full).conversations
    if full and db.engine.dialect.name == "postgresql":
        # Fresh statistics for the planner after a rebuild (autovacuum would come later).
        for table in ("conversation_fact", "insight_daily", "insight_term_daily"):
            db.session.execute(text(f"ANALYZE {table}"))
        db.session.commit()
    return total


def _refresh_batch(tenant: Tenant, ids: list[int], now: datetime) -> set[date]:
    """Recompute the facts of these conversations; the local days whose rollups changed."""
    zone = _zone(tenant)
    touched: set[date] = set()
    old = {
        f.conversation_id: f
        for f in db.session.scalars(
            select(ConversationFact).where(ConversationFact.conversation_id.in_(ids))
        )
    }
    touched |= {f.local_date for f in old.values()}
    convs = db.session.execute(
        select(
            Conversation.id,
            Conversation.team_id,
            ChannelAccount.kind,
            Conversation.created_at,
            Conversation.status,
            Conversation.closed_at,
            Conversation.merged_into_id,
        )
        .join(ChannelAccount, ChannelAccount.id == Conversation.channel_account_id)
        .where(Conversation.id.in_(ids), Conversation.tenant_id == tenant.id)
    ).all()
    first_in: dict[int, int] = dict(
        db.session.execute(
            select(Message.conversation_id, func.min(Message.id))
            .where(
                Message.conversation_id.in_(ids),
                Message.direction == Direction.INBOUND,
                Message.is_note.is_(False),
            )
            .group_by(Message.conversation_id)
        ).all()
    )
    bodies: dict[int, str] = dict(
        db.session.execute(
            select(Message.conversation_id, Message.body).where(
                Message.id.in_(list(first_in.values()))
            )
        ).all()
    )
    replies: dict[int, list[datetime]] = defaultdict(list)
    for conv_id, sent_at in db.session.execute(
        select(Message.conversation_id, Message.sent_at).where(
            Message.conversation_id.in_(ids),
            Message.direction == Direction.OUTBOUND,
            Message.is_note.is_(False),
        )
    ):
        replies[conv_id].append(sent_at)
    flagged: dict[int, datetime] = dict(
        db.session.execute(
            select(ArchiveItem.conversation_id, func.min(ArchiveItem.created_at))
            .where(
                ArchiveItem.conversation_id.in_(ids),
                ArchiveItem.state != ArchiveState.WITHDRAWN,
            )
            .group_by(ArchiveItem.conversation_id)
        ).all()
    )
    journalled: dict[int, datetime] = dict(
        db.session.execute(
            select(ArchiveItem.conversation_id, func.min(JournalReceipt.created_at))
            .join(JournalReceipt, JournalReceipt.archive_item_id == ArchiveItem.id)
            .where(ArchiveItem.conversation_id.in_(ids))
            .group_by(ArchiveItem.conversation_id)
        ).all()
    )
    seen: set[int] = set()
    for conv_id, team_id, kind, created_at, status, closed_at, merged_into in convs:
        # Merged-away conversations live on in the one they were merged into; conversations
        # staff started (no inbound message) are not inquiries.
        if merged_into is not None or conv_id not in first_in:
            continue
        seen.add(conv_id)
        fact = old.get(conv_id)
        if fact is None:
            fact = ConversationFact(conversation_id=conv_id, tenant_id=tenant.id)
            db.session.add(fact)
        local = created_at.astimezone(zone)
        sent = sorted(replies.get(conv_id, []))
        answer = next((s for s in sent if s >= created_at), None)
        resolved = closed_at if status is ConversationStatus.CLOSED else None
        fact.team_id = team_id or 0
        fact.channel_kind = kind.value
        fact.created_at = created_at
        fact.local_date = local.date()
        fact.local_hour = local.hour
        fact.first_response_at = answer
        fact.first_response_seconds = int((answer - created_at).total_seconds()) if answer else None
        fact.first_response_open_seconds = (
            open_seconds(tenant, created_at, answer) if answer else None
        )
        fact.resolved_at = resolved
        fact.resolution_seconds = (
            max(0, int((resolved - created_at).total_seconds())) if resolved else None
        )
        fact.is_open = status is not ConversationStatus.CLOSED
        fact.flagged_at = flagged.get(conv_id)
        fact.journalled_at = journalled.get(conv_id) if fact.flagged_at else None
        fact.replies = len(sent)
        fact.replies_outside_hours = sum(1 for s in sent if not is_open(tenant, s))
        fact.first_terms = " ".join(terms_of(bodies.get(conv_id, "")))
        fact.refreshed_at = now
        touched.add(fact.local_date)
    gone = [cid for cid in old if cid not in seen]
    if gone:
        db.session.execute(
            delete(ConversationFact).where(ConversationFact.conversation_id.in_(gone))
        )
    db.session.flush()
    return touched


def _rebuild_days(tenant_id: int, days: Iterable[date]) -> None:
    """Recount the rollups of these local days from the facts."""
    days = sorted(days)
    for i in range(0, len(days), 100):
        chunk = days[i : i + 100]
        db.session.execute(
            delete(InsightDaily).where(
                InsightDaily.tenant_id == tenant_id, InsightDaily.local_date.in_(chunk)
            )
        )
        db.session.execute(
            delete(InsightTermDaily).where(
                InsightTermDaily.tenant_id == tenant_id, InsightTermDaily.local_date.in_(chunk)
            )
        )
        F = ConversationFact
        rows = db.session.execute(
            select(
                F.local_date,
                F.team_id,
                F.channel_kind,
                F.local_hour,
                func.count(),
                func.sum(F.replies),
                func.sum(F.replies_outside_hours),
            )
            .where(F.tenant_id == tenant_id, F.local_date.in_(chunk))
            .group_by(F.local_date, F.team_id, F.channel_kind, F.local_hour)
        ).all()
        if rows:
            db.session.execute(
                InsightDaily.__table__.insert(),
                [
                    {
                        "tenant_id": tenant_id,
                        "local_date": d,
                        "team_id": team,
                        "channel_kind": kind,
                        "local_hour": hour,
                        "inquiries": n,
                        "replies": int(r or 0),
                        "replies_outside_hours": int(o or 0),
                    }
                    for d, team, kind, hour, n, r, o in rows
                ],
            )
        terms: Counter[tuple[date, int, str]] = Counter()
        for d, team, words in db.session.execute(
            select(F.local_date, F.team_id, F.first_terms).where(
                F.tenant_id == tenant_id, F.local_date.in_(chunk), F.first_terms != ""
            )
        ):
            for word in words.split():
                terms[(d, team, word)] += 1
        if terms:
            db.session.execute(
                InsightTermDaily.__table__.insert(),
                [
                    {"tenant_id": tenant_id, "local_date": d, "team_id": t, "term": w, "uses": n}
                    for (d, t, w), n in terms.items()
                ],
            )


# -- figures ------------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float | None:
    """Linear interpolation between closest ranks (PostgreSQL's percentile_cont)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * p
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@dataclass(frozen=True)
class Period:
    start: date  # first local day
    end: date  # last local day (inclusive)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        lo = datetime.combine(self.start, time(0), tzinfo=zone).astimezone(UTC)
        hi = datetime.combine(self.end + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
        return lo, hi

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]


def costs_for(tenant_id: int) -> dict[str, float]:
    state = db.session.get(InsightState, tenant_id)
    costs = dict(DEFAULT_COSTS)
    for key, value in ((state.costs if state else None) or {}).items():
        if key in costs and isinstance(value, int | float) and value >= 0:
            costs[key] = float(value)
    return costs


class CostError(ValueError):
    pass


MAX_COST = 100_000


def set_costs(tenant_id: int, raw: dict[str, str]) -> dict[str, float]:
    """Store the costs per contact (kroner, decimal comma or point); CostError names the first
    bad one and nothing is stored."""
    parsed: dict[str, float] = {}
    for key in DEFAULT_COSTS:
        value = (raw.get(key) or "").strip().replace(",", ".").replace(" ", "")
        if value == "":
            continue
        try:
            number = float(value)
        except ValueError:
            raise CostError(key) from None
        if not math.isfinite(number) or number < 0 or number > MAX_COST:
            raise CostError(key)
        parsed[key] = round(number, 2)
    _state(tenant_id).costs = parsed
    return costs_for(tenant_id)


@dataclass
class Stats:
    """Median and 90th percentile of some durations, in seconds."""

    n: int = 0
    p50: float | None = None
    p90: float | None = None


@dataclass
class Figures:
    period: Period
    inquiries: int = 0
    per_channel: dict[str, int] = field(default_factory=dict)
    per_day: dict[date, dict[str, int]] = field(default_factory=dict)
    heat: dict[tuple[int, int], int] = field(default_factory=dict)  # (weekday, hour) -> n
    replies: int = 0
    replies_outside: int = 0
    outside_per_channel: dict[str, tuple[int, int]] = field(default_factory=dict)
    response: dict[str, dict[str, Stats]] = field(default_factory=dict)  # metric -> key -> stats
    response_team: dict[str, dict[int, Stats]] = field(default_factory=dict)
    flagged: int = 0
    journalled: int = 0
    flag_to_journal: Stats = field(default_factory=Stats)
    tags: list[tuple[str, int]] = field(default_factory=list)
    terms: list[tuple[str, int]] = field(default_factory=list)


METRICS = {
    "first_response": ConversationFact.first_response_seconds,
    "first_response_open": ConversationFact.first_response_open_seconds,
    "resolution": ConversationFact.resolution_seconds,
}


def _stats_by(where: list[ColumnElement[bool]], group: Any, column: Any) -> dict[Any, Stats]:
    """Count, median and p90 of `column` per value of `group` (group None: one key, None)."""
    keys = [group] if group is not None else []
    if db.engine.dialect.name == "postgresql":
        q = select(
            *keys,
            func.count(column),
            func.percentile_cont(0.5).within_group(column),
            func.percentile_cont(0.9).within_group(column),
        ).where(*where, column.is_not(None))
        if group is not None:
            q = q.group_by(group)
        found: dict[Any, Stats] = {}
        for row in db.session.execute(q):
            k = row[0] if group is not None else None
            n, p50, p90 = row[-3:]
            if n:
                found[k] = Stats(int(n), float(p50), float(p90))
        return found
    values: dict[Any, list[float]] = defaultdict(list)
    for row in db.session.execute(select(*keys, column).where(*where, column.is_not(None))):
        values[row[0] if group is not None else None].append(row[-1])
    return {k: Stats(len(v), percentile(v, 0.5), percentile(v, 0.9)) for k, v in values.items()}


def _stats_grouping_sets(
    where: list[ColumnElement[bool]], brief: bool = False
) -> tuple[dict[str, dict[Any, Stats]], dict[str, dict[Any, Stats]], int, Stats]:
    """PostgreSQL: every metric per channel, per team and overall in one pass over the facts,
    with the number flagged and the time from flag to journal entry (overall)."""
    F = ConversationFact
    delay = func.extract("epoch", F.journalled_at - F.flagged_at)
    aggregates = [func.count(F.flagged_at)]
    for column in [*METRICS.values(), delay]:
        aggregates += [
            func.count(column),
            func.percentile_cont(0.5).within_group(column),
            func.percentile_cont(0.9).within_group(column),
        ]
    if brief:  # the whole period only
        q = select(null(), null(), literal(3), *aggregates).where(*where)
    else:
        q = (
            select(F.channel_kind, F.team_id, func.grouping(F.channel_kind, F.team_id), *aggregates)
            .where(*where)
            .group_by(func.grouping_sets(tuple_(F.channel_kind), tuple_(F.team_id), tuple_()))
        )
    response: dict[str, dict[Any, Stats]] = {name: {"*": Stats()} for name in METRICS}
    per_team: dict[str, dict[Any, Stats]] = {name: {} for name in METRICS}
    flagged, flag_to_journal = 0, Stats()
    for row in db.session.execute(q):
        kind, team, grouping = row[0], row[1], row[2]
        for i, name in enumerate([*METRICS, "flag_to_journal"]):
            n, p50, p90 = row[4 + 3 * i : 7 + 3 * i]
            if not n:
                continue
            stats = Stats(int(n), float(p50), float(p90))
            if grouping == 3:  # neither column grouped: the whole period
                if name == "flag_to_journal":
                    flag_to_journal = stats
                else:
                    response[name]["*"] = stats
            elif name == "flag_to_journal":
                continue
            elif grouping == 1:  # grouped by channel (team_id not in the set)
                response[name][kind] = stats
            else:
                per_team[name][team] = stats
        if grouping == 3:
            flagged = int(row[3] or 0)
    return response, per_team, flagged, flag_to_journal


def _add_counts(
    out: Figures, d: date | None, kind: str, _hour: int | None, n: int, r: int, o: int
) -> None:
    out.inquiries += n
    out.per_channel[kind] = out.per_channel.get(kind, 0) + n
    if d is not None:
        day = out.per_day.setdefault(d, {})
        day[kind] = day.get(kind, 0) + n
    out.replies += r
    out.replies_outside += o
    a, b = out.outside_per_channel.get(kind, (0, 0))
    out.outside_per_channel[kind] = (a + r, b + o)


# Figures change only when a refresh runs, so a process keeps the last few it computed, keyed by
# the municipality's refresh time (tags, read live, may lag up to one refresh interval).
_CACHE: OrderedDict[tuple[Any, ...], Figures] = OrderedDict()
_CACHE_SIZE = 64
_CACHE_LOCK = threading.Lock()


def clear_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()


def cached_figures(
    tenant: Tenant, period: Period, team_id: int | None = None, *, brief: bool = False
) -> Figures:
    """`figures()`, from this process's cache while the facts have not been refreshed since."""
    state = db.session.get(InsightState, tenant.id)
    key = (
        db.engine.url.render_as_string(hide_password=True),
        tenant.id,
        tenant.timezone,
        period,
        team_id,
        brief,
        state.refreshed_through if state else None,
    )
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    found = figures(tenant, period, team_id, brief=brief)
    with _CACHE_LOCK:
        _CACHE[key] = found
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return found


def figures(
    tenant: Tenant,
    period: Period,
    team_id: int | None = None,
    top: int = 15,
    *,
    brief: bool = False,
) -> Figures:
    """Everything the dashboard shows for one period (team_id 0 = no team, None = all).
    `brief`: only the totals the comparison with a previous period needs (no days, hours,
    tags, terms, nor per-channel or per-team times)."""
    zone = _zone(tenant)
    out = Figures(period=period)
    D = InsightDaily
    dwhere = [D.tenant_id == tenant.id, D.local_date >= period.start, D.local_date <= period.end]
    if team_id is not None:
        dwhere.append(D.team_id == team_id)
    sums = (func.sum(D.inquiries), func.sum(D.replies), func.sum(D.replies_outside_hours))
    if brief:
        for kind, n, r, o in db.session.execute(
            select(D.channel_kind, *sums).where(*dwhere).group_by(D.channel_kind)
        ):
            _add_counts(out, None, kind, None, int(n or 0), int(r or 0), int(o or 0))
    elif db.engine.dialect.name == "postgresql":
        weekday = func.extract("isodow", D.local_date)
        for d, kind, wd, hour, grouping, n, r, o in db.session.execute(
            select(
                D.local_date,
                D.channel_kind,
                weekday,
                D.local_hour,
                func.grouping(D.local_date, D.channel_kind),
                *sums,
            )
            .where(*dwhere)
            .group_by(
                func.grouping_sets(
                    tuple_(D.local_date, D.channel_kind), tuple_(weekday, D.local_hour)
                )
            )
        ):
            if grouping == 0:  # per day and channel
                _add_counts(out, d, kind, None, int(n or 0), int(r or 0), int(o or 0))
            else:  # per weekday and hour
                slot = (int(wd) - 1, hour)
                out.heat[slot] = out.heat.get(slot, 0) + int(n or 0)
    else:
        for d, kind, hour, n, r, o in db.session.execute(
            select(D.local_date, D.channel_kind, D.local_hour, *sums)
            .where(*dwhere)
            .group_by(D.local_date, D.channel_kind, D.local_hour)
        ):
            n = int(n or 0)
            _add_counts(out, d, kind, None, n, int(r or 0), int(o or 0))
            slot = (d.weekday(), hour)
            out.heat[slot] = out.heat.get(slot, 0) + n

    F = ConversationFact
    lo, hi = period.bounds(zone)
    fwhere: list[ColumnElement[bool]] = [
        F.tenant_id == tenant.id,
        F.created_at >= lo,
        F.created_at < hi,
    ]
    if team_id is not None:
        fwhere.append(F.team_id == team_id)
    if db.engine.dialect.name == "postgresql":
        out.response, out.response_team, out.flagged, out.flag_to_journal = _stats_grouping_sets(
            fwhere, brief
        )
        out.journalled = out.flag_to_journal.n
    else:
        for name, column in METRICS.items():
            per_channel = {} if brief else _stats_by(fwhere, F.channel_kind, column)
            per_channel["*"] = _stats_by(fwhere, None, column).get(None, Stats())
            out.response[name] = per_channel
            out.response_team[name] = {} if brief else _stats_by(fwhere, F.team_id, column)
        flagged, journalled = db.session.execute(
            select(
                func.count(F.flagged_at),
                func.count(case((F.journalled_at.is_not(None), 1))),
            ).where(*fwhere)
        ).one()
        out.flagged, out.journalled = int(flagged or 0), int(journalled or 0)
        delays = [
            (j - f).total_seconds()
            for f, j in db.session.execute(
                select(F.flagged_at, F.journalled_at).where(*fwhere, F.journalled_at.is_not(None))
            )
        ]
        out.flag_to_journal = Stats(len(delays), percentile(delays, 0.5), percentile(delays, 0.9))

    if brief:
        return out
    out.tags = [
        (name, int(n))
        for name, n in db.session.execute(
            select(Tag.name, func.count())
            .select_from(ConversationTag)
            .join(Tag, Tag.id == ConversationTag.tag_id)
            .join(F, F.conversation_id == ConversationTag.conversation_id)
            .where(*fwhere, Tag.tenant_id == tenant.id)
            .group_by(Tag.name)
            .order_by(func.count().desc(), Tag.name)
            .limit(top)
        )
    ]
    T = InsightTermDaily
    twhere = [T.tenant_id == tenant.id, T.local_date >= period.start, T.local_date <= period.end]
    if team_id is not None:
        twhere.append(T.team_id == team_id)
    total = func.sum(T.uses)
    out.terms = [
        (term, int(n))
        for term, n in db.session.execute(
            select(T.term, total)
            .where(*twhere)
            .group_by(T.term)
            .order_by(total.desc(), T.term)
            .limit(top)
        )
    ]
    return out


@dataclass
class CostTable:
    rows: list[tuple[str, int, float, float]]  # channel, contacts, kroner per contact, kroner
    contacts: int
    actual: float
    by_phone: float
    by_letter: float


def cost_table(f: Figures, costs: dict[str, float]) -> CostTable:
    """The period's estimated cost per channel, and the same volume by phone and by letter."""
    rows = []
    for kind, n in sorted(f.per_channel.items()):
        per = costs.get(kind, DEFAULT_COSTS["webchat"])
        rows.append((kind, n, per, n * per))
    contacts = sum(r[1] for r in rows)
    return CostTable(
        rows=rows,
        contacts=contacts,
        actual=sum(r[3] for r in rows),
        by_phone=contacts * costs["phone"],
        by_letter=contacts * costs["letter"],
    )


@dataclass
class Backlog:
    open: int = 0
    waiting: int = 0
    wait: Stats = field(default_factory=Stats)
    longest: float | None = None
    per_channel: dict[str, tuple[int, int]] = field(default_factory=dict)  # open, waiting


def backlog(tenant: Tenant, team_id: int | None = None, now: datetime | None = None) -> Backlog:
    """What is waiting now (read live from the queue index, not the facts)."""
    now = now or utcnow()
    C = Conversation
    # Merged-away conversations are closed, so they are not in it.
    where = [C.tenant_id == tenant.id, text(f"conversation.{BACKLOG_SQL}")]
    if team_id is not None:
        where.append(func.coalesce(C.team_id, 0) == team_id)
    out = Backlog()
    kinds = dict(
        db.session.execute(
            select(ChannelAccount.id, ChannelAccount.kind).where(
                ChannelAccount.tenant_id == tenant.id
            )
        ).all()
    )
    if db.engine.dialect.name == "postgresql":
        # One pass: per channel account and overall. The wait is now - waiting_since, so its
        # median is now - the median of waiting_since and its 90th percentile now - the 10th
        # (percentile_cont is linear).
        epoch = func.extract("epoch", C.waiting_since)
        ts = now.timestamp()
        for account_id, grouping, n, waiting, p50, p10, first in db.session.execute(
            select(
                C.channel_account_id,
                func.grouping(C.channel_account_id),
                func.count(),
                func.count(C.waiting_since),
                func.percentile_cont(0.5).within_group(epoch),
                func.percentile_cont(0.1).within_group(epoch),
                func.min(epoch),
            )
            .where(*where)
            .group_by(func.grouping_sets(tuple_(C.channel_account_id), tuple_()))
        ):
            if grouping == 0:
                kind = kinds[account_id].value
                a, b = out.per_channel.get(kind, (0, 0))
                out.per_channel[kind] = (a + int(n), b + int(waiting))
                continue
            out.open, out.waiting = int(n), int(waiting)
            if waiting:
                out.wait = Stats(int(waiting), max(0.0, ts - float(p50)), max(0.0, ts - float(p10)))
                out.longest = max(0.0, ts - float(first))
        return out
    for account_id, n, waiting in db.session.execute(
        select(C.channel_account_id, func.count(), func.count(C.waiting_since))
        .where(*where)
        .group_by(C.channel_account_id)
    ):
        kind = kinds[account_id].value
        a, b = out.per_channel.get(kind, (0, 0))
        out.per_channel[kind] = (a + int(n), b + int(waiting))
        out.open += int(n)
        out.waiting += int(waiting)
    waits = [
        max(0.0, (now - since).total_seconds())
        for (since,) in db.session.execute(
            select(C.waiting_since).where(*where, C.waiting_since.is_not(None))
        )
    ]
    out.wait = Stats(len(waits), percentile(waits, 0.5), percentile(waits, 0.9))
    out.longest = max(waits) if waits else None
    return out


# -- SMS alerts ---------------------------------------------------------------------------------


@dataclass
class AlertStats:
    alerts: int  # alerts with a message handed to Twilio in the period
    sent: int  # messages handed to Twilio
    delivered: int  # of which Twilio reported delivered
    failed: int  # of which Twilio reported undelivered or failed

    @property
    def rate(self) -> float | None:
        return self.delivered / self.sent if self.sent else None


def sms_alert_stats(tenant: Tenant, period: Period) -> AlertStats:
    """SMS alert volume and delivery rate: the alert messages sent in the period (by when each
    was handed to Twilio, in the municipality's time zone) and what their status callbacks
    said (channels/sms_alerts)."""
    from inbox.models.alerts import AlertRecipient, RecipientState

    lo, hi = period.bounds(_zone(tenant))
    state = AlertRecipient.state
    row = db.session.execute(
        select(
            func.count(func.distinct(AlertRecipient.alert_id)),
            func.count(),
            func.coalesce(func.sum(case((state == RecipientState.DELIVERED, 1), else_=0)), 0),
            func.coalesce(
                func.sum(
                    case(
                        (state.in_([RecipientState.UNDELIVERED, RecipientState.FAILED]), 1),
                        else_=0,
                    )
                ),
                0,
            ),
        ).where(
            AlertRecipient.tenant_id == tenant.id,
            AlertRecipient.sent_at >= lo,
            AlertRecipient.sent_at < hi,
        )
    ).one()
    return AlertStats(int(row[0]), int(row[1]), int(row[2]), int(row[3]))


def teams_of(tenant_id: int) -> list[Team]:
    return list(
        db.session.scalars(select(Team).where(Team.tenant_id == tenant_id).order_by(Team.name))
    )
