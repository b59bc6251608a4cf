"""Stored Instagram webhooks read back by the inbound worker (HANDLERS["instagram"]).

As for Facebook pages, the webhook keys the whole request by the SHA-256 of its raw body, so a
retry by Meta is one event; messages inside are deduplicated by their mid / comment id (unique
per account), so an overlapping delivery or the poller stores nothing twice.
"""

from __future__ import annotations

from channels.inbound import Batch
from channels.instagram import events as ig_events
from channels.instagram.services import (
    apply_comment,
    apply_deleted,
    apply_read,
    dm_after,
    dm_inbound,
    instagram_accounts,
)
from channels.interfaces import InvalidPayload
from channels.meta.media import MEDIA_TASK
from inbox.db import enqueue
from inbox.models import ChannelAccount, ChannelKind, InboundEvent
from inbox.services.ingest_batch import Stored
from inbox.untrusted import loads


def handle(event: InboundEvent, account: ChannelAccount, batch: Batch) -> None:
    try:
        parsed = ig_events.parse(loads(event.body))
    except (ValueError, UnicodeDecodeError) as exc:  # BadPayload is a ValueError
        raise InvalidPayload(f"invalid instagram webhook: {exc}") from exc
    for ev in parsed:
        kind = (
            ChannelKind.INSTAGRAM_COMMENTS
            if isinstance(ev, ig_events.CommentEvent)
            else ChannelKind.INSTAGRAM
        )
        target = instagram_accounts(ev.ig_id).get(kind)
        if target is None or target.tenant_id != account.tenant_id:
            continue  # an Instagram account this tenant does not have
        if isinstance(ev, ig_events.MessageEvent):
            batch.store(target, dm_inbound(target, ev), _after_message(ev))
        elif isinstance(ev, ig_events.DeletedEvent):
            batch.apply(lambda a=target, e=ev: apply_deleted(a, e))
        elif isinstance(ev, ig_events.ReadEvent):
            batch.apply(lambda a=target, e=ev: apply_read(a, e))
        else:
            batch.apply(lambda a=target, e=ev: apply_comment(a, e))


def _after_message(ev: ig_events.MessageEvent):  # type: ignore[no-untyped-def]
    def after(stored: Stored) -> None:
        message, created = stored.message, stored.created
        dm_after(message, ev)
        if created and message.attachments:
            # Downloaded by a worker of its own after the commit (channels/meta/media.py).
            enqueue(MEDIA_TASK, message.id)

    return after
