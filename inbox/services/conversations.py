"""What caseworkers do to a conversation: reply, note, assign, change status."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import update

from inbox.db import enqueue
from inbox.extensions import db
from inbox.models import (
    Conversation,
    ConversationStatus,
    DeliveryStatus,
    Direction,
    Message,
    User,
)
from inbox.models.base import utcnow
from inbox.services import audit


class InvalidReply(ValueError):
    """The reply cannot be sent as written; the message says why, for the caseworker."""


def clean_body(body: str) -> str:
    text = (body or "").replace("\r\n", "\n").strip()
    if not text:
        raise InvalidReply("empty")
    if len(text) > current_app.config["MAX_MESSAGE_CHARS"]:
        raise InvalidReply("too_long")
    if "\x00" in text:
        raise InvalidReply("invalid")
    return text


def reply(conv: Conversation, user: User, body: str) -> Message:
    """Queue a reply to the citizen through the conversation's channel (sent after commit)."""
    from channels.registry import get_connector

    text = clean_body(body)
    connector = get_connector(conv.channel_account.kind)
    problem = connector.cannot_reply_reason(conv)
    if problem:
        raise InvalidReply(problem)
    msg = Message(
        tenant_id=conv.tenant_id,
        conversation_id=conv.id,
        channel_account_id=conv.channel_account_id,
        direction=Direction.OUTBOUND,
        author_id=user.id,
        body=text,
        delivery_status=DeliveryStatus.QUEUED,
        sent_at=utcnow(),
    )
    db.session.add(msg)
    conv.last_activity_at = msg.sent_at
    conv.waiting_since = None
    conv.has_unread = False
    if conv.assignee_id is None:
        conv.assignee_id = user.id
    db.session.flush()
    enqueue("servicetorg.outbound.send_message", msg.id)
    audit.record("reply", msg, tenant_id=conv.tenant_id, actor=user, conversation_id=conv.id)
    return msg


def add_note(conv: Conversation, user: User, body: str) -> Message:
    """An internal note: visible to staff only, never sent."""
    msg = Message(
        tenant_id=conv.tenant_id,
        conversation_id=conv.id,
        channel_account_id=conv.channel_account_id,
        direction=Direction.OUTBOUND,
        is_note=True,
        author_id=user.id,
        body=clean_body(body),
        delivery_status=DeliveryStatus.SENT,
        sent_at=utcnow(),
    )
    db.session.add(msg)
    db.session.flush()
    audit.record("note", msg, tenant_id=conv.tenant_id, actor=user, conversation_id=conv.id)
    return msg


def set_status(conv: Conversation, user: User, status: ConversationStatus) -> None:
    if conv.status is status:
        return
    old = conv.status
    conv.status = status
    conv.closed_at = utcnow() if status is ConversationStatus.CLOSED else None
    if status is not ConversationStatus.SNOOZED:
        conv.snoozed_until = None
    audit.record(
        "status", conv, tenant_id=conv.tenant_id, actor=user, old=str(old), new=str(status)
    )


def mark_read(conv: Conversation) -> None:
    conv.has_unread = False
    # The citizen's messages are now read (the web chat shows "read" to the citizen).
    db.session.execute(
        update(Message)
        .where(
            Message.conversation_id == conv.id,
            Message.direction == Direction.INBOUND,
            Message.read_at.is_(None),
        )
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
