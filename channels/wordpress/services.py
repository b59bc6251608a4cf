"""Storing a website comment (from a WordPress poll or the signed webhook) through ingest."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from channels.wordpress import hearing
from inbox.extensions import db
from inbox.models import ChannelAccount, Contact, IdentityKind, Message
from inbox.services import matching
from inbox.services.ingest import InboundMessage, ingest

WORDPRESS = "wordpress"
WEBHOOK = "webhook"
_ANONYMOUS_NAMES = {"", "anonym", "anonymous", "anon", "ukjent", "ukjend", "-"}


def source_of(account: ChannelAccount) -> str:
    return str((account.config or {}).get("source") or WORDPRESS)


@dataclass
class Comment:
    """A comment as both sources deliver it, already plain text."""

    comment_id: str
    thread_key: str  # one conversation per page/post
    page_url: str | None
    page_title: str | None
    author_name: str | None
    author_email: str | None
    body: str
    created_at: datetime | None
    parent_id: str | None = None
    post_id: int | None = None

    @property
    def anonymous(self) -> bool:
        name = " ".join((self.author_name or "").split()).casefold()
        return name in _ANONYMOUS_NAMES and not self.author_email


def author_identity(account: ChannelAccount, c: Comment) -> str:
    """WEB_AUTHOR identities are scoped to the source: "<account id>:<who>"."""
    if c.anonymous:
        # Every anonymous comment is its own unknown person, never lumped together.
        return f"{account.id}:anon:{c.comment_id}"[:254]
    if c.author_email:
        digest = hashlib.sha256(c.author_email.strip().lower().encode()).hexdigest()[:40]
        return f"{account.id}:email:{digest}"
    # Only the name as typed (spacing aside) is known; other spellings of it become "likely"
    # match suggestions for a caseworker instead of being lumped together here.
    name = " ".join((c.author_name or "").split())
    return f"{account.id}:name:{name}"[:254]


def store_comment(account: ChannelAccount, c: Comment, source: str) -> tuple[Message, bool]:
    """Ingest one comment (idempotent on its id). Flushes; the caller commits."""
    message, created = ingest(account, comment_inbound(account, c, source))
    comment_stored(account, c, source, message, created)
    return message, created


def comment_inbound(account: ChannelAccount, c: Comment, source: str) -> InboundMessage:
    meta: dict[str, object] = {
        "source": source,
        "page_url": c.page_url,
        "anonymous": c.anonymous,
        "author_name": None if c.anonymous else c.author_name,
    }
    if c.post_id is not None:
        meta["post_id"] = c.post_id
    if account.is_hearing:
        meta["archive_suggestion"] = {"reason": "hearing"}
    return InboundMessage(
        identity_kind=IdentityKind.WEB_AUTHOR,
        identity_value=author_identity(account, c),
        body=c.body,
        provider_message_id=c.comment_id,
        sent_at=c.created_at,
        contact_name=None if c.anonymous else (c.author_name or "").strip()[:200] or None,
        thread_key=c.thread_key,
        subject=(c.page_title or c.page_url or "")[:300] or None,
        provider_parent_id=c.parent_id,
        meta=meta,
    )


def comment_stored(
    account: ChannelAccount, c: Comment, source: str, message: Message, created: bool
) -> None:
    """The page on the conversation, a hearing's archive suggestion, contact matching."""
    if not created:
        return
    conv = message.conversation
    if "page_url" not in (conv.meta or {}):
        conv.meta = {
            **(conv.meta or {}),
            "source": source,
            "page_url": c.page_url,
            "page_title": c.page_title,
            **({"post_id": c.post_id} if c.post_id is not None else {}),
        }
    if account.is_hearing:
        hearing.suggest_archive(conv, message)
    contact = db.session.get(Contact, message.contact_id) if message.contact_id else None
    email = matching.normalise_email(c.author_email)
    if contact is not None and email and not contact.email:
        contact.email = email
    if message.contact_id is not None:
        matching.queue_matching(message.contact_id)
