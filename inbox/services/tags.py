"""Tags on conversations, per municipality: add (the tag is made on first use), remove, list."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from inbox.extensions import db
from inbox.models import Conversation, ConversationTag, Tag
from inbox.services import audit
from inbox.untrusted import clean_text

MAX_CHARS = 64


class InvalidTag(ValueError):
    pass


def clean_name(raw: Any) -> str:
    """A tag as stored: one line, lower case, 1 to 64 characters."""
    if not isinstance(raw, str):
        raise InvalidTag("tag")
    name = " ".join(clean_text(raw, 10 * MAX_CHARS).split()).lower()
    if not name or len(name) > MAX_CHARS:
        raise InvalidTag("tag")
    return name


def _tag(tenant_id: int, name: str, create: bool) -> Tag | None:
    tag = db.session.scalar(select(Tag).where(Tag.tenant_id == tenant_id, Tag.name == name))
    if tag is not None or not create:
        return tag
    try:
        with db.session.begin_nested():
            tag = Tag(tenant_id=tenant_id, name=name)
            db.session.add(tag)
            db.session.flush()
    except IntegrityError:  # made by someone else at the same moment
        return _tag(tenant_id, name, create=False)
    return tag


def add(conv: Conversation, actor: Any, raw: str) -> str:
    name = clean_name(raw)
    tag = _tag(conv.tenant_id, name, create=True)
    assert tag is not None
    if db.session.get(ConversationTag, (conv.id, tag.id)) is None:
        db.session.add(ConversationTag(conversation_id=conv.id, tag_id=tag.id))
        db.session.flush()
        audit.record("tag.add", conv, tenant_id=conv.tenant_id, actor=actor, tag=name)
    return name


def remove(conv: Conversation, actor: Any, raw: str) -> bool:
    """Take the tag off the conversation; False if it did not have it."""
    name = clean_name(raw)
    tag = _tag(conv.tenant_id, name, create=False)
    if tag is None:
        return False
    gone = db.session.execute(
        delete(ConversationTag).where(
            ConversationTag.conversation_id == conv.id, ConversationTag.tag_id == tag.id
        )
    ).rowcount
    if gone:
        audit.record("tag.remove", conv, tenant_id=conv.tenant_id, actor=actor, tag=name)
    return bool(gone)


def names_for(conversation_ids: Iterable[int]) -> dict[int, list[str]]:
    """Each conversation's tags, alphabetically (conversations without tags are left out)."""
    ids = list(conversation_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        select(ConversationTag.conversation_id, Tag.name)
        .join(Tag, Tag.id == ConversationTag.tag_id)
        .where(ConversationTag.conversation_id.in_(ids))
        .order_by(Tag.name)
    )
    found: dict[int, list[str]] = {}
    for conv_id, name in rows:
        found.setdefault(conv_id, []).append(name)
    return found


SUGGEST_FROM = 500  # the municipality's first tags (alphabetically) that suggest() looks for


def tenant_names(tenant_id: int, limit: int = SUGGEST_FROM) -> list[str]:
    """The municipality's tags, alphabetically (at most `limit`)."""
    return list(
        db.session.scalars(
            select(Tag.name).where(Tag.tenant_id == tenant_id).order_by(Tag.name).limit(limit)
        )
    )


def suggest(
    conv: Conversation,
    limit: int = 5,
    current: Sequence[str] | None = None,
    tenant_tags: Sequence[str] | None = None,
) -> list[str]:
    """The municipality's tags that the first citizen message names (as a whole word or the
    start of one: "byggesak" in "byggesaken"), not already on the conversation. `current` (the
    conversation's tags) and `tenant_tags` (tenant_names()) when the caller has read them."""
    from inbox.models import Direction, Message

    first = db.session.scalar(
        select(Message.body)
        .where(
            Message.conversation_id == conv.id,
            Message.direction == Direction.INBOUND,
            Message.is_note.is_(False),
        )
        .order_by(Message.sent_at, Message.id)
        .limit(1)
    )
    if not first:
        return []
    text = " ".join(first.lower().split())
    have = set(names_for([conv.id]).get(conv.id, []) if current is None else current)
    found = []
    for name in tenant_names(conv.tenant_id) if tenant_tags is None else tenant_tags:
        if name in have:
            continue
        if re.search(r"(?<!\w)" + re.escape(name), text):
            found.append(name)
            if len(found) >= limit:
                break
    return found
