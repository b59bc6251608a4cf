"""Stored Facebook page webhooks read back by the inbound worker.

One POST may carry several entries and events (messages, delivery/read receipts, comments).
The webhook keys the whole request by the SHA-256 of its raw body: Meta's retry of a delivery
repeats the same bytes, so it is one event; the body stays whole, so its X-Hub-Signature-256
can be checked again. Messages inside are deduplicated by their mid / comment id (unique per
account), so a request that overlaps an earlier one or the poller stores nothing twice.
"""

from __future__ import annotations

from channels.facebook import events as fb_events
from channels.facebook.services import (
    apply_comment,
    apply_status,
    page_accounts,
    store_inbound,
    store_message_after,
)
from channels.inbound import Batch
from channels.interfaces import InvalidPayload
from channels.meta.media import MEDIA_TASK
from inbox.db import enqueue
from inbox.models import ChannelAccount, ChannelKind, InboundEvent
from inbox.services.ingest_batch import Stored
from inbox.untrusted import loads


def handle(event: InboundEvent, account: ChannelAccount, batch: Batch) -> None:
    try:
        parsed = fb_events.parse(loads(event.body))
    except (ValueError, UnicodeDecodeError) as exc:  # BadPayload is a ValueError
        raise InvalidPayload(f"invalid page webhook: {exc}") from exc
    for ev in parsed:
        accounts = page_accounts(ev.page_id)
        kind = (
            ChannelKind.FACEBOOK_COMMENTS
            if isinstance(ev, fb_events.CommentEvent)
            else ChannelKind.MESSENGER
        )
        target = accounts.get(kind)
        if target is None or target.tenant_id != account.tenant_id:
            continue  # a page this tenant does not have (logged by the view's lookup)
        if isinstance(ev, fb_events.MessageEvent):
            batch.store(target, store_inbound(ev), _after_message(batch, ev))
        elif isinstance(ev, fb_events.StatusEvent):
            batch.apply(lambda a=target, e=ev: apply_status(a, e))
        else:
            batch.apply(lambda a=target, e=ev: apply_comment(a, e))


def _after_message(batch: Batch, ev: fb_events.MessageEvent):  # type: ignore[no-untyped-def]
    def after(stored: Stored) -> None:
        message, created = stored.message, stored.created
        store_message_after(message, ev)
        if created and message.attachments:
            # Downloaded by a worker of its own after the commit (channels/media.py).
            enqueue(MEDIA_TASK, message.id)

    return after
