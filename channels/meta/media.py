"""Attachments of Messenger and Instagram messages, downloaded from Meta's CDN after the
message is committed (never within the webhook); on any failure the link is kept instead."""

from __future__ import annotations

import hashlib
import logging

from channels import media
from inbox.models import Message

log = logging.getLogger(__name__)
MEDIA_TASK = "servicetorg.inbound.facebook_media"  # channels/facebook/tasks.py, any Meta message
# What we download from Meta's CDN; anything else keeps only its link.
ALLOWED_TYPES = ("image/", "video/", "audio/", "application/pdf")


def fetch_attachments(message: Message) -> None:
    """Download attachment bytes (channels/media.py: public addresses only, within size and
    time, the type sniffed from the bytes); on any failure the link is kept instead."""
    for att in message.attachments:
        if att.sha256 or not att.provider_url:
            continue
        try:
            data, ctype = media.fetch(att.provider_url)
        except (media.Refused, media.Unavailable) as exc:
            log.info("attachment %s kept as link only: %s", att.id, exc)
            continue
        if not ctype.startswith(ALLOWED_TYPES):
            log.info("attachment %s kept as link only: type %s", att.id, ctype)
            continue
        att.data, att.size, att.content_type = data, len(data), ctype
        att.sha256 = hashlib.sha256(data).hexdigest()
        ext = "." + media.KNOWN[ctype]
        if not att.filename.endswith(ext):
            att.filename += ext
