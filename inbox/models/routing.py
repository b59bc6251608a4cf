"""Routing rules: which team a new conversation goes to (inbox/services/routing.py)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from inbox.extensions import db
from inbox.models.base import TenantScoped, Timestamped


class RoutingRule(TenantScoped, Timestamped, db.Model):
    """The first rule (by position) whose every given condition matches sends the conversation
    to its team; empty conditions match anything."""

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    channel_kind: Mapped[str | None] = mapped_column(String(32))
    keyword: Mapped[str | None] = mapped_column(String(100))
    phone_prefix: Mapped[str | None] = mapped_column(String(16))
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"))
