"""Handing a queued reply to its channel's provider.

A worker claims a reply (QUEUED -> SENDING) with a lease: `next_attempt_at` is when the lease
runs out. A transient failure puts it back as QUEUED with `next_attempt_at` at the time the
next attempt is due; success and permanent failure clear it. The sweeper
(workers/housekeeping.py) re-sends what is due and takes back a send whose worker died (its
lease ran out), marking it unconfirmed, since the provider may have it (channels/interfaces.py).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import update

from channels.interfaces import (
    AmbiguousSendError,
    PermanentSendError,
    TransientSendError,
    clear_unconfirmed,
    mark_unconfirmed,
    unconfirmed_send,
)
from channels.registry import get_connector
from inbox.extensions import db
from inbox.models import ChannelAccount, DeliveryStatus, Message
from inbox.models.base import utcnow
from inbox.services.ingest import update_delivery_status

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8


def retry_delay(attempt: int) -> int:
    """Seconds before the next try: 10 s, 20 s, 40 s ... capped at 30 minutes."""
    return min(10 * 2 ** max(attempt - 1, 0), 1800)


def send_lease() -> timedelta:
    return timedelta(seconds=current_app.config["SEND_LEASE_SECONDS"])


def lease_started(lease_ends: datetime) -> datetime:
    """When the attempt holding a lease that ends at `lease_ends` began."""
    return lease_ends - send_lease()


def send(message_id: int) -> tuple[str, int | None]:
    """Send a queued message once. Returns (outcome, seconds until a retry or None)."""
    # Claim it: only one worker moves it from QUEUED to SENDING, and holds it for the lease.
    claimed = db.session.execute(
        update(Message)
        .where(Message.id == message_id, Message.delivery_status == DeliveryStatus.QUEUED)
        .values(
            delivery_status=DeliveryStatus.SENDING,
            send_attempts=Message.send_attempts + 1,
            next_attempt_at=utcnow() + send_lease(),
        )
    ).rowcount
    db.session.commit()
    if claimed != 1:
        return "skipped", None
    msg = db.session.get(Message, message_id)
    assert msg is not None
    account = db.session.get(ChannelAccount, msg.channel_account_id)
    assert account is not None
    known_id, started = msg.provider_message_id, utcnow()
    try:
        result = get_connector(account.kind).send(account, msg)
    except TransientSendError as exc:
        db.session.rollback()
        if _reported_meanwhile(msg, known_id):
            return str(msg.delivery_status), None
        msg.error_code, msg.error_message = exc.code, str(exc)
        if isinstance(exc, AmbiguousSendError):
            # The provider may have it: the next attempt first finds out (see interfaces).
            mark_unconfirmed(msg, started, utcnow())
        # A message that may already be out is never given up on (FAILED would be untrue and
        # final); it stays queued until the provider answers whether it has it.
        if msg.send_attempts >= MAX_ATTEMPTS and unconfirmed_send(msg) is None:
            msg.delivery_status, msg.next_attempt_at = DeliveryStatus.FAILED, None
            db.session.commit()
            return "failed", None
        delay = exc.retry_after if exc.retry_after is not None else retry_delay(msg.send_attempts)
        msg.delivery_status = DeliveryStatus.QUEUED
        msg.next_attempt_at = utcnow() + timedelta(seconds=delay)
        db.session.commit()
        log.info("transient send error for message %s: %s", message_id, exc)
        return "retry", delay
    except PermanentSendError as exc:
        db.session.rollback()
        if _reported_meanwhile(msg, known_id):
            return str(msg.delivery_status), None
        msg.delivery_status, msg.next_attempt_at = DeliveryStatus.FAILED, None
        msg.error_code, msg.error_message = exc.code, str(exc)
        clear_unconfirmed(msg)
        db.session.commit()
        return "failed", None
    # A status report (the web-chat widget marking it delivered) may have been committed
    # while the provider was called: re-read under lock so it is never moved backwards.
    db.session.refresh(msg, with_for_update=True)
    msg.provider_message_id = result.provider_message_id or msg.provider_message_id
    msg.provider_parent_id = result.provider_parent_id or msg.provider_parent_id
    msg.sent_at = result.sent_at or utcnow()
    msg.next_attempt_at = None
    clear_unconfirmed(msg)
    if msg.delivery_status not in (DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED):
        # What an earlier failed attempt left there no longer applies: it is out.
        msg.error_code = msg.error_message = None
    update_delivery_status(
        msg, result.status, error_code=result.error_code, error_message=result.error_message
    )
    db.session.commit()
    return str(msg.delivery_status), None


def _reported_meanwhile(msg: Message, known_id: str | None) -> bool:
    """Whether the provider named this message while it was being called: a status report
    (an SMS status callback, whose URL carries our id) that beat a lost or failed answer. The
    provider has it then; putting it back in the queue would send it twice."""
    db.session.refresh(msg, with_for_update=True)
    if msg.provider_message_id is None or msg.provider_message_id == known_id:
        return False
    msg.next_attempt_at = None
    db.session.commit()
    log.info(
        "message %s: the provider reported it as %s meanwhile", msg.id, msg.provider_message_id
    )
    return True
