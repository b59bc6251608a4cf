"""A conversation handed over to a person by another system, typically a chatbot: the
citizen's messages so far go through the ingest funnel like any inbound message (so they join
the citizen's open conversation in that channel, or start one), the bot's own lines are stored
as already sent, and the staff see the whole transcript in the thread.

A handover is idempotent by its id: each line's provider id is "handover:<id>:<n>", so a
system that retries after a lost answer gets the same conversation, not a second one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from inbox.extensions import db
from inbox.models import (
    ChannelAccount,
    ChannelKind,
    Conversation,
    DeliveryStatus,
    Direction,
    IdentityKind,
    Message,
)
from inbox.models.base import utcnow
from inbox.normalise import normalise_phone
from inbox.services import audit, conversations
from inbox.services.ingest import InboundMessage, ingest_many
from inbox.untrusted import clean_text, optional_text

# The identities a citizen can be reached by in each channel a handover may come from.
IDENTITY_KINDS: dict[ChannelKind, tuple[IdentityKind, ...]] = {
    ChannelKind.WEBCHAT: (IdentityKind.CHAT_VISITOR, IdentityKind.CHAT_USER),
    ChannelKind.SMS: (IdentityKind.PHONE,),
    ChannelKind.MESSENGER: (IdentityKind.FACEBOOK_PSID,),
}
MAX_LINES = 200
CLOCK_SKEW = timedelta(minutes=5)


class HandoverError(ValueError):
    """str(exc) names what is wrong: a short code; `field` where it was found."""

    def __init__(self, code: str, field: str | None = None) -> None:
        super().__init__(code)
        self.field = field


@dataclass
class Line:
    author: str  # "citizen" or "bot"
    body: str
    sent_at: datetime


@dataclass
class Handover:
    handover_id: str
    identity_kind: IdentityKind
    identity_value: str
    contact_name: str | None
    lines: list[Line]
    summary: str | None
    bot_name: str | None


def identity_value(account: ChannelAccount, kind: IdentityKind, raw: str) -> str:
    """The identity as the channel stores it; HandoverError when the channel has no such
    identity or the value cannot be one."""
    if kind not in IDENTITY_KINDS.get(account.kind, ()):
        raise HandoverError("identity_kind", "contact.identity_kind")
    value = raw.strip()
    if kind is IdentityKind.PHONE:
        value = normalise_phone(value) or ""
    elif kind is IdentityKind.CHAT_VISITOR:
        # The widget's visitor token: the channel keeps only its hash.
        from channels.webchat.services import TOKEN_RE, visitor_identity

        value = visitor_identity(value) if TOKEN_RE.match(value) else ""
    if not value or len(value) > 254 or clean_text(value) != value:
        raise HandoverError("identity_value", "contact.identity_value")
    return value


def store(account: ChannelAccount, actor: Any, h: Handover) -> tuple[Conversation, bool]:
    """Store the transcript; returns the conversation and whether anything new was stored.
    Flushes, never commits."""
    keyed = [(i, line, f"handover:{h.handover_id}:{i}") for i, line in enumerate(h.lines)]
    citizen = [
        (
            account,
            InboundMessage(
                identity_kind=h.identity_kind,
                identity_value=h.identity_value,
                body=line.body,
                provider_message_id=key,
                sent_at=line.sent_at,
                contact_name=h.contact_name,
                meta={"handover": h.handover_id},
            ),
        )
        for _, line, key in keyed
        if line.author == "citizen"
    ]
    stored = ingest_many(citizen)
    conv = stored[0][0].conversation
    created = any(new for _, new in stored)
    known = set(
        db.session.scalars(
            select(Message.provider_message_id).where(
                Message.channel_account_id == account.id,
                Message.provider_message_id.in_([key for _, _, key in keyed]),
            )
        )
    )
    for _, line, key in keyed:
        if line.author != "bot" or key in known:
            continue
        created = True
        db.session.add(
            Message(
                tenant_id=conv.tenant_id,
                conversation_id=conv.id,
                channel_account_id=account.id,
                direction=Direction.OUTBOUND,
                body=line.body,
                provider_message_id=key,
                delivery_status=DeliveryStatus.SENT,
                sent_at=line.sent_at,
                meta={"handover": h.handover_id, "bot": h.bot_name or actor.name},
            )
        )
    if created:
        conv.meta = {
            **(conv.meta or {}),
            "handover": {"id": h.handover_id, "by": actor.name, "at": utcnow().isoformat()},
        }
        db.session.flush()
        if h.summary:
            conversations.add_note(conv, actor, h.summary)
        audit.record(
            "handover",
            conv,
            tenant_id=conv.tenant_id,
            actor=actor,
            handover_id=h.handover_id,
            lines=len(h.lines),
        )
    return conv, created


def parse_lines(raw: Any, now: datetime) -> list[Line]:
    """The transcript, oldest first: at least one line from the citizen. A line without a
    time is placed just before the next one, so the order given is the order shown."""
    if not isinstance(raw, list) or not raw:
        raise HandoverError("transcript", "transcript")
    if len(raw) > MAX_LINES:
        raise HandoverError("transcript_long", "transcript")
    lines: list[Line] = []
    for i, item in enumerate(raw):
        where = f"transcript[{i}]"
        if not isinstance(item, dict):
            raise HandoverError("line", where)
        author, body = item.get("from"), item.get("body")
        if author not in ("citizen", "bot"):
            raise HandoverError("line_from", f"{where}.from")
        if not isinstance(body, str) or not body.strip():
            raise HandoverError("line_body", f"{where}.body")
        body = clean_text(body.strip())
        sent_at = parse_time(item.get("sent_at"), f"{where}.sent_at", now)
        lines.append(Line(author, body, sent_at or now - timedelta(milliseconds=len(raw) - i)))
    if not any(line.author == "citizen" for line in lines):
        raise HandoverError("no_citizen", "transcript")
    return lines


def parse_time(raw: Any, field: str, now: datetime | None = None) -> datetime | None:
    """An aware ISO 8601 time (None if absent); not after `now` (give or take clock skew)."""
    if raw is None:
        return None
    try:
        when = datetime.fromisoformat(raw) if isinstance(raw, str) and len(raw) <= 40 else None
    except ValueError:
        when = None
    # Years far out would overflow when moved to UTC; nobody means them.
    if when is None or when.tzinfo is None or not 2000 <= when.year <= 2999:
        raise HandoverError("time", field)
    if now is not None and when > now + CLOCK_SKEW:
        raise HandoverError("time_future", field)
    return when


def new_id(raw: Any) -> str:
    """The caller's handover id (for retries), or a fresh one."""
    if raw is None:
        return uuid.uuid4().hex
    if (
        not isinstance(raw, str)
        or not 1 <= len(raw) <= 64
        or not raw.isascii()
        or not all(c.isalnum() or c in "-_." for c in raw)
    ):
        raise HandoverError("handover_id", "handover_id")
    return raw


def name(raw: Any, field: str, limit: int = 200) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise HandoverError("text", field)
    return optional_text(raw, limit)
