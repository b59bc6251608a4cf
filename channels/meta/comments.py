"""Comments on Meta posts and media: what was said is kept when it is edited or removed, and
which comment a reply goes under (Facebook and Instagram threads are two levels deep)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from channels.interfaces import PermanentSendError, SendResult, TransientSendError
from channels.meta.tokens import send_call
from inbox.extensions import db
from inbox.models import (
    ChannelAccount,
    Conversation,
    DeliveryStatus,
    Direction,
    Message,
    MessageRevision,
)
from inbox.models.base import utcnow
from inbox.services.ingest import InboundMessage, find_message, ingest

VERBS = ("add", "edited", "remove")


def apply_change(
    account: ChannelAccount,
    verb: str,
    comment_id: str,
    text: str | None,
    inbound: Callable[[], InboundMessage],
    conv_meta: dict[str, Any],
    platform: str,
) -> tuple[Message | None, bool]:
    """A comment added, edited or removed: store it, keep the earlier text as a revision, or
    mark it removed (its text stays). Events may arrive out of order (a removal before the
    comment) or twice; returns (message, created)."""
    existing = find_message(account.id, comment_id)
    if existing is None:
        msg, created = ingest(account, inbound())
        _fill_meta(msg.conversation, conv_meta)
        if verb == "edited":
            msg.edited_at = utcnow()
        elif verb == "remove":
            mark_removed(msg, platform)
        return msg, created
    if verb == "edited" and text is not None:
        edit_message(existing, text)
    elif verb == "remove":
        mark_removed(existing, platform)
    elif verb == "add" and not existing.body and text:
        existing.body = text  # a removal arrived before the comment itself
    _fill_meta(existing.conversation, conv_meta)
    return existing, False


def _fill_meta(conv: Conversation, values: dict[str, Any]) -> None:
    """Links the conversation lacks (the post, its permalink), once known."""
    missing = {k: v for k, v in values.items() if v is not None and k not in (conv.meta or {})}
    if missing:
        conv.meta = {**(conv.meta or {}), **missing}


def edit_message(msg: Message, new_body: str) -> bool:
    """Keep what was said: the earlier text becomes a revision staff can read."""
    if new_body == msg.body:
        return False  # a repeated delivery of the same edit
    db.session.add(MessageRevision(message_id=msg.id, body=msg.body))
    msg.body = new_body
    msg.edited_at = utcnow()
    db.session.flush()
    db.session.expire(msg, ["revisions"])
    return True


def mark_removed(msg: Message, platform: str = "facebook") -> None:
    """The author removed it on Facebook or Instagram; the text stays here for the record."""
    if msg.removed_at is None:
        msg.removed_at = utcnow()
        msg.meta = {**(msg.meta or {}), f"removed_on_{platform}": True}


def reply_target(conv: Conversation) -> str | None:
    """The comment a reply answers: the latest comment by a citizen that is still there.

    Threads are two levels deep, so a reply to a reply goes under its top comment (the
    conversation's thread_key is the post or media; a parent that is not it is a comment)."""
    row = db.session.execute(
        select(Message.provider_message_id, Message.provider_parent_id)
        .where(
            Message.conversation_id == conv.id,
            Message.direction == Direction.INBOUND,
            Message.removed_at.is_(None),
            Message.provider_message_id.is_not(None),
        )
        .order_by(Message.sent_at.desc(), Message.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    comment_id, parent_id = row
    return parent_id if parent_id and parent_id != conv.thread_key else comment_id


def send_reply(
    account: ChannelAccount,
    message: Message,
    edge: str,
    platform: str,
    cannot_reply: Callable[[], str | None],
) -> SendResult:
    """Post a caseworker's reply under the comment it answers (POST /{comment-id}/{edge}:
    `comments` on Facebook, `replies` on Instagram). `cannot_reply` gives the reason, in the
    municipality's language, when every comment has been removed."""
    target = reply_target(message.conversation)
    if target is None:
        raise PermanentSendError(cannot_reply() or "", code="removed")
    result = send_call(account, lambda g: g.post(f"{target}/{edge}", message=message.body))
    comment_id = result.get("id")
    if not isinstance(comment_id, str):
        raise TransientSendError(f"{platform} did not return a comment id.")
    return SendResult(
        provider_message_id=comment_id, status=DeliveryStatus.SENT, provider_parent_id=target
    )
