"""Shape checks for Meta webhook deliveries (`{"object": ..., "entry": [...]}`).

Shapes: https://developers.facebook.com/docs/graph-api/webhooks/getting-started. Ids may arrive
as numbers or strings; they are normalised to str (channels/validation.py) so nothing
downstream has to care. A delivery whose envelope is wrong is refused as a whole (BadPayload);
an event of the wrong shape inside it is skipped alone (logged), so the good events of the
same delivery are kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from channels.interfaces import InvalidPayload
from channels.validation import ident, is_text, timestamp

log = logging.getLogger(__name__)
MAX_ITEMS = 1000  # entries in a delivery, events in an entry (Meta batches up to 1,000)
MAX_ATTACHMENTS = 10
MAX_URL = 2048
MAX_NAME = 200


class BadPayload(InvalidPayload):
    """The delivery as a whole is not a webhook of the expected object."""


@dataclass
class Parsed:
    events: list[Any]
    rejected: list[str]  # why each refused event was refused


# (entry id, one item of entry[kind]) -> an event, None to skip quietly, or InvalidPayload
ItemHandler = Callable[[str, dict[str, Any]], Any]


def parse_entries(payload: Any, obj: str, handlers: dict[str, ItemHandler]) -> Parsed:
    """Run each entry's `messaging` / `changes` items through their handler."""
    if not isinstance(payload, dict) or payload.get("object") != obj:
        raise BadPayload(f'not a webhook for object "{obj}"')
    entries = payload.get("entry")
    if not isinstance(entries, list) or len(entries) > MAX_ITEMS:
        raise BadPayload(f"entry must be a list of at most {MAX_ITEMS}")
    out = Parsed([], [])
    for entry in entries:
        entry_id = ident(entry.get("id")) if isinstance(entry, dict) else None
        if entry_id is None:
            out.rejected.append("entry without an id")
            continue
        for kind, handler in handlers.items():
            items = entry.get(kind)
            if items is None:
                continue
            if not isinstance(items, list) or len(items) > MAX_ITEMS:
                out.rejected.append(f"{kind} is not a list of at most {MAX_ITEMS}")
                continue
            for item in items:
                try:
                    ev = handler(entry_id, as_object(item, kind))
                except InvalidPayload as exc:
                    out.rejected.append(str(exc))
                    continue
                if ev is not None:
                    out.events.append(ev)
    for reason in out.rejected:
        log.warning("%s webhook event refused: %s", obj, reason)
    return out


def as_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidPayload(f"{what} is not an object")
    return value


def optional_object(value: Any, what: str) -> dict[str, Any]:
    return {} if value is None else as_object(value, what)


def from_millis(value: Any) -> datetime | None:
    return timestamp(value, unit=1000)


def from_seconds(value: Any) -> datetime | None:
    return timestamp(value)


def web_url(value: Any, *, https_only: bool = False) -> str | None:
    """A link we may fetch or show: http(s), no spaces or control characters, not too long."""
    if not (isinstance(value, str) and len(value) <= MAX_URL and is_text(value)):
        return None
    if not value.startswith(("https://",) if https_only else ("https://", "http://")):
        return None
    return None if any(c.isspace() for c in value) else value


def attachments(value: Any, known: frozenset[str]) -> list[tuple[str, str]]:
    """[(type, url)] of `message.attachments[{type, payload: {url}}]`; an unknown type is
    stored as a plain "file", an attachment without a file (a location) is skipped."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidPayload("attachments is not a list")
    found = []
    for att in value[:MAX_ATTACHMENTS]:
        att = as_object(att, "attachment")
        payload = optional_object(att.get("payload"), "attachment payload")
        url = web_url(payload.get("url"))
        if url is None:
            continue
        kind = att.get("type")
        found.append((kind if kind in known else "file", url))
    return found


def text_field(value: Any, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidPayload(f"{what} is not a string")
    return value


@dataclass
class Incoming:
    """A `messaging` item from someone other than the account itself: the sender's
    page-scoped id, and the message with its id when the item carries one (not an echo)."""

    sender: str
    message: dict[str, Any] | None
    mid: str | None


def incoming(own_id: str, item: dict[str, Any]) -> Incoming | None:
    """None for what the account sent itself (its own id as sender, or an echo)."""
    sender = ident(as_object(item.get("sender"), "sender").get("id"))
    if sender is None:
        raise InvalidPayload("sender without a valid id")
    if sender == own_id:
        return None
    message = item.get("message")
    if message is None:
        return Incoming(sender, None, None)
    message = as_object(message, "message")
    if message.get("is_echo") is True:
        return None  # our own message echoed back
    mid = ident(message.get("mid"))
    if mid is None:
        raise InvalidPayload("message without a valid mid")
    return Incoming(sender, message, mid)
