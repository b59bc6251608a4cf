"""Instagram webhook payloads (`object: "instagram"`) turned into plain events.

Shapes: https://developers.facebook.com/docs/instagram-platform/webhooks/examples and
https://developers.facebook.com/docs/graph-api/webhooks/reference/instagram. entry.id is the
Instagram professional account id. `messaging` items are direct messages (sender.id is the
person's Instagram-scoped id, IGSID): text, attachments, `is_echo` (our own message),
`is_deleted` (the person unsent it), `is_unsupported` (a kind of message the API does not
pass on), and `read` receipts. `changes` with field "comments" are comments on the account's
media: value {id, text, from {id, username}, media {id, media_product_type}, parent_id}.
Mentions (field "mentions") carry only ids and are not read here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from channels.interfaces import InvalidPayload
from channels.meta.payload import (
    MAX_NAME,
    BadPayload,
    Parsed,
    as_object,
    attachments,
    from_millis,
    incoming,
    optional_object,
    parse_entries,
    text_field,
)
from channels.validation import clean_text, ident, optional_text

__all__ = ["BadPayload", "Parsed", "parse", "parse_report"]
# Attachment types Instagram documents; anything else is stored as a plain "file".
ATTACHMENT_TYPES = frozenset(
    {"image", "video", "audio", "file", "share", "story_mention", "reel", "ig_reel"}
)


@dataclass
class MessageEvent:
    ig_id: str  # our Instagram professional account
    igsid: str  # the person
    mid: str
    text: str
    sent_at: datetime | None
    attachments: list[tuple[str, str]] = field(default_factory=list)  # (type, url)
    unsupported: bool = False


@dataclass
class DeletedEvent:
    ig_id: str
    igsid: str
    mid: str


@dataclass
class ReadEvent:
    ig_id: str
    igsid: str
    mid: str


@dataclass
class CommentEvent:
    ig_id: str
    comment_id: str
    media_id: str
    parent_id: str | None
    from_id: str | None
    username: str | None
    text: str | None
    media_product_type: str | None = None
    created_at: datetime | None = None
    permalink: str | None = None
    verb: str = "add"  # Instagram's webhook only tells of new comments


Event = MessageEvent | DeletedEvent | ReadEvent | CommentEvent


def parse(payload: Any) -> list[Event]:
    """The usable events of a delivery; InvalidPayload when it is not an Instagram webhook."""
    return parse_report(payload).events


def parse_report(payload: Any) -> Parsed:
    return parse_entries(payload, "instagram", {"messaging": _messaging, "changes": _change})


def _messaging(ig_id: str, item: dict[str, Any]) -> Event | None:
    got = incoming(ig_id, item)
    if got is None:
        return None  # sent by the account itself, or our own message echoed back
    igsid, message, mid = got.sender, got.message, got.mid
    if message is not None and mid is not None:
        if message.get("is_deleted") is True:
            return DeletedEvent(ig_id, igsid, mid)
        text = text_field(message.get("text"), "message text")
        return MessageEvent(
            ig_id,
            igsid,
            mid,
            clean_text(text or ""),
            from_millis(item.get("timestamp")),
            attachments(message.get("attachments"), ATTACHMENT_TYPES),
            unsupported=message.get("is_unsupported") is True,
        )
    read = item.get("read")
    if read is not None:
        mid = ident(as_object(read, "read").get("mid"))
        if mid is None:
            raise InvalidPayload("read without a valid mid")
        return ReadEvent(ig_id, igsid, mid)
    return None  # reactions, postbacks, referrals: nothing for the inbox


def _change(ig_id: str, change: dict[str, Any]) -> CommentEvent | None:
    if change.get("field") != "comments":
        return None  # live_comments cannot be answered; mentions carry only ids
    value = as_object(change.get("value"), "change value")
    media = as_object(value.get("media"), "comment media")
    comment_id, media_id = ident(value.get("id")), ident(media.get("id"))
    if comment_id is None or media_id is None:
        raise InvalidPayload("comment without a valid id and media.id")
    sender = optional_object(value.get("from"), "comment from")
    text = text_field(value.get("text"), "comment text")
    product = media.get("media_product_type")
    return CommentEvent(
        ig_id=ig_id,
        comment_id=comment_id,
        media_id=media_id,
        parent_id=ident(value.get("parent_id")),
        from_id=ident(sender.get("id")),
        username=optional_text(sender.get("username"), MAX_NAME),
        text=clean_text(text) if text is not None else None,
        media_product_type=product if isinstance(product, str) and product.isalpha() else None,
    )
