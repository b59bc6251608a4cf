"""What one queue row shows, for a page of conversations: a readable name, the channel, the
first line of the last message, how long ago, one state that means something, who has it, the
archive flag and the tags. A fixed number of queries per page, whatever its length."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from babel.dates import TIMEDELTA_UNITS, format_timedelta
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import bindparam, exists, func, select

from inbox.extensions import db
from inbox.formatting import ShortFormats, short_formatters
from inbox.models import (
    ChannelKind,
    ContactIdentity,
    Conversation,
    ConversationStatus,
    ConversationTag,
    Direction,
    IdentityKind,
    Message,
    Tag,
    User,
)
from inbox.models.base import utcnow

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
    firsts = {}
    for ident in contact.identities:
        firsts.setdefault(ident.kind, ident.value)
    return _unnamed(
        conv, firsts.get(IdentityKind.PHONE), firsts.get(IdentityKind.EMAIL), now or utcnow()
    )


def _unnamed(
    conv: Conversation,
    phone: str | None,
    email: str | None,
    now: datetime,
    formats: ShortFormats | None = None,
    citizen: dict[ChannelKind, str] | None = None,
) -> str:
    """readable_name for a contact without a name, given its first phone and e-mail identity.
    `citizen` keeps each channel's "Innbygger på …" text for the rest of a page."""
    if phone is not None:
        return format_phone(phone)
    if email is not None:
        return email
    contact = conv.contact
    if contact.phone:
        return format_phone(contact.phone)
    if contact.email:
        return contact.email
    when = _clock(conv.created_at or conv.last_activity_at, now, formats)
    kind = conv.channel_account.kind
    text = citizen.get(kind) if citizen is not None else None
    if text is None:
        text = _citizen_on(kind)
        if citizen is not None:
            citizen[kind] = text
    return text % {"time": when}


def _citizen_on(kind: ChannelKind) -> str:
    """ "Innbygger på chat %(time)s": a contact known by nothing but the channel (the time of
    day is filled in per row)."""
    if kind is ChannelKind.WEBCHAT:
        return _("Citizen on chat %(time)s")
    # The channel goes in now; a "%" in its name must survive the time's turn.
    channel = _(kind.value).replace("%", "%%")
    return _("Citizen on %(channel)s %(time)s").replace("%(channel)s", channel)


def _clock(value: datetime, now: datetime, formats: ShortFormats | None = None) -> str:
    """A time of day today, else a short date and time (Babel's "short" patterns)."""
    formats = formats or short_formatters()
    if value.astimezone(formats.zone).date() == now.astimezone(formats.zone).date():
        return formats.time_of_day(value)
    return formats.date_and_time(value)


RELATIVE_THRESHOLD = 1.1
# Babel's text for a relative time depends only on the unit it picks, the rounded amount and
# the direction; a queue page asks for it once per row, and Babel parses the locale's patterns
# on every call. So each text is made once per process (a few hundred at most in practice).
_relative_texts: dict[tuple[str, str, int, bool], str] = {}


def relative(value: datetime, now: datetime | None = None, locale: str | None = None) -> str:
    """ "for 5 min siden" in the user's language."""
    delta = value - (now or utcnow())
    seconds = delta.total_seconds()
    if abs(seconds) < 45:
        return _("just now")
    locale = locale or str(get_locale())
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


def _first_identity(kind: IdentityKind) -> Any:
    """The contact's first identity of this kind (as Contact.identities orders them)."""
    return (
        select(ContactIdentity.value)
        .where(ContactIdentity.contact_id == Conversation.contact_id, ContactIdentity.kind == kind)
        .order_by(ContactIdentity.id)
        .limit(1)
        .correlate(Conversation)
        .scalar_subquery()
    )


def _last_message(column: Any) -> Any:
    """A column of the conversation's last message that is not a note."""
    return (
        select(column)
        .where(Message.conversation_id == Conversation.id, Message.is_note.is_(False))
        .order_by(Message.id.desc())
        .limit(1)
        .correlate(Conversation)
        .scalar_subquery()
    )


TAG_SEPARATOR = "\n"  # never in a tag's name (tags.clean_name makes it one line)


def _rows_sql(tags_in_order: bool) -> Any:
    """Everything a page of rows needs besides the conversations themselves, in one statement:
    the last message (not a note) and whether we ever answered, the assignee's name, the
    contact's first phone number and e-mail address, and the tags. Scalar subqueries beside a
    single table: PostgreSQL plans that in a fraction of what joins cost, and plans it on
    every request (statements are not kept prepared across transactions)."""
    names = func.aggregate_strings(Tag.name, TAG_SEPARATOR)
    if tags_in_order:
        names = names.aggregate_order_by(Tag.name)
    tags = (
        select(names)
        .select_from(ConversationTag)
        .join(Tag, Tag.id == ConversationTag.tag_id)
        .where(ConversationTag.conversation_id == Conversation.id)
        .correlate(Conversation)
        .scalar_subquery()
    )
    answered = (
        exists()
        .where(
            Message.conversation_id == Conversation.id,
            Message.direction == Direction.OUTBOUND,
            Message.is_note.is_(False),
        )
        .correlate(Conversation)
    )
    assignee = (
        select(User.name)
        .where(User.id == Conversation.assignee_id)
        .correlate(Conversation)
        .scalar_subquery()
    )
    return select(
        Conversation.id,
        _last_message(Message.body),
        _last_message(Message.direction),
        answered,
        assignee,
        _first_identity(IdentityKind.PHONE),
        _first_identity(IdentityKind.EMAIL),
        tags,
    ).where(Conversation.id.in_(bindparam("ids", expanding=True)))


# Built once. PostgreSQL orders each conversation's tags by name in its own collation, as a
# plain ORDER BY would; SQLite before 3.44 cannot order inside an aggregate, and its ORDER BY
# (BINARY collation: UTF-8 bytes) is Python's order of strings, so the rows sort them there.
ROWS_SQL = {True: _rows_sql(tags_in_order=True), False: _rows_sql(tags_in_order=False)}


def _tag_list(joined: str | None, ordered: bool) -> list[str]:
    if not joined:
        return []
    names = joined.split(TAG_SEPARATOR)
    return names if ordered else sorted(names)


def build(convs: Sequence[Conversation], now: datetime | None = None) -> list[QueueRow]:
    """The rows of a page of conversations (the caller has checked the user may see them)."""
    if not convs:
        return []
    now = now or utcnow()
    ordered = db.session.get_bind().dialect.name == "postgresql"
    found = {
        row[0]: row[1:]
        for row in db.session.execute(ROWS_SQL[ordered], {"ids": [c.id for c in convs]})
    }
    formats = short_formatters()  # compiled once per page (babel per row is slow)
    when = formats.date_and_time
    locale = str(get_locale())
    labels = state_labels()
    channel_labels: dict[str, str] = {}
    citizen: dict[ChannelKind, str] = {}
    rows = []
    missing = (None, None, False, None, None, None, None)
    for conv in convs:
        body, direction, answered, assignee, phone, email, tags = found.get(conv.id, missing)
        state = state_of(conv, bool(answered))
        snoozed_at = when(conv.snoozed_until) if conv.snoozed_until else ""
        kind = conv.channel_account.kind.value
        if kind not in channel_labels:
            channel_labels[kind] = _(kind)
        name = conv.contact.name
        rows.append(
            QueueRow(
                conv=conv,
                who=name if name else _unnamed(conv, phone, email, now, formats, citizen),
                channel_kind=kind,
                channel_label=channel_labels[kind],
                last_line=first_line(body or ""),
                last_from_us=direction is Direction.OUTBOUND,
                ago=relative(conv.last_activity_at, now, locale),
                at=when(conv.last_activity_at),
                state=state,
                state_label=state_label(state, conv, snoozed_at, labels),
                assignee=assignee if conv.assignee_id else None,
                tags=_tag_list(tags, ordered),
            )
        )
    return rows
