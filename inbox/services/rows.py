"""What one queue row shows, for a page of conversations: a readable name, the channel, the
first line of the last message, how long ago, one state that means something, who has it, the
archive flag and the tags. A fixed number of queries per page, whatever its length."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from babel.dates import TIMEDELTA_UNITS, format_datetime, format_time, format_timedelta
from flask_babel import get_locale, get_timezone
from flask_babel import gettext as _
from sqlalchemy import case, func, inspect, select
from sqlalchemy.orm.attributes import set_committed_value

from inbox.extensions import db
from inbox.formatting import short_datetime_formatter
from inbox.models import (
    ChannelKind,
    Contact,
    ContactIdentity,
    Conversation,
    ConversationStatus,
    Direction,
    IdentityKind,
    Message,
    User,
)
from inbox.models.base import utcnow
from inbox.services import tags as tag_svc

SNIPPET_CHARS = 120


class State:
    NEW = "new"  # the citizen wrote and nobody has answered yet
    WAITING_US = "waiting_us"  # the citizen wrote after our last answer
    WAITING_CITIZEN = "waiting_citizen"  # we answered last (or set it pending)
    SNOOZED = "snoozed"
    CLOSED = "closed"


@dataclass
class QueueRow:
    conv: Conversation
    who: str
    channel_kind: str
    channel_label: str
    last_line: str
    last_from_us: bool
    ago: str  # "for 5 min siden"
    at: str  # the absolute time, for the title
    state: str
    state_label: str
    assignee: str | None
    tags: list[str] = field(default_factory=list)


def format_phone(value: str) -> str:
    """+4791234567 -> "+47 912 34 567" (mobile), +4722123456 -> "+47 22 12 34 56"."""
    digits = value[3:]
    if value.startswith("+47") and len(digits) == 8 and digits.isdigit():
        if digits[0] in "49":
            return f"+47 {digits[:3]} {digits[3:5]} {digits[5:]}"
        return f"+47 {digits[:2]} {digits[2:4]} {digits[4:6]} {digits[6:]}"
    return value


def readable_name(conv: Conversation, now: datetime | None = None) -> str:
    """The contact's name; else a phone number (formatted) or e-mail address; else who they
    are by channel and when they came ("Innbygger på chat 14:02"), never a raw id."""
    contact = conv.contact
    if contact.name:
        return contact.name
    for kind in (IdentityKind.PHONE, IdentityKind.EMAIL):
        for ident in contact.identities:
            if ident.kind is kind:
                return format_phone(ident.value) if kind is IdentityKind.PHONE else ident.value
    if contact.phone:
        return format_phone(contact.phone)
    if contact.email:
        return contact.email
    when = _clock(conv.created_at or conv.last_activity_at, now)
    if conv.channel_account.kind is ChannelKind.WEBCHAT:
        return _("Citizen on chat %(time)s", time=when)
    return _(
        "Citizen on %(channel)s %(time)s", channel=_(conv.channel_account.kind.value), time=when
    )


def _clock(value: datetime, now: datetime | None) -> str:
    """A time of day today, else a short date and time."""
    zone, locale = get_timezone(), str(get_locale())
    local = value.astimezone(zone)
    today = (now or utcnow()).astimezone(zone).date()
    if local.date() == today:
        return format_time(local, "short", locale=locale)
    return format_datetime(local, "short", locale=locale)


RELATIVE_THRESHOLD = 1.1
# Babel's text for a relative time depends only on the unit it picks, the rounded amount and
# the direction; a queue page asks for it once per row, and Babel parses the locale's patterns
# on every call. So each text is made once per process (a few hundred at most in practice).
_relative_texts: dict[tuple[str, str, int, bool], str] = {}


def relative(value: datetime, now: datetime | None = None) -> str:
    """ "for 5 min siden" in the user's language."""
    delta = value - (now or utcnow())
    seconds = delta.total_seconds()
    if abs(seconds) < 45:
        return _("just now")
    locale = str(get_locale())
    key = (locale, *_unit_and_amount(seconds), seconds >= 0)
    text = _relative_texts.get(key)
    if text is None:
        text = format_timedelta(
            delta, add_direction=True, format="short", threshold=RELATIVE_THRESHOLD, locale=locale
        )
        if len(_relative_texts) < 10_000:
            _relative_texts[key] = text
    return text


def _unit_and_amount(seconds: float) -> tuple[str, int]:
    """The unit and rounded amount Babel's format_timedelta chooses (its own rule)."""
    for unit, per_unit in TIMEDELTA_UNITS:
        value = abs(seconds) / per_unit
        if value >= RELATIVE_THRESHOLD or unit == "second":
            if unit == "second" and value > 0:
                value = max(1, value)
            return unit, int(round(value))
    raise AssertionError("unreachable: the last unit always matches")


def state_of(conv: Conversation, answered: bool) -> str:
    if conv.status is ConversationStatus.CLOSED:
        return State.CLOSED
    if conv.status is ConversationStatus.SNOOZED:
        return State.SNOOZED
    if conv.waiting_since is not None:
        return State.WAITING_US if answered else State.NEW
    if conv.status is ConversationStatus.PENDING or answered:
        return State.WAITING_CITIZEN
    return State.NEW


def state_labels() -> dict[str, str]:
    """Each state's label in the user's language (translated once per page)."""
    return {
        State.NEW: _("New"),
        State.WAITING_US: _("Waiting for us"),
        State.WAITING_CITIZEN: _("Waiting for the citizen"),
        State.SNOOZED: _("Snoozed"),
        State.CLOSED: _("closed"),
    }


def state_label(
    state: str, conv: Conversation, at: str = "", labels: dict[str, str] | None = None
) -> str:
    if state == State.SNOOZED and conv.snoozed_until is not None:
        return _("Snoozed until %(when)s", when=at)
    return (labels or state_labels())[state]


def first_line(body: str) -> str:
    line = next((part.strip() for part in body.splitlines() if part.strip()), "")
    return line if len(line) <= SNIPPET_CHARS else line[: SNIPPET_CHARS - 1].rstrip() + "…"


def load_identities(contacts: Sequence[Contact]) -> None:
    """The identities of these contacts in one query, for those that do not have them loaded
    (the queue's list query leaves them out: only a contact without a name needs them)."""
    missing = {c.id: c for c in contacts if "identities" in inspect(c).unloaded}
    if not missing:
        return
    found: dict[int, list[ContactIdentity]] = {cid: [] for cid in missing}
    for ident in db.session.scalars(
        select(ContactIdentity)
        .where(ContactIdentity.contact_id.in_(missing))
        .order_by(ContactIdentity.id)
    ):
        found[ident.contact_id].append(ident)
    for cid, idents in found.items():
        set_committed_value(missing[cid], "identities", idents)


def build(convs: Sequence[Conversation], now: datetime | None = None) -> list[QueueRow]:
    """The rows of a page of conversations (the caller has checked the user may see them)."""
    if not convs:
        return []
    now = now or utcnow()
    ids = [c.id for c in convs]
    # One query: each conversation's last message (not a note) and whether we ever answered.
    per_conv = (
        select(
            Message.conversation_id.label("conversation_id"),
            func.max(Message.id).label("last_id"),
            func.max(case((Message.direction == Direction.OUTBOUND, 1), else_=0)).label("answered"),
        )
        .where(Message.conversation_id.in_(ids), Message.is_note.is_(False))
        .group_by(Message.conversation_id)
        .subquery()
    )
    last: dict[int, tuple[str, Direction]] = {}
    answered: set[int] = set()
    for cid, body, direction, was_answered in db.session.execute(
        select(per_conv.c.conversation_id, Message.body, Message.direction, per_conv.c.answered)
        .select_from(per_conv)
        .join(Message, Message.id == per_conv.c.last_id)
    ):
        last[cid] = (body, direction)
        if was_answered:
            answered.add(cid)
    assignee_ids = {c.assignee_id for c in convs if c.assignee_id}
    names = dict(
        db.session.execute(select(User.id, User.name).where(User.id.in_(assignee_ids))).all()
        if assignee_ids
        else []
    )
    tags = tag_svc.names_for(ids)
    load_identities([c.contact for c in convs if not c.contact.name])
    when = short_datetime_formatter()  # compiled once per page (babel per row is slow)
    labels = state_labels()
    channel_labels: dict[str, str] = {}
    rows = []
    for conv in convs:
        body, direction = last.get(conv.id, ("", Direction.INBOUND))
        state = state_of(conv, conv.id in answered)
        snoozed_at = when(conv.snoozed_until) if conv.snoozed_until else ""
        kind = conv.channel_account.kind.value
        if kind not in channel_labels:
            channel_labels[kind] = _(kind)
        rows.append(
            QueueRow(
                conv=conv,
                who=readable_name(conv, now),
                channel_kind=kind,
                channel_label=channel_labels[kind],
                last_line=first_line(body),
                last_from_us=direction is Direction.OUTBOUND,
                ago=relative(conv.last_activity_at, now),
                at=when(conv.last_activity_at),
                state=state,
                state_label=state_label(state, conv, snoozed_at, labels),
                assignee=names.get(conv.assignee_id) if conv.assignee_id else None,
                tags=tags.get(conv.id, []),
            )
        )
    return rows
