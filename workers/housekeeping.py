"""Periodic housekeeping: re-send lost work, delete what is past its time.

Tasks are sent after their transaction commits; with the broker down at that moment the task
is lost but the work is in the database. Every task the broker refused is written to
`unsent_task` (inbox/db.py) and sent again at the next sweep, whatever its kind. For work
whose task may be lost without a refusal (a process killed between commit and send, a worker
killed mid-task, a broker that lost its queues), the sweeper also looks for the work itself:
replies not handed over, archive items not journalled, and whatever other module registers a
source with `sweep_source` (for example inbound events not yet turned into messages). A source
returns the (task name, arguments) pairs to send again; it is called with the sweep's time and
the time before which work without progress counts as lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from celery import shared_task
from flask import current_app
from sqlalchemy import or_, select, text

from archiving.journal import lease
from archiving.models import ArchiveItem, ArchiveState
from channels.interfaces import mark_unconfirmed
from inbox.db import enqueue
from inbox.extensions import db
from inbox.models import DeliveryStatus, Message, UnsentTask
from inbox.models.base import utcnow
from inbox.models.conversations import UNSENT_SQL
from inbox.services import events, outbound

log = logging.getLogger(__name__)
UNSENT = text(f"message.{UNSENT_SQL}")

# Work older than this (SWEEP_STALE_SECONDS) without progress is assumed lost (broker down
# at commit time, worker killed).
STALE = timedelta(minutes=2)
# An inbound event still pending after this is re-kicked (a batch takes well under a second).
INBOUND_STALE = timedelta(seconds=5)

SweepSource = Callable[[datetime, datetime], list[tuple[str, tuple[Any, ...]]]]
SOURCES: dict[str, SweepSource] = {}


def sweep_source(name: str) -> Callable[[SweepSource], SweepSource]:
    """Register `fn(now, stale)` -> [(task name, args)]: work whose task may have been lost.
    Each source is reported under `name` in the sweep's result."""

    def register(fn: SweepSource) -> SweepSource:
        SOURCES[name] = fn
        return fn

    return register


def stale_before(now: datetime) -> datetime:
    seconds = current_app.config.get("SWEEP_STALE_SECONDS")
    return now - (timedelta(seconds=seconds) if seconds is not None else STALE)


def _load_sources() -> None:
    """Sources register when their task module is imported: import them all, so the sweep
    finds every source wherever it runs (a worker imports them at start, other processes
    might not have)."""
    from importlib import import_module

    from workers.celery_app import TASK_MODULES

    for module in TASK_MODULES:
        import_module(module)


@shared_task(name="servicetorg.housekeeping.sweep")
def sweep() -> dict[str, int]:
    _load_sources()
    now = utcnow()
    stale = stale_before(now)
    abandoned = _take_back_abandoned_sends(now)
    messages = db.session.scalars(
        select(Message.id)
        .where(
            UNSENT,  # the partial index ix_message_unsent: only replies not yet handed over
            Message.delivery_status == DeliveryStatus.QUEUED,
            or_(
                # A new reply whose task was lost on the way (broker down at commit time).
                Message.next_attempt_at.is_(None) & (Message.sent_at < stale),
                # A retry that is overdue (its task lost, or Celery's retries used up).
                Message.next_attempt_at < stale,
            ),
        )
        .limit(500)
    ).all()
    messages = [mid for mid in messages if mid not in abandoned]  # each counted once
    for mid in (*abandoned, *messages):
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
    counts = {"messages": len(messages), "abandoned": len(abandoned), "archive_items": len(items)}
    counts["unsent_tasks"] = _resend_unsent()
    counts["inbound_events"] = events.stragglers(INBOUND_STALE, now)
    if counts["inbound_events"]:
        events.kick()  # their kick was lost (broker down, worker killed before it ran)
    for name, source in SOURCES.items():
        found = source(now, stale)
        for task_name, args in found:
            enqueue(task_name, *args)
        counts[name] = len(found)
    db.session.commit()
    return counts


def _resend_unsent() -> int:
    """Tasks the broker refused after their commit: queued again (sent after this commit; if
    the broker refuses again they are written down again)."""
    rows = db.session.scalars(
        select(UnsentTask).order_by(UnsentTask.id).limit(500).with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        enqueue(row.name, *row.args, **row.kwargs)
        db.session.delete(row)
    return len(rows)


def _take_back_abandoned_sends(now: datetime) -> list[int]:
    """Replies whose worker died while sending (the lease ran out): queued again, marked
    unconfirmed, since the provider may have them; the next attempt finds out first where the
    channel can (SMS), so nothing is sent twice. Rows a live worker is finishing are locked by
    it and skipped."""
    rows = db.session.scalars(
        select(Message)
        .where(
            UNSENT,
            Message.delivery_status == DeliveryStatus.SENDING,
            Message.next_attempt_at <= now,
        )
        .limit(500)
        .with_for_update(skip_locked=True)
    ).all()
    for msg in rows:
        assert msg.next_attempt_at is not None
        mark_unconfirmed(msg, outbound.lease_started(msg.next_attempt_at), now)
        msg.delivery_status, msg.next_attempt_at = DeliveryStatus.QUEUED, None
    if rows:
        log.warning("took back %d replies whose worker died while sending", len(rows))
    return [m.id for m in rows]


@shared_task(name="servicetorg.housekeeping.apply_retention")
def apply_retention() -> int:
    from inbox.services.retention import apply

    deleted = apply()
    db.session.commit()
    return deleted


@shared_task(name="servicetorg.housekeeping.purge_events")
def purge_events() -> int:
    """Inbound events processed more than INBOUND_EVENTS_KEEP_HOURS ago are deleted (their
    raw bodies hold what citizens sent; inbox/services/events.purge_processed)."""
    hours = float(current_app.config["INBOUND_EVENTS_KEEP_HOURS"])
    return events.purge_processed(timedelta(hours=hours))


@shared_task(name="servicetorg.housekeeping.reopen_snoozed")
def reopen_snoozed() -> int:
    """Snoozed conversations whose time has come go back to the queue as open and unread."""
    from inbox.services.workflow import reopen_due

    reopened = reopen_due()
    db.session.commit()
    return reopened
