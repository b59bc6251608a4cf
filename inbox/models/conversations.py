"""Conversations, messages, their edits and attachments."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from inbox.extensions import db
from inbox.models.base import JSONType, TenantScoped, Timestamped, UTCDateTime, enum_column, utcnow
from inbox.models.channels import ChannelAccount
from inbox.models.contacts import Contact


class ConversationStatus(enum.StrEnum):
    OPEN = "open"
    PENDING = "pending"
    SNOOZED = "snoozed"
    CLOSED = "closed"


# Not closed: what insight counts as the backlog (a literal, for the partial index).
BACKLOG_SQL = "status IN ('open', 'pending', 'snoozed')"


class Conversation(TenantScoped, Timestamped, db.Model):
    __table_args__ = (
        # Threads keyed by the provider (a Facebook post, a web page's comment thread).
        UniqueConstraint("channel_account_id", "thread_key"),
        Index("ix_conversation_queue", "tenant_id", "status", "last_activity_at", "id"),
        Index("ix_conversation_assignee", "assignee_id", "status", "last_activity_at", "id"),
        # Insight refreshes the facts of conversations changed since its last run.
        Index("ix_conversation_updated", "tenant_id", "updated_at"),
        # Insight's backlog reads only this index (an index-only scan of what is not closed).
        Index(
            "ix_conversation_backlog",
            "tenant_id",
            postgresql_include=["channel_account_id", "team_id", "waiting_since"],
            postgresql_where=text(BACKLOG_SQL),
            sqlite_where=text(BACKLOG_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id"), index=True)
    channel_account_id: Mapped[int] = mapped_column(ForeignKey("channel_account.id"), index=True)
    thread_key: Mapped[str | None] = mapped_column(String(254))
    status: Mapped[ConversationStatus] = mapped_column(
        enum_column(ConversationStatus, 16), default=ConversationStatus.OPEN
    )
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("team.id", ondelete="SET NULL"), index=True
    )
    subject: Mapped[str | None] = mapped_column(String(300))
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the citizen started waiting for an answer; None once staff have replied.
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    has_unread: Mapped[bool] = mapped_column(Boolean, default=False)
    flagged_for_archive: Mapped[bool] = mapped_column(Boolean, default=False)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("conversation.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when retention anonymised it: the text is gone, counts and times are kept.
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Extra channel facts (post permalink, preferred reply channel from the widget, ...).
    meta: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Bumped by every UPDATE made through SQLAlchemy (ORM or Core): what insight refreshes.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    contact: Mapped[Contact] = relationship(lazy="joined")
    channel_account: Mapped[ChannelAccount] = relationship(lazy="joined")


class Direction(enum.StrEnum):
    INBOUND = "in"
    OUTBOUND = "out"


class DeliveryStatus(enum.StrEnum):
    RECEIVED = "received"  # inbound, stored
    QUEUED = "queued"  # outbound, waiting for the send task
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    UNDELIVERED = "undelivered"
    FAILED = "failed"

    @property
    def rank(self) -> int:
        """Order of progress, so an out-of-order callback never moves a status backwards."""
        return _RANK[self]


_RANK = {
    DeliveryStatus.RECEIVED: 0,
    DeliveryStatus.QUEUED: 1,
    DeliveryStatus.SENDING: 2,
    DeliveryStatus.SENT: 3,
    DeliveryStatus.DELIVERED: 4,
    DeliveryStatus.READ: 5,
    DeliveryStatus.UNDELIVERED: 6,
    DeliveryStatus.FAILED: 6,
}


# Literal, not bound: a prepared statement's generic plan could not prove that a query with
# bound statuses stays inside the partial index.
UNSENT_SQL = "delivery_status IN ('queued', 'sending')"


class Message(TenantScoped, Timestamped, db.Model):
    __table_args__ = (
        # The provider's id is unique per channel account: retried webhooks and pull/push
        # overlap can never create twins.
        UniqueConstraint("channel_account_id", "provider_message_id"),
        Index("ix_message_conversation", "conversation_id", "id"),
        # Replies not yet handed over: the sweeper reads only this (small) index.
        Index(
            "ix_message_unsent",
            "next_attempt_at",
            "sent_at",
            postgresql_where=text(UNSENT_SQL),
            sqlite_where=text(UNSENT_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"))
    channel_account_id: Mapped[int] = mapped_column(ForeignKey("channel_account.id"))
    direction: Mapped[Direction] = mapped_column(enum_column(Direction, 8))
    # Internal notes are staff-only and never sent anywhere.
    is_note: Mapped[bool] = mapped_column(Boolean, default=False)
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"))
    body: Mapped[str] = mapped_column(Text, default="")
    provider_message_id: Mapped[str | None] = mapped_column(String(254))
    # The provider's id of what this message answers or sits under (comment parent, post).
    provider_parent_id: Mapped[str | None] = mapped_column(String(254))
    delivery_status: Mapped[DeliveryStatus] = mapped_column(enum_column(DeliveryStatus, 16))
    error_code: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)
    send_attempts: Mapped[int] = mapped_column(Integer, default=0)
    # While a worker sends it: when its lease runs out. While queued after a failed attempt:
    # when the next attempt is due. None otherwise (see inbox/services/outbound.py).
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the provider says it was sent (inbound) or when it left us (outbound).
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    meta: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    conversation: Mapped[Conversation] = relationship()
    attachments: Mapped[list[Attachment]] = relationship(lazy="selectin", order_by="Attachment.id")
    revisions: Mapped[list[MessageRevision]] = relationship(
        lazy="selectin", order_by="MessageRevision.id"
    )


class MessageRevision(db.Model):
    """Earlier text of an edited message: the record must show what was said."""

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("message.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Attachment(TenantScoped, Timestamped, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("message.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str | None] = mapped_column(String(64))
    provider_url: Mapped[str | None] = mapped_column(Text)
    # Kept in the database so every web and worker machine sees the same bytes.
    data: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
