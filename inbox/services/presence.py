""" "A colleague is already typing a reply": short-lived presence per conversation.

The browser reports typing every few seconds while the reply box is in use; each report lives
TYPING_SECONDS. Kept in Redis (a hash per conversation with an expiry) when REDIS_URL is set,
otherwise in the conversation_presence table. Each report is also sent as a real-time event so
colleagues see it at once.
"""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import delete, select

from inbox.extensions import db
from inbox.models import Conversation, ConversationPresence, User
from inbox.models.base import utcnow
from inbox.services import realtime

TYPING_SECONDS = 8


def _key(conversation_id: int) -> str:
    return f"servicetorg:{realtime.namespace()}:typing:{conversation_id}"


def report_typing(conv: Conversation, user: User) -> None:
    """Record that `user` is typing in `conv` (the caller commits)."""
    if realtime._uses_redis():  # noqa: SLF001
        client = realtime.redis_client()
        key = _key(conv.id)
        client.hset(key, str(user.id), f"{time.time() + TYPING_SECONDS:.3f}|{user.name}")
        client.expire(key, TYPING_SECONDS * 2)
    else:
        row = db.session.get(ConversationPresence, (conv.id, user.id))
        expires = utcnow() + timedelta(seconds=TYPING_SECONDS)
        if row is None:
            db.session.add(
                ConversationPresence(conversation_id=conv.id, user_id=user.id, expires_at=expires)
            )
        else:
            row.expires_at = expires
    realtime.emit(
        conv.tenant_id,
        {
            "type": "typing",
            "conversation_id": conv.id,
            "user_id": user.id,
            "name": user.name,
            "seconds": TYPING_SECONDS,
        },
    )


def typing_now(conv: Conversation, exclude_user_id: int | None = None) -> list[str]:
    """Names of the colleagues typing in this conversation right now."""
    if realtime._uses_redis():  # noqa: SLF001
        now = time.time()
        names = []
        for uid, value in realtime.redis_client().hgetall(_key(conv.id)).items():
            until, _, name = value.partition("|")
            if float(until) > now and uid != str(exclude_user_id):
                names.append(name)
        return sorted(names)
    db.session.execute(
        delete(ConversationPresence).where(ConversationPresence.expires_at < utcnow())
    )
    rows = db.session.scalars(
        select(User.name)
        .join(ConversationPresence, ConversationPresence.user_id == User.id)
        .where(ConversationPresence.conversation_id == conv.id, User.id != (exclude_user_id or 0))
    )
    return sorted(rows)
