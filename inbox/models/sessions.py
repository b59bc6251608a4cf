"""Staff sign-in sessions kept on the server, so signing out really ends one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from inbox.extensions import db
from inbox.models.base import UTCDateTime, utcnow


class StaffSession(db.Model):
    """One signed-in browser. The session cookie carries a random token; only its SHA-256 is
    kept here. A session counts while it has not ended and has not expired."""

    __tablename__ = "staff_session"
    __table_args__ = (Index("ix_staff_session_user", "user_id", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Shown to the account's owner on the sessions page, to recognise a browser.
    user_agent: Mapped[str | None] = mapped_column(String(200))
    ip_address: Mapped[str | None] = mapped_column(String(64))
