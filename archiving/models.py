"""Archive items: what caseworkers flagged as part of a case, through review to the journal."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from inbox.extensions import db
from inbox.models.base import (
    JSONType,
    TenantScoped,
    Timestamped,
    UTCDateTime,
    enum_column,
    new_uuid,
    utcnow,
)


class ArchiveState(enum.StrEnum):
    FLAGGED = "flagged"  # caseworker flagged it; waiting for records staff
    RETURNED = "returned"  # records staff sent it back with a comment
    APPROVED = "approved"  # waiting for the archiving worker
    JOURNALLING = "journalling"  # a worker is writing it to the records system
    JOURNALLED = "journalled"  # receipt stored; only records staff can act now
    FAILED = "failed"  # permanent error; records staff can retry
    WITHDRAWN = "withdrawn"  # unflagged before it was journalled


# Allowed transitions of the state machine.
TRANSITIONS: dict[ArchiveState, set[ArchiveState]] = {
    ArchiveState.FLAGGED: {ArchiveState.APPROVED, ArchiveState.RETURNED, ArchiveState.WITHDRAWN},
    ArchiveState.RETURNED: {ArchiveState.FLAGGED, ArchiveState.WITHDRAWN},
    ArchiveState.APPROVED: {ArchiveState.JOURNALLING, ArchiveState.FLAGGED},
    ArchiveState.JOURNALLING: {
        ArchiveState.JOURNALLED,
        ArchiveState.APPROVED,  # transient failure: back off and try again
        ArchiveState.FAILED,
    },
    ArchiveState.FAILED: {ArchiveState.APPROVED},
    ArchiveState.JOURNALLED: set(),
    ArchiveState.WITHDRAWN: set(),
}


class InvalidTransition(ValueError):
    pass


class ArchiveItem(TenantScoped, Timestamped, db.Model):
    __table_args__ = (Index("ix_archive_item_queue", "tenant_id", "state", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id"), index=True)
    state: Mapped[ArchiveState] = mapped_column(
        enum_column(ArchiveState, 16), default=ArchiveState.FLAGGED
    )
    # Sent to the records system as the external key, so a retry finds an earlier entry.
    idempotency_key: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    case_number: Mapped[str | None] = mapped_column(String(32))  # "2026/1234"; None = new case
    new_case_title: Mapped[str | None] = mapped_column(String(300))
    title: Mapped[str] = mapped_column(String(300))
    correspondent_name: Mapped[str | None] = mapped_column(String(200))
    correspondent_address: Mapped[str | None] = mapped_column(String(300))
    anonymous: Mapped[bool] = mapped_column(default=False)
    # Screening under offentleglova: tilgangsrestriksjon code, legal basis, screened fields.
    screening_code: Mapped[str | None] = mapped_column(String(16))
    screening_basis: Mapped[str | None] = mapped_column(String(200))
    screening_fields: Mapped[str | None] = mapped_column(String(200))
    note_to_records: Mapped[str | None] = mapped_column(Text)
    review_comment: Mapped[str | None] = mapped_column(Text)
    flagged_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    messages: Mapped[list[ArchiveItemMessage]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="ArchiveItemMessage.message_id"
    )
    receipts: Mapped[list[JournalReceipt]] = relationship(lazy="selectin")

    def move_to(self, new: ArchiveState) -> None:
        if new not in TRANSITIONS[self.state]:
            raise InvalidTransition(f"cannot go from {self.state} to {new}")
        self.state = new


class ArchiveItemMessage(db.Model):
    """A message included in an archive item, with its journalposttype (I, U, N, X)."""

    archive_item_id: Mapped[int] = mapped_column(
        ForeignKey("archive_item.id", ondelete="CASCADE"), primary_key=True
    )
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id"), primary_key=True, index=True)
    journalposttype: Mapped[str] = mapped_column(String(1))


class JournalReceipt(TenantScoped, Timestamped, db.Model):
    """What the records system answered when an entry was made (one per journalpost)."""

    __table_args__ = (UniqueConstraint("archive_item_id", "part"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    archive_item_id: Mapped[int] = mapped_column(ForeignKey("archive_item.id"), index=True)
    # An archive item may become several journal entries; each has its own part number.
    part: Mapped[int] = mapped_column(Integer, default=0)
    adapter: Mapped[str] = mapped_column(String(32))
    system_id: Mapped[str] = mapped_column(String(64))  # the journalpost's systemID
    journalpostnummer: Mapped[str | None] = mapped_column(String(32))  # "2026/1234-3"
    case_number: Mapped[str] = mapped_column(String(32))
    journal_date: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    document_sha256: Mapped[str | None] = mapped_column(String(64))
    document_size: Mapped[int | None] = mapped_column(Integer)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
