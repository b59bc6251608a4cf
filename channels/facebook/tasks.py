"""Meta background work: downloading Messenger and Instagram attachments after the message is
safe."""

from __future__ import annotations

from celery import shared_task

from channels.meta.media import fetch_attachments
from inbox.extensions import db
from inbox.models import Message


@shared_task(name="servicetorg.inbound.facebook_media")
def facebook_media(message_id: int) -> int:
    """Fetch the files of one message; what cannot be fetched stays a link. How many were
    stored."""
    message = db.session.get(Message, message_id)
    if message is None:
        return 0
    fetch_attachments(message)
    stored = sum(1 for a in message.attachments if a.sha256)
    db.session.commit()
    return stored
