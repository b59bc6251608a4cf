"""The inbound queue's batch task: pending events become messages, in arrival order.

Claiming: PostgreSQL takes a transaction-level advisory lock (one batch at a time, so events of
one conversation are stored in the order they arrived) and the rows with FOR UPDATE SKIP
LOCKED; SQLite has one writer anyway (BEGIN IMMEDIATE, inbox/db.py). The events are marked
done in the same transaction that stores their messages, so a worker killed mid-batch leaves
them pending for the next; the sweeper re-kicks events whose kick was lost.

A kick that finds another worker draining returns at once: the drainer looks again for
pending events after it lets go of the lock, so nothing that arrived meanwhile waits.
"""

from __future__ import annotations

import logging
import traceback
from time import sleep

from celery import shared_task
from flask import current_app
from sqlalchemy import exc as sa_exc
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from channels.inbound import Batch, EventFailed, handler_for
from channels.interfaces import InvalidPayload
from inbox.db import among
from inbox.extensions import db
from inbox.models import ChannelAccount, EventState, InboundEvent
from inbox.models.base import utcnow
from inbox.services import events as event_log

log = logging.getLogger(__name__)

SQLITE_BATCH_SIZE = 50
# A batch of at least this many events means a storm: the next one waits to gather (below
# that, messages trickle in and are stored at once).
STORM = 10
MAX_ROUNDS = 50  # then hand over to a fresh task, so one task never runs for ever
_LOCK_KEY = 0x5E771CE  # "one inbound batch at a time" (PostgreSQL advisory lock)
# Database trouble is nobody's fault in the batch: the task fails, the events stay pending.
_NOT_THE_EVENT = (sa_exc.OperationalError, sa_exc.InterfaceError)


@shared_task(name=event_log.PROCESS_TASK)
def process_events(batch_size: int | None = None) -> int:
    """Drain pending events; returns how many were settled (done or parked)."""
    batch_size = max(1, batch_size or int(current_app.config["INBOUND_BATCH_SIZE"]))
    if not _postgres():
        # SQLite's one writer: webhooks wait for the batch's lock (busy_timeout), so its
        # transaction stays short even on a busy machine.
        batch_size = min(batch_size, SQLITE_BATCH_SIZE)
    gather = max(0.0, float(current_app.config.get("INBOUND_BATCH_GATHER_MS") or 0)) / 1000
    settled, last = 0, 0
    for _ in range(MAX_ROUNDS):
        if not _lock():
            _end_read()
            return settled  # another worker is draining and will look again after us
        if gather and STORM <= last < batch_size:
            # A storm: a batch costs about as much for 20 events as for 200, so let the
            # next one gather what arrives meanwhile, holding the lock (kicks that come in
            # the meantime return at once). A full batch means more is waiting already.
            sleep(gather)
        ids = _claim(None, batch_size)
        last = len(ids)
        if not ids:
            _end_read()
            if not _any_pending():
                return settled
            continue
        _end_read()  # the claim is repeated inside each attempt below
        settled += _settle(ids)
    event_log.kick()
    db.session.commit()
    return settled


def _end_read() -> None:
    """End a transaction that only read and locked. A COMMIT, not a ROLLBACK: the driver
    (psycopg) forgets every statement it prepared on a ROLLBACK, so with one after each
    claim PostgreSQL planned every statement of every batch again."""
    db.session.commit()


def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _lock() -> bool:
    if not _postgres():
        return True
    return bool(db.session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _LOCK_KEY}))


def _any_pending() -> bool:
    found = db.session.scalar(
        select(InboundEvent.id).where(InboundEvent.state == EventState.PENDING).limit(1)
    )
    _end_read()
    return found is not None


def _claim(ids: list[int] | None, limit: int, session: Session | None = None) -> list[int]:
    """Lock up to `limit` pending events for this transaction, oldest first. On PostgreSQL
    rows another transaction holds are skipped (FOR UPDATE SKIP LOCKED), never taken twice."""
    session = session or db.session
    q = select(InboundEvent.id).where(InboundEvent.state == EventState.PENDING)
    if ids is not None:
        q = q.where(among(InboundEvent.id, ids))
    q = q.order_by(InboundEvent.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    return list(session.scalars(q))


def _settle(ids: list[int]) -> int:
    """Process the events in one transaction; on a failure, park or count the event to blame
    and try the rest again without it. Returns how many were settled."""
    settled = 0
    parts = [ids]
    while parts:
        part = parts.pop()
        try:
            settled += _run(part)
        except EventFailed as failed:
            db.session.rollback()
            if isinstance(failed.error, _NOT_THE_EVENT):
                raise failed.error from failed
            settled += _failed(failed.event_id, failed.error)
            rest = [i for i in part if i != failed.event_id]
            if rest:
                parts.append(rest)
        except _NOT_THE_EVENT:
            db.session.rollback()
            raise
        except Exception as exc:  # noqa: BLE001 - not attributed: find the event one by one
            db.session.rollback()
            if len(part) == 1:
                settled += _failed(part[0], exc)
            else:
                parts.extend([i] for i in reversed(part))
    return settled


def _run(ids: list[int]) -> int:
    if not _lock():
        return 0  # another worker took over; it will process them
    claimed = _claim(ids, len(ids))
    if not claimed:
        _end_read()
        return 0
    events = list(
        db.session.scalars(
            select(InboundEvent).where(among(InboundEvent.id, claimed)).order_by(InboundEvent.id)
        )
    )
    # The batch's accounts in one query (events of many numbers or pages in one batch).
    accounts = {
        a.id: a
        for a in db.session.scalars(
            select(ChannelAccount).where(
                among(ChannelAccount.id, {ev.channel_account_id for ev in events})
            )
        )
    }
    batch = Batch()
    for ev in events:
        batch.event_id = ev.id
        account = accounts.get(ev.channel_account_id)
        try:
            if account is None:
                raise InvalidPayload("the channel account is gone")
            handler_for(ev.kind)(ev, account, batch)
        except Exception as exc:
            raise EventFailed(ev.id, exc) from exc
    batch.run()
    db.session.execute(
        update(InboundEvent)
        .where(among(InboundEvent.id, claimed))
        .values(state=EventState.DONE, processed_at=utcnow(), last_error=None)
    )
    db.session.commit()
    for fn in batch.after_commit:
        try:
            fn()
            db.session.commit()
        except Exception:  # noqa: BLE001 - the messages are stored; this was extra
            db.session.rollback()
            log.exception("after-commit work of an inbound batch failed")
    return len(claimed)


def _failed(event_id: int, error: BaseException) -> int:
    """Count the failure; park the event when its shape is wrong or it keeps failing."""
    ev = db.session.get(InboundEvent, event_id)
    if ev is None or ev.state is not EventState.PENDING:
        db.session.rollback()
        return 0
    ev.attempts += 1
    detail = "".join(traceback.format_exception_only(error)).strip()
    ev.last_error = detail[:2000]
    if isinstance(error, InvalidPayload) or ev.attempts >= event_log.MAX_ATTEMPTS:
        ev.state = EventState.PARKED
        log.warning("inbound event %s parked: %s", ev.id, detail)
    else:
        log.warning("inbound event %s failed (attempt %s): %s", ev.id, ev.attempts, detail)
    db.session.commit()
    return 1 if ev.state is EventState.PARKED else 0
