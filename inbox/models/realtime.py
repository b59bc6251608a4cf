"""Real-time plumbing kept in the database: the event log the SSE stream polls when there is
no Redis (embedded mode), and "who is typing a reply" presence with an expiry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, text
from sqlalchemy.orm import Mapped, mapped_column

from inbox.extensions import db
from inbox.models.base import JSONType, UTCDateTime, utcnow


class RealtimeEvent(db.Model):
    """A tenant-scoped change notice (new message, assignment, status change, typing).

    Only written when REDIS_URL is unset; rows older than a few minutes are pruned."""

    __table_args__ = (Index("ix_realtime_event_tenant", "tenant_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class ConversationPresence(db.Model):
    """A caseworker typing a reply in a conversation, until expires_at."""

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversation.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


# Indexes the queue views need (declared here so the queue's schema lives in one place; the
# conversation table itself is defined in conversations.py). See inbox/services/queue.py.
def _queue_indexes() -> None:
    from inbox.models.conversations import Conversation

    c = Conversation.__table__.c
    Index("ix_conversation_team_queue", c.team_id, c.status, c.last_activity_at, c.id)
    Index("ix_conversation_waiting", c.tenant_id, c.status, c.waiting_since, c.id)
    Index("ix_conversation_assignee_waiting", c.assignee_id, c.status, c.waiting_since, c.id)
    Index("ix_conversation_team_waiting", c.team_id, c.status, c.waiting_since, c.id)
    # The per-view counts read only this index (an index-only scan of the open conversations).
    Index(
        "ix_conversation_open_counts",
        c.tenant_id,
        postgresql_include=["assignee_id", "team_id", "has_unread", "waiting_since"],
        postgresql_where=text("status = 'open' AND merged_into_id IS NULL"),
        sqlite_where=text("status = 'open' AND merged_into_id IS NULL"),
    )


_queue_indexes()
