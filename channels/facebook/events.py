"""Webhook payloads turned into plain events.

Shapes: https://developers.facebook.com/docs/messenger-platform/webhooks and
https://developers.facebook.com/docs/graph-api/webhooks/reference/page/#feed. Ids may arrive as
numbers or strings; they are normalised to str here so nothing downstream has to care.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


class BadPayload(ValueError):
    pass


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


def ident(value: Any) -> str | None:
    """A provider id as str; numbers (JSON ints) and strings alike, anything else rejected."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip() and len(value) <= 254:
        return value.strip()
    return None


def from_millis(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value / 1000, UTC)
    return None


def from_seconds(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value, UTC)
    return None


def parse(payload: Any) -> list[Event]:
    if not isinstance(payload, dict) or payload.get("object") != "page":
        raise BadPayload("not a page webhook")
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise BadPayload("entry must be a list")
    events: list[Event] = []
    for entry in entries:
        if not isinstance(entry, dict) or ident(entry.get("id")) is None:
            raise BadPayload("entry without id")
        page_id = ident(entry["id"]) or ""
        for item in _list(entry.get("messaging")):
            ev = _messaging(page_id, item)
            if ev is not None:
                events.append(ev)
        for change in _list(entry.get("changes")):
            ev = _change(page_id, change)
            if ev is not None:
                events.append(ev)
    return events


def _list(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _messaging(page_id: str, item: dict[str, Any]) -> Event | None:
    psid = ident((item.get("sender") or {}).get("id"))
    if psid is None or psid == page_id:
        return None
    message = item.get("message")
    if isinstance(message, dict):
        mid = ident(message.get("mid"))
        if message.get("is_echo") or mid is None:
            return None  # our own message echoed back
        text = message.get("text") if isinstance(message.get("text"), str) else ""
        attachments = []
        for att in _list(message.get("attachments")):
            url = (
                (att.get("payload") or {}).get("url")
                if isinstance(att.get("payload"), dict)
                else None
            )
            if isinstance(url, str) and url.startswith(("https://", "http://")):
                attachments.append((str(att.get("type") or "file"), url))
        return MessageEvent(
            page_id, psid, mid, text, from_millis(item.get("timestamp")), attachments
        )
    for kind, status in (("delivery", "delivered"), ("read", "read")):
        info = item.get(kind)
        if isinstance(info, dict):
            mids = [m for m in (ident(x) for x in info.get("mids") or []) if m]
            return StatusEvent(page_id, psid, status, from_millis(info.get("watermark")), mids)
    return None


def _change(page_id: str, change: dict[str, Any]) -> CommentEvent | None:
    value = change.get("value")
    if change.get("field") != "feed" or not isinstance(value, dict):
        return None
    if value.get("item") != "comment" or value.get("verb") not in ("add", "edited", "remove"):
        return None
    comment_id, post_id = ident(value.get("comment_id")), ident(value.get("post_id"))
    if comment_id is None or post_id is None:
        return None
    sender = value.get("from") if isinstance(value.get("from"), dict) else {}
    post = value.get("post") if isinstance(value.get("post"), dict) else {}
    permalink = post.get("permalink_url")
    return CommentEvent(
        page_id=page_id,
        verb=value["verb"],
        comment_id=comment_id,
        post_id=post_id,
        parent_id=ident(value.get("parent_id")),
        from_id=ident(sender.get("id")),
        from_name=sender.get("name") if isinstance(sender.get("name"), str) else None,
        message=value.get("message") if isinstance(value.get("message"), str) else None,
        created_at=from_seconds(value.get("created_time")),
        # Shown as a link to staff: only an https URL, never javascript: or the like.
        permalink=permalink
        if isinstance(permalink, str) and permalink.startswith("https://")
        else None,
    )
