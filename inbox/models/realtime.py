"""Real-time plumbing kept in the database: the event log the SSE stream polls when there is
no Redis (embedded mode, or Redis down), "who is typing a reply" presence with an expiry, and
the tasks the broker did not take after a commit (sent again by the sweeper)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from inbox.extensions import db
from inbox.models.base import JSONType, UTCDateTime, utcnow


class RealtimeEvent(db.Model):
    """A tenant-scoped change notice (new message, assignment, status change, typing).

    Written when REDIS_URL is unset, or when Redis could not take an event; rows older than a
    few minutes are pruned."""

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


class UnsentTask(db.Model):
    """A task queued after a commit that the broker did not take (it was down); the sweeper
    sends it again and deletes the row. Tasks are idempotent, so sending twice is harmless."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    args: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
