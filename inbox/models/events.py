"""Inbound events: what a provider's webhook delivered, kept raw until a worker has stored it.

The webhook only checks the signature, appends the event (one INSERT that ignores a duplicate
delivery of the same provider key) and answers; `workers/events.py` turns pending events into
messages in batches. See docs/inbound.md.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from inbox.extensions import db
from inbox.models.base import JSONType, UTCDateTime, enum_column, utcnow


class EventState(enum.StrEnum):
    PENDING = "pending"  # stored, not yet turned into messages
    DONE = "done"  # its messages (or status changes) are committed
    PARKED = "parked"  # could not be processed; waits for an admin (see `events parked`)


class InboundEvent(db.Model):
    __tablename__ = "inbound_event"
    __table_args__ = (
        # A provider's retry of the same delivery is the same event.
        UniqueConstraint("channel_account_id", "kind", "provider_key"),
        # The worker's claim and the sweeper's look for stragglers: only pending rows.
        Index(
            "ix_inbound_event_pending",
            "id",
            postgresql_where=text("state = 'pending'"),
            sqlite_where=text("state = 'pending'"),
        ),
        Index(
            "ix_inbound_event_parked",
            "id",
            postgresql_where=text("state = 'parked'"),
            sqlite_where=text("state = 'parked'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"))
    channel_account_id: Mapped[int] = mapped_column(
        ForeignKey("channel_account.id", ondelete="CASCADE")
    )
    # Which handler reads it: "sms", "sms_status", "facebook", "instagram", "comments", "webchat".
    kind: Mapped[str] = mapped_column(String(32))
    provider_key: Mapped[str] = mapped_column(String(255))
    # The body exactly as received and what is needed to re-verify or replay it.
    body: Mapped[bytes] = mapped_column(LargeBinary)
    url: Mapped[str] = mapped_column(Text, default="")
    headers: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    state: Mapped[EventState] = mapped_column(
        enum_column(EventState, 16), default=EventState.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
