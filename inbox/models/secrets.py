"""Secrets entered on the admin pages, encrypted at rest (inbox/secretstore.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from inbox.extensions import db
from inbox.models.base import TenantScoped, Timestamped, UTCDateTime, utcnow


class StoredSecret(TenantScoped, Timestamped, db.Model):
    """One secret of one owner (a channel account, or the municipality itself), as a Fernet
    token. The value is never read back onto a page: only whether it is set, and when."""

    __table_args__ = (UniqueConstraint("owner_type", "owner_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # "channel_account" or "tenant".
    owner_type: Mapped[str] = mapped_column(String(32))
    owner_id: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(64))
    ciphertext: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
