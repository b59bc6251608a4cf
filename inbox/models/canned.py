"""Canned replies: a municipality's ready-made answers, with placeholders."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from inbox.extensions import db
from inbox.models.base import TenantScoped, Timestamped


class CannedReply(TenantScoped, Timestamped, db.Model):
    __table_args__ = (UniqueConstraint("tenant_id", "title"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(120))
    # May contain {citizen_name} and {caseworker_name}; filled in when inserted.
    body: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
