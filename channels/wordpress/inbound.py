"""Stored deliveries of the signed comment webhook, read back by the inbound worker."""

from __future__ import annotations

from flask import current_app

from channels.inbound import Batch
from channels.interfaces import InvalidPayload
from channels.wordpress import webhook
from channels.wordpress.services import WEBHOOK, comment_inbound, comment_stored
from inbox.models import ChannelAccount, InboundEvent
from inbox.untrusted import loads


def handle(event: InboundEvent, account: ChannelAccount, batch: Batch) -> None:
    try:
        comment = webhook.parse(
            loads(event.body), current_app.config["WEB_COMMENTS_MAX_BODY_BYTES"]
        )
    except (ValueError, UnicodeDecodeError) as exc:  # webhook.Invalid is a ValueError
        raise InvalidPayload(f"invalid comment: {exc}") from exc
    batch.store(
        account,
        comment_inbound(account, comment, WEBHOOK),
        lambda stored: comment_stored(account, comment, WEBHOOK, stored.message, stored.created),
    )
