"""Insight (docs/insight.md): one fact row per conversation and daily rollups, kept up to date
incrementally by inbox/services/insight.py, so the dashboard never scans the messages."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from inbox.extensions import db
from inbox.models.base import JSONType, UTCDateTime


class ConversationFact(db.Model):
    """What the dashboard needs to know about one conversation (merged-away ones have none)."""

    __tablename__ = "conversation_fact"
    __table_args__ = (Index("ix_conversation_fact_period", "tenant_id", "created_at"),)

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversation.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"))
    # 0 = no team (a plain integer, so it can sit in the rollups' unique keys).
    team_id: Mapped[int] = mapped_column(Integer, default=0)
    channel_kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Arrival in the municipality's time zone.
    local_date: Mapped[date] = mapped_column(Date)
    local_hour: Mapped[int] = mapped_column(Integer)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Wall-clock seconds to the first reply, and the seconds of it inside opening hours.
    first_response_seconds: Mapped[int | None] = mapped_column(Integer)
    first_response_open_seconds: Mapped[int | None] = mapped_column(Integer)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_seconds: Mapped[int | None] = mapped_column(Integer)
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    journalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Replies sent while the municipality was closed.
    replies: Mapped[int] = mapped_column(Integer, default=0)
    replies_outside_hours: Mapped[int] = mapped_column(Integer, default=0)
    # Words of the first inbound message, stop words removed, space separated.
    first_terms: Mapped[str] = mapped_column(Text, default="")
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InsightDaily(db.Model):
    """Counts per municipality, team, channel, local day and local hour."""

    __tablename__ = "insight_daily"
    __table_args__ = (
        UniqueConstraint("tenant_id", "local_date", "team_id", "channel_kind", "local_hour"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"))
    local_date: Mapped[date] = mapped_column(Date)
    team_id: Mapped[int] = mapped_column(Integer, default=0)
    channel_kind: Mapped[str] = mapped_column(String(32))
    local_hour: Mapped[int] = mapped_column(Integer)
    inquiries: Mapped[int] = mapped_column(Integer, default=0)
    replies: Mapped[int] = mapped_column(Integer, default=0)
    replies_outside_hours: Mapped[int] = mapped_column(Integer, default=0)


class InsightTermDaily(db.Model):
    """How many first messages of a local day used a term."""

    __tablename__ = "insight_term_daily"
    __table_args__ = (UniqueConstraint("tenant_id", "local_date", "team_id", "term"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"))
    local_date: Mapped[date] = mapped_column(Date)
    team_id: Mapped[int] = mapped_column(Integer, default=0)
    term: Mapped[str] = mapped_column(String(64))
    uses: Mapped[int] = mapped_column(Integer, default=0)


class InsightState(db.Model):
    """Per municipality: how far the facts are refreshed, and its cost per contact."""

    __tablename__ = "insight_state"

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenant.id", ondelete="CASCADE"), primary_key=True
    )
    # Conversations changed after this (less a safety margin) are refreshed next time.
    refreshed_through: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Cost per contact in kroner per channel kind ({"webchat": 3, ...}); missing = default.
    costs: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
