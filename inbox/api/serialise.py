"""What the API answers: conversations and messages as plain JSON objects (the shapes are in
the OpenAPI document, inbox/api/schema.py). Identity and account numbers in message text are
masked, as on the inbox pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from inbox.models import Conversation, Message
from inbox.services import idnumbers
from inbox.services.thread import ThreadItem


def when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def conversation(conv: Conversation, tags: list[str] | None = None) -> dict[str, Any]:
    account = conv.channel_account
    return {
        "id": conv.id,
        "status": conv.status.value,
        "channel": {"id": account.id, "kind": account.kind.value, "name": account.name},
        "contact": {"id": conv.contact_id, "name": conv.contact.name if conv.contact else None},
        "team_id": conv.team_id,
        "assignee_id": conv.assignee_id,
        "last_activity_at": when(conv.last_activity_at),
        "waiting_since": when(conv.waiting_since),
        "snoozed_until": when(conv.snoozed_until),
        "has_unread": bool(conv.has_unread),
        "flagged_for_archive": bool(conv.flagged_for_archive),
        "tags": tags or [],
    }


def conversation_detail(conv: Conversation, tags: list[str]) -> dict[str, Any]:
    return {
        **conversation(conv, tags),
        "subject": conv.subject,
        "created_at": when(conv.created_at),
        "closed_at": when(conv.closed_at),
        "merged_into_id": conv.merged_into_id,
    }


def author(msg: Message, author_name: str | None) -> dict[str, Any]:
    if msg.direction.value == "in":
        return {"type": "citizen", "name": None}
    if msg.author_id is not None:
        return {"type": "staff", "name": author_name}
    meta = msg.meta or {}  # deferred in thread queries: read only for the few that need it
    if meta.get("bot"):
        return {"type": "bot", "name": str(meta["bot"])}
    if meta.get("api_token"):
        return {"type": "api", "name": str(meta["api_token"])}
    return {"type": "system", "name": None}


def message(msg: Message, author_name: str | None = None) -> dict[str, Any]:
    return {
        "id": msg.id,
        "conversation_id": msg.conversation_id,
        "direction": msg.direction.value,
        "kind": "note" if msg.is_note else "message",
        "author": author(msg, author_name),
        "body": idnumbers.mask(msg.body or ""),
        "sent_at": when(msg.sent_at),
        "delivery_status": msg.delivery_status.value,
        "attachments": [
            {"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size}
            for a in msg.attachments
        ],
    }


def thread_item(item: ThreadItem) -> dict[str, Any]:
    return message(item.message, item.author_name)
