"""Handing a queued reply to its channel's provider."""

from __future__ import annotations

import logging

from sqlalchemy import update

from channels.interfaces import PermanentSendError, TransientSendError
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


def send(message_id: int) -> tuple[str, int | None]:
    """Send a queued message once. Returns (outcome, seconds until a retry or None)."""
    # Claim it: only one worker moves it from QUEUED to SENDING.
    claimed = db.session.execute(
        update(Message)
        .where(Message.id == message_id, Message.delivery_status == DeliveryStatus.QUEUED)
        .values(delivery_status=DeliveryStatus.SENDING, send_attempts=Message.send_attempts + 1)
    ).rowcount
    db.session.commit()
    if claimed != 1:
        return "skipped", None
    msg = db.session.get(Message, message_id)
    assert msg is not None
    account = db.session.get(ChannelAccount, msg.channel_account_id)
    assert account is not None
    try:
        result = get_connector(account.kind).send(account, msg)
    except TransientSendError as exc:
        db.session.rollback()
        msg.error_code, msg.error_message = exc.code, str(exc)
        if msg.send_attempts >= MAX_ATTEMPTS:
            msg.delivery_status = DeliveryStatus.FAILED
            db.session.commit()
            return "failed", None
        msg.delivery_status = DeliveryStatus.QUEUED
        db.session.commit()
        log.info("transient send error for message %s: %s", message_id, exc)
        return "retry", retry_delay(msg.send_attempts)
    except PermanentSendError as exc:
        db.session.rollback()
        msg.delivery_status = DeliveryStatus.FAILED
        msg.error_code, msg.error_message = exc.code, str(exc)
        db.session.commit()
        return "failed", None
    # A status report (the web-chat widget marking it delivered) may have been committed
    # while the provider was called: re-read under lock so it is never moved backwards.
    db.session.refresh(msg, with_for_update=True)
    msg.provider_message_id = result.provider_message_id or msg.provider_message_id
    msg.provider_parent_id = result.provider_parent_id or msg.provider_parent_id
    msg.sent_at = utcnow()
    update_delivery_status(msg, result.status)
    db.session.commit()
    return str(msg.delivery_status), None
