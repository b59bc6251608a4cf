"""Append-only audit log of who did what."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, Index, String, event
from sqlalchemy.orm import Mapped, mapped_column

from inbox.extensions import db
from inbox.models.base import JSONType, Timestamped


class AuditEntry(Timestamped, db.Model):
    __table_args__ = (Index("ix_audit_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # "user:3", "worker", "citizen", "provider:twilio" - who acted, even when not a user.
    actor_label: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class AuditLogIsAppendOnly(RuntimeError):
    pass


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _refuse_change(mapper: Any, connection: Any, target: AuditEntry) -> None:
    # The database enforces this too on PostgreSQL (trigger in the first migration).
    raise AuditLogIsAppendOnly("audit entries cannot be changed or deleted")
