"""Periodic housekeeping: re-send lost work, delete what is past its time."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from sqlalchemy import or_, select

from archiving.journal import lease
from archiving.models import ArchiveItem, ArchiveState
from inbox.db import enqueue
from inbox.extensions import db
from inbox.models import DeliveryStatus, Message
from inbox.models.base import utcnow

# Work older than this without progress is assumed lost (broker down, worker killed).
STALE = timedelta(minutes=2)


@shared_task(name="servicetorg.housekeeping.sweep")
def sweep() -> dict[str, int]:
    now = utcnow()
    stale = now - STALE
    messages = db.session.scalars(
        select(Message.id)
        .where(Message.delivery_status == DeliveryStatus.QUEUED, Message.sent_at < stale)
        .limit(500)
    ).all()
    for mid in messages:
        enqueue("servicetorg.outbound.send_message", mid)
    items = db.session.scalars(
        select(ArchiveItem.id)
        .where(
            or_(
                # A task lost on the way (broker down at commit time).
                (ArchiveItem.state == ArchiveState.APPROVED)
                & ArchiveItem.next_attempt_at.is_(None)
                & (ArchiveItem.updated_at < stale),
                # Backing off from a records system that was down: due again.
                (ArchiveItem.state == ArchiveState.APPROVED) & (ArchiveItem.next_attempt_at <= now),
                # Waiting for an asynchronous receipt (Fiks Arkiv): time to look for it.
                (ArchiveItem.state == ArchiveState.JOURNALLING)
                & (ArchiveItem.next_attempt_at <= now),
                # A worker died mid-journalling; once its lease runs out journal_item takes the
                # item over and finds any entry the dead worker made, by its external key.
                (ArchiveItem.state == ArchiveState.JOURNALLING)
                & ArchiveItem.next_attempt_at.is_(None)
                & (ArchiveItem.updated_at < now - lease()),
            )
        )
        .limit(500)
    ).all()
    for iid in items:
        enqueue("servicetorg.archiving.journal", iid)
    db.session.commit()
    return {"messages": len(messages), "archive_items": len(items)}


@shared_task(name="servicetorg.housekeeping.apply_retention")
def apply_retention() -> int:
    from inbox.services.retention import apply

    deleted = apply()
    db.session.commit()
    return deleted


@shared_task(name="servicetorg.housekeeping.reopen_snoozed")
def reopen_snoozed() -> int:
    """Snoozed conversations whose time has come go back to the queue as open and unread."""
    from inbox.services.workflow import reopen_due

    reopened = reopen_due()
    db.session.commit()
    return reopened
