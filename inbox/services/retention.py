"""Deleting what is not archive-worthy once its time is up.

Privacy law: keep no longer than needed.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, exists, select

from archiving.models import ArchiveItem, ArchiveState
from inbox.extensions import db
from inbox.models import Conversation, ConversationStatus, Tenant
from inbox.models.base import utcnow
from inbox.services import audit

# Items still on their way to the records system keep their conversation alive.
_PENDING = (
    ArchiveState.FLAGGED,
    ArchiveState.RETURNED,
    ArchiveState.APPROVED,
    ArchiveState.JOURNALLING,
    ArchiveState.FAILED,
)


def apply(batch: int = 500) -> int:
    """Delete closed conversations past their tenant's retention period. Returns the count."""
    deleted = 0
    for tenant in db.session.scalars(select(Tenant)).all():
        cutoff = utcnow() - timedelta(days=tenant.retention_days)
        ids = db.session.scalars(
            select(Conversation.id)
            .where(
                Conversation.tenant_id == tenant.id,
                Conversation.status == ConversationStatus.CLOSED,
                Conversation.last_activity_at < cutoff,
                ~exists().where(
                    ArchiveItem.conversation_id == Conversation.id,
                    ArchiveItem.state.in_(_PENDING),
                ),
            )
            .limit(batch)
        ).all()
        if not ids:
            continue
        # Archive items that reached the records system (or were withdrawn) go with them;
        # the receipts stay in the audit log.
        _delete_conversations(ids)
        audit.record(
            "retention.delete",
            tenant,
            tenant_id=tenant.id,
            actor_label="worker",
            conversations=len(ids),
        )
        deleted += len(ids)
    return deleted


def _delete_conversations(ids: list[int]) -> None:
    from archiving.models import ArchiveItemMessage, JournalReceipt
    from inbox.models import Message

    item_ids = select(ArchiveItem.id).where(ArchiveItem.conversation_id.in_(ids))
    db.session.execute(delete(JournalReceipt).where(JournalReceipt.archive_item_id.in_(item_ids)))
    db.session.execute(
        delete(ArchiveItemMessage).where(ArchiveItemMessage.archive_item_id.in_(item_ids))
    )
    db.session.execute(delete(ArchiveItem).where(ArchiveItem.conversation_id.in_(ids)))
    db.session.execute(delete(Message).where(Message.conversation_id.in_(ids)))
    db.session.execute(delete(Conversation).where(Conversation.id.in_(ids)))
