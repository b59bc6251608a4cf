"""Webhook payloads turned into plain events.

Shapes: https://developers.facebook.com/docs/messenger-platform/webhooks and
https://developers.facebook.com/docs/graph-api/webhooks/reference/page/#feed. Ids may arrive as
numbers or strings; they are normalised to str here so nothing downstream has to care.
Everything is checked for shape before use (channels/validation.py); text is cleaned and cut
to MAX_MESSAGE_CHARS with a mark.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from channels.interfaces import InvalidPayload
from channels.validation import clean_text, ident, is_text, optional_text, timestamp

log = logging.getLogger(__name__)
MAX_ITEMS = 1000  # entries in a delivery, events in an entry (Meta batches up to 1,000)
MAX_ATTACHMENTS = 10
MAX_URL = 2048
MAX_NAME = 200
# Attachment types Messenger documents; anything else is stored as a plain "file".
ATTACHMENT_TYPES = frozenset({"image", "video", "audio", "file", "fallback", "template"})


class BadPayload(InvalidPayload):
    """The delivery as a whole is not a page webhook."""


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


def from_millis(value: Any) -> datetime | None:
    return timestamp(value, unit=1000)


def from_seconds(value: Any) -> datetime | None:
    return timestamp(value)


def parse(payload: Any) -> list[Event]:
    """The usable events of a webhook payload. Raises InvalidPayload when the payload as a
    whole is not a page webhook; an event of the wrong shape inside it is skipped alone
    (logged), so the good events of the same delivery are kept."""
    return parse_report(payload).events


@dataclass
class Parsed:
    events: list[Event]
    rejected: list[str]  # why each refused event was refused


def parse_report(payload: Any) -> Parsed:
    if not isinstance(payload, dict) or payload.get("object") != "page":
        raise BadPayload("not a page webhook")
    entries = payload.get("entry")
    if not isinstance(entries, list) or len(entries) > MAX_ITEMS:
        raise BadPayload(f"entry must be a list of at most {MAX_ITEMS}")
    out = Parsed([], [])
    for entry in entries:
        page_id = ident(entry.get("id")) if isinstance(entry, dict) else None
        if page_id is None:
            out.rejected.append("entry without a page id")
            continue
        for kind, handler in (("messaging", _messaging), ("changes", _change)):
            items = entry.get(kind)
            if items is None:
                continue
            if not isinstance(items, list) or len(items) > MAX_ITEMS:
                out.rejected.append(f"{kind} is not a list of at most {MAX_ITEMS}")
                continue
            for item in items:
                try:
                    ev = handler(page_id, _object(item, kind))
                except InvalidPayload as exc:
                    out.rejected.append(str(exc))
                    continue
                if ev is not None:
                    out.events.append(ev)
    for reason in out.rejected:
        log.warning("facebook webhook event refused: %s", reason)
    return out


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidPayload(f"{what} is not an object")
    return value


def _optional_object(value: Any, what: str) -> dict[str, Any]:
    return {} if value is None else _object(value, what)


def _messaging(page_id: str, item: dict[str, Any]) -> Event | None:
    sender = _object(item.get("sender"), "sender")
    psid = ident(sender.get("id"))
    if psid is None:
        raise InvalidPayload("sender without a valid id")
    if psid == page_id:
        return None
    message = item.get("message")
    if message is not None:
        message = _object(message, "message")
        if message.get("is_echo") is True:
            return None  # our own message echoed back
        mid = ident(message.get("mid"))
        if mid is None:
            raise InvalidPayload("message without a valid mid")
        text = message.get("text")
        if text is not None and not isinstance(text, str):
            raise InvalidPayload("message text is not a string")
        return MessageEvent(
            page_id,
            psid,
            mid,
            clean_text(text or ""),
            from_millis(item.get("timestamp")),
            _attachments(message.get("attachments")),
        )
    for kind, status in (("delivery", "delivered"), ("read", "read")):
        info = item.get(kind)
        if info is not None:
            info = _object(info, kind)
            mids = info.get("mids") or []
            if not isinstance(mids, list) or len(mids) > MAX_ITEMS:
                raise InvalidPayload(f"{kind}.mids is not a list")
            found = [m for m in (ident(x) for x in mids) if m]
            return StatusEvent(page_id, psid, status, from_millis(info.get("watermark")), found)
    return None


def _attachments(value: Any) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidPayload("attachments is not a list")
    found = []
    for att in value[:MAX_ATTACHMENTS]:
        att = _object(att, "attachment")
        payload = _optional_object(att.get("payload"), "attachment payload")
        url = payload.get("url")
        if not (isinstance(url, str) and len(url) <= MAX_URL and is_text(url)):
            continue  # a location or a sticker without a file: nothing to fetch
        if not url.startswith(("https://", "http://")) or any(c.isspace() for c in url):
            continue
        kind = att.get("type")
        found.append((kind if kind in ATTACHMENT_TYPES else "file", url))
    return found


def _change(page_id: str, change: dict[str, Any]) -> CommentEvent | None:
    if change.get("field") != "feed":
        return None
    value = _object(change.get("value"), "change value")
    if value.get("item") != "comment":
        return None
    verb = value.get("verb")
    if verb not in ("add", "edited", "remove"):
        return None
    comment_id, post_id = ident(value.get("comment_id")), ident(value.get("post_id"))
    if comment_id is None or post_id is None:
        raise InvalidPayload("comment without a valid comment_id and post_id")
    sender = _optional_object(value.get("from"), "comment from")
    post = _optional_object(value.get("post"), "comment post")
    permalink = post.get("permalink_url")
    message = value.get("message")
    if message is not None and not isinstance(message, str):
        raise InvalidPayload("comment message is not a string")
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
        permalink=permalink
        if isinstance(permalink, str)
        and permalink.startswith("https://")
        and len(permalink) <= MAX_URL
        and is_text(permalink)
        and not any(c.isspace() for c in permalink)
        else None,
    )
