"""SMS alerts: a text sent to many citizens at once, each recipient sent exactly once.

An alert is written, previewed and (above a configured size) confirmed by a second person;
then workers send it recipient by recipient (channels/sms_alerts/sending.py). Replies from a
recipient within the reply window land in a conversation linked to the alert.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from inbox.extensions import db
from inbox.models.base import JSONType, TenantScoped, Timestamped, UTCDateTime, enum_column


class AlertState(enum.StrEnum):
    DRAFT = "draft"  # written, recipients chosen, not confirmed
    AWAITING_APPROVAL = "awaiting_approval"  # large list: a second person must confirm
    SENDING = "sending"
    DONE = "done"  # every recipient handed to Twilio (or failed)
    CANCELLED = "cancelled"


class RecipientState(enum.StrEnum):
    QUEUED = "queued"  # not yet handed to Twilio
    SENDING = "sending"  # a worker holds it (lease_until) and is calling Twilio
    SENT = "sent"  # Twilio took it (queued/accepted/sending/sent at Twilio)
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {
    RecipientState.QUEUED: 0,
    RecipientState.SENDING: 1,
    RecipientState.SENT: 2,
    RecipientState.DELIVERED: 3,
    RecipientState.UNDELIVERED: 4,
    RecipientState.FAILED: 4,
}


class Alert(TenantScoped, Timestamped, db.Model):
    __table_args__ = (Index("ix_alert_tenant_created", "tenant_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_account_id: Mapped[int] = mapped_column(ForeignKey("channel_account.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"))
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    approved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    # The alert this one follows up (sent to everyone who got that one).
    follows_id: Mapped[int | None] = mapped_column(ForeignKey("alert.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[AlertState] = mapped_column(enum_column(AlertState, 24), default=AlertState.DRAFT)
    # "number" (From: the account's number) or "service" (its Messaging Service).
    sender: Mapped[str] = mapped_column(String(16), default="number")
    encoding: Mapped[str] = mapped_column(String(8), default="GSM-7")
    segments: Mapped[int] = mapped_column(Integer, default=1)
    recipient_count: Mapped[int] = mapped_column(Integer, default=0)
    opted_out_count: Mapped[int] = mapped_column(Integer, default=0)
    # Rows of the source that were not used: [{"row": n, "value": "...", "reason": "..."}].
    rejected: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    source: Mapped[str] = mapped_column(String(200), default="")
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # While a batch task sends it: when that batch's hold runs out. One batch at a time per
    # alert, so the rate holds however many workers there are (channels/sms_alerts/sending.py).
    batch_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The archive item its text was flagged as (an outgoing, U, entry).
    archive_item_id: Mapped[int | None] = mapped_column(Integer)


class AlertRecipient(TenantScoped, db.Model):
    __table_args__ = (
        UniqueConstraint("alert_id", "phone"),
        Index("ix_alert_recipient_state", "alert_id", "state", "id"),
        Index("ix_alert_recipient_phone", "tenant_id", "phone", "sent_at"),
        Index("ix_alert_recipient_sid", "provider_sid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alert.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    state: Mapped[RecipientState] = mapped_column(
        enum_column(RecipientState, 16), default=RecipientState.QUEUED
    )
    provider_sid: Mapped[str | None] = mapped_column(String(64))
    error_code: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # While a worker sends it: when its hold runs out (a worker killed mid-send leaves it).
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the first attempt whose outcome is not known began: a later attempt asks Twilio
    # for messages to this number since then before sending again.
    uncertain_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The conversation the recipient's replies landed in.
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversation.id", ondelete="SET NULL")
    )


class RecipientList(TenantScoped, Timestamped, db.Model):
    """A saved list of numbers (a neighbourhood, the users of a water works)."""

    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    # [{"phone": "+47...", "name": ..., "address": ...}], already normalised and deduplicated.
    entries: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
