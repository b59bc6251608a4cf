"""Suggestions that two contacts are the same citizen (one citizen, many channels).

Nothing is merged silently: every match, certain or likely, is a suggestion a caseworker
confirms (merge, undoable) or rejects (never suggested again for that pair).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from inbox.extensions import db
from inbox.models.base import JSONType, TenantScoped, Timestamped, UTCDateTime, enum_column


class MatchReason(enum.StrEnum):
    CERTAIN = "certain"  # same normalised phone number or e-mail address
    LIKELY = "likely"  # same normalised name within the municipality
    # An anonymous chat visitor who then signed in with ID-porten in the same chat: the
    # identified contact and the anonymous one are suggested, never merged silently.
    IDPORTEN = "idporten"


class MatchStatus(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"  # merged; `merge_record` says how to undo it
    REJECTED = "rejected"  # never suggested again for this pair
    UNDONE = "undone"  # confirmed, then undone; like rejected, not suggested again


class ContactMatchSuggestion(TenantScoped, Timestamped, db.Model):
    # One row per pair (contact_a_id < contact_b_id), whatever its fate.
    __table_args__ = (UniqueConstraint("contact_a_id", "contact_b_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_a_id: Mapped[int] = mapped_column(
        ForeignKey("contact.id", ondelete="CASCADE"), index=True
    )
    contact_b_id: Mapped[int] = mapped_column(
        ForeignKey("contact.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[MatchReason] = mapped_column(enum_column(MatchReason, 16))
    # What matched: "phone", "email" or "name" (never the value itself).
    matched_on: Mapped[str] = mapped_column(String(16))
    status: Mapped[MatchStatus] = mapped_column(
        enum_column(MatchStatus, 16), default=MatchStatus.PENDING
    )
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What a confirmed merge moved, so it can be undone exactly.
    merge_record: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
