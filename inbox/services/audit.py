"""Writing to the append-only audit log."""

from __future__ import annotations

from typing import Any

from inbox.extensions import db
from inbox.models import AuditEntry, User


def record(
    action: str,
    obj: Any,
    *,
    tenant_id: int | None,
    actor: User | None = None,
    actor_label: str | None = None,
    **data: Any,
) -> AuditEntry:
    """Log that `actor` did `action` to `obj` (a model instance with an id)."""
    # An API token acting (inbox/services/api_tokens.TokenActor) is named by its own label.
    label = actor_label or getattr(actor, "audit_label", None)
    label = label or (f"user:{actor.id}" if actor is not None else "system")
    entry = AuditEntry(
        tenant_id=tenant_id,
        actor_id=actor.id if actor is not None else None,
        actor_label=label,
        action=action,
        object_type=type(obj).__name__,
        object_id=str(obj.id),
        data=data,
    )
    db.session.add(entry)
    return entry
