"""Webhook payloads turned into plain events.

Shapes: https://developers.facebook.com/docs/messenger-platform/webhooks and
https://developers.facebook.com/docs/graph-api/webhooks/reference/page/#feed. Ids may arrive as
numbers or strings; they are normalised to str here so nothing downstream has to care.
Everything is checked for shape before use (channels/validation.py); text is cleaned and cut
to MAX_MESSAGE_CHARS with a mark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from channels.interfaces import InvalidPayload
from channels.meta.payload import (
    MAX_ITEMS,
    MAX_NAME,
    BadPayload,
    Parsed,
    as_object,
    attachments,
    from_millis,
    from_seconds,
    incoming,
    optional_object,
    parse_entries,
    text_field,
    web_url,
)
from channels.validation import clean_text, ident, optional_text

__all__ = ["BadPayload", "Parsed", "parse", "parse_report"]
# Attachment types Messenger documents; anything else is stored as a plain "file".
ATTACHMENT_TYPES = frozenset({"image", "video", "audio", "file", "fallback", "template"})


@dataclass
class MessageEvent:
    page_id: str
    psid: str
    mid: str
    text: str
    sent_at: datetime | None
    attachments: list[tuple[str, str]] = field(default_factory=list)  # (type, url)


@dataclass
class StatusEvent:
    page_id: str
    psid: str
    status: str  # "delivered" or "read"
    watermark: datetime | None
    mids: list[str] = field(default_factory=list)


@dataclass
class CommentEvent:
    page_id: str
    verb: str  # add, edited, remove
    comment_id: str
    post_id: str
    parent_id: str | None
    from_id: str | None
    from_name: str | None
    message: str | None
    created_at: datetime | None
    permalink: str | None


Event = MessageEvent | StatusEvent | CommentEvent


def parse(payload: Any) -> list[Event]:
    """The usable events of a webhook payload. Raises InvalidPayload when the payload as a
    whole is not a page webhook; an event of the wrong shape inside it is skipped alone
    (logged), so the good events of the same delivery are kept."""
    return parse_report(payload).events


def parse_report(payload: Any) -> Parsed:
    return parse_entries(payload, "page", {"messaging": _messaging, "changes": _change})


def _messaging(page_id: str, item: dict[str, Any]) -> Event | None:
    got = incoming(page_id, item)
    if got is None:
        return None
    psid, message = got.sender, got.message
    if message is not None and got.mid is not None:
        text = text_field(message.get("text"), "message text")
        return MessageEvent(
            page_id,
            psid,
            got.mid,
            clean_text(text or ""),
            from_millis(item.get("timestamp")),
            attachments(message.get("attachments"), ATTACHMENT_TYPES),
        )
    for kind, status in (("delivery", "delivered"), ("read", "read")):
        info = item.get(kind)
        if info is not None:
            info = as_object(info, kind)
            mids = info.get("mids") or []
            if not isinstance(mids, list) or len(mids) > MAX_ITEMS:
                raise InvalidPayload(f"{kind}.mids is not a list")
            found = [m for m in (ident(x) for x in mids) if m]
            return StatusEvent(page_id, psid, status, from_millis(info.get("watermark")), found)
    return None


def _change(page_id: str, change: dict[str, Any]) -> CommentEvent | None:
    if change.get("field") != "feed":
        return None
    value = as_object(change.get("value"), "change value")
    if value.get("item") != "comment":
        return None
    verb = value.get("verb")
    if verb not in ("add", "edited", "remove"):
        return None
    comment_id, post_id = ident(value.get("comment_id")), ident(value.get("post_id"))
    if comment_id is None or post_id is None:
        raise InvalidPayload("comment without a valid comment_id and post_id")
    sender = optional_object(value.get("from"), "comment from")
    post = optional_object(value.get("post"), "comment post")
    message = text_field(value.get("message"), "comment message")
    return CommentEvent(
        page_id=page_id,
        verb=verb,
        comment_id=comment_id,
        post_id=post_id,
        parent_id=ident(value.get("parent_id")),
        from_id=ident(sender.get("id")),
        from_name=optional_text(sender.get("name"), MAX_NAME),
        message=clean_text(message) if message is not None else None,
        created_at=from_seconds(value.get("created_time")),
        # Shown as a link to staff: only an https URL, never javascript: or the like.
        permalink=web_url(post.get("permalink_url"), https_only=True),
    )
