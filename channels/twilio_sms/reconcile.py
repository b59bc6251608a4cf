"""Settling a reply whose earlier send Twilio never confirmed.

Twilio's Messages API has no idempotency key. When a create request got no answer (read
timeout, connection dropped after sending, a gateway's 5xx), Twilio may have created and sent
the SMS anyway, so a blind retry could text the citizen twice. Before the next attempt the
connector lists the messages Twilio has from our number to the citizen, and adopts the one that
is ours instead of sending again. It only sends again when a lookup, made at least SETTLE after
the last unconfirmed attempt, positively shows no such message; a lookup that fails leaves the
reply queued for a later try.

A Twilio message counts as ours when it is outbound, from our number (or our Messaging
Service), to the citizen, has exactly our body, was created no earlier than our first
unconfirmed attempt started (less CLOCK_SLACK), and is not already the provider message of
another of our messages. The earliest such message is taken. Twilio's Message resource does
not return the status callback URL, so the callback (which names our message) cannot be
compared here; a callback that arrives first settles the reply by itself (services.apply_status).
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from requests import RequestException
from sqlalchemy import select
from twilio.base.exceptions import TwilioException

from channels.interfaces import SendResult, TransientSendError, UnconfirmedSend
from channels.twilio_sms import services
from channels.twilio_sms.errors import explain
from inbox.extensions import db
from inbox.models import ChannelAccount, DeliveryStatus, Message
from inbox.models.base import utcnow

log = logging.getLogger(__name__)

# How long after an unconfirmed attempt a lookup that finds nothing is believed: a request
# Twilio was still working on when we gave up, or a list that lags behind, gets this long to
# show the message. By then Twilio has normally sent it, so it has a date_sent as well.
SETTLE = timedelta(seconds=60)
# Our clock and Twilio's may differ a little; Twilio's dates are whole seconds.
CLOCK_SLACK = timedelta(seconds=5)
PAGE_SIZE = 100
# How many of the newest messages to read for ones Twilio has not sent yet (see find()).
RECENT = 50


def settle(
    client: Any, account: ChannelAccount, message: Message, to: str, attempts: UnconfirmedSend
) -> SendResult | None:
    """Our earlier send as Twilio has it, or None when it positively has none.

    Raises TransientSendError (the reply stays queued) when Twilio cannot be asked, or when it
    is too soon after the last unconfirmed attempt to believe that there is none.
    """
    try:
        found = find(client, account, message, to, attempts.first_started_at)
    except (RequestException, TwilioException, OSError, ValueError) as exc:
        raise TransientSendError(
            f"Twilio did not confirm an earlier attempt and could not be asked whether the SMS "
            f"went out; not sent again until it can: {exc}"
        ) from exc
    if found is not None:
        log.info(
            "SMS %s: Twilio has it as %s from an attempt whose answer was lost; not sent again",
            message.id,
            found.sid,
        )
        return adopt(found)
    wait = attempts.last_ended_at + SETTLE - utcnow()
    if wait > timedelta(0):
        raise TransientSendError(
            "Twilio did not confirm an earlier attempt and does not show the SMS yet; "
            "checking again before sending it",
            retry_after=math.ceil(wait.total_seconds()),
        )
    log.info("SMS %s: Twilio has no message from the unconfirmed attempt; sending", message.id)
    return None


def find(
    client: Any, account: ChannelAccount, message: Message, to: str, since: datetime
) -> Any | None:
    """The Twilio message (a MessageInstance) an unconfirmed attempt created, if any."""
    start = since.astimezone(UTC).replace(microsecond=0) - CLOCK_SLACK
    service = (account.config or {}).get("messaging_service_sid")
    # With a Messaging Service Twilio picks the sender, so only `to` narrows the list.
    filters: dict[str, Any] = {"to": to} if service else {"to": to, "from_": account.external_id}
    records: dict[str, Any] = {}
    # Sent since then. Twilio documents DateSent>= at day granularity: this may be the whole
    # day's messages to the citizen; the exact window is applied below.
    for item in client.messages.stream(date_sent_after=start, page_size=PAGE_SIZE, **filters):
        records[item.sid] = item
    # Not sent yet (queued, accepted, scheduled): date_sent is null, so no DateSent filter
    # finds them. Twilio lists by DateSent, newest first, without documenting where those go;
    # they are the newest, so the newest messages are read as well. One still unsent after
    # SETTLE and listed elsewhere would be missed: the limit of this check.
    for item in client.messages.stream(limit=RECENT, page_size=RECENT, **filters):
        records.setdefault(item.sid, item)
    candidates = [item for item in records.values() if _could_be(item, start, account, message, to)]
    if not candidates:
        return None
    linked = set(
        db.session.scalars(
            select(Message.provider_message_id).where(
                Message.channel_account_id == account.id,
                Message.provider_message_id.in_([item.sid for item in candidates]),
                Message.id != message.id,
            )
        )
    )
    free = [item for item in candidates if item.sid not in linked]
    if not free:
        return None
    return min(free, key=lambda item: (item.date_created, item.sid))


def _could_be(
    item: Any, start: datetime, account: ChannelAccount, message: Message, to: str
) -> bool:
    # Filtered here, whatever the list filter did: date_created, because date_sent is null
    # until Twilio sends it.
    created = item.date_created
    if not isinstance(created, datetime) or created < start:
        return False
    if not str(item.direction or "").startswith("outbound") or item.to != to:
        return False
    if item.body != message.body:
        return False
    service = (account.config or {}).get("messaging_service_sid")
    if service:
        return bool(item.messaging_service_sid == service)
    return bool(item.from_ == account.external_id)


def adopt(item: Any) -> SendResult:
    """What our message becomes: Twilio's SID and status for it."""
    status = services.STATUS_MAP.get(str(item.status or "").lower(), DeliveryStatus.SENDING)
    failed = status in (DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED)
    code = str(item.error_code) if failed and item.error_code not in (None, 0, "0") else None
    return SendResult(
        provider_message_id=item.sid,
        status=status,
        sent_at=item.date_created,
        error_code=code,
        error_message=explain(code) if code else None,
    )
