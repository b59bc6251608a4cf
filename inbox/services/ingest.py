"""The one funnel every channel uses to store an inbound message.

Idempotent: the provider's message id is unique per channel account, so a retried webhook,
a poll that overlaps a push, or two deliveries racing each other store the message once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from inbox.extensions import db
from inbox.models import (
    ChannelAccount,
    Contact,
    ContactIdentity,
    DeliveryStatus,
    IdentityKind,
    Message,
)
from inbox.models.base import utcnow
from inbox.services import ingest_batch
from inbox.untrusted import clean_text, optional_text

log = logging.getLogger(__name__)


@dataclass
class InboundAttachment:
    filename: str
    content_type: str
    data: bytes | None = None
    provider_url: str | None = None
    sha256: str | None = None


@dataclass
class InboundMessage:
    identity_kind: IdentityKind
    identity_value: str
    body: str
    provider_message_id: str | None = None
    sent_at: datetime | None = None
    contact_name: str | None = None
    # Provider thread (a Facebook post, a web page): one conversation per thread key.
    thread_key: str | None = None
    subject: str | None = None
    provider_parent_id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    attachments: list[InboundAttachment] = field(default_factory=list)
    # What a conversation this message opens starts with in its meta (an SMS: the number
    # replies go to), so it is not written again by an UPDATE right after.
    conversation_meta: dict[str, Any] = field(default_factory=dict)


def find_message(account_id: int, provider_message_id: str) -> Message | None:
    return db.session.scalar(
        select(Message).where(
            Message.channel_account_id == account_id,
            Message.provider_message_id == provider_message_id,
        )
    )


def ingest(account: ChannelAccount, inbound: InboundMessage) -> tuple[Message, bool]:
    """Store an inbound message; returns (message, created). Flushes, never commits."""
    return ingest_many([(account, inbound)])[0]


def ingest_many(
    items: Sequence[tuple[ChannelAccount, InboundMessage]],
) -> list[tuple[Message, bool]]:
    """`ingest_stored`, with each message loaded (one query for all of them)."""
    return [(stored.message, stored.created) for stored in ingest_stored(items)]


def ingest_stored(
    items: Sequence[tuple[ChannelAccount, InboundMessage]],
) -> list[ingest_batch.Stored]:
    """Store several inbound messages in one transaction, in the order given (the order they
    arrived); returns what became of each item (its message id, whether it was created, the
    message on first use), in the same order. Flushes, never commits. Messages of one
    conversation keep their relative order.

    Set-based (inbox/services/ingest_batch.py): a fixed number of statements whatever the
    size of the batch, no savepoints. A provider id already stored (or given twice in the
    batch) returns the stored message with created False. Realtime events and contact matching
    for what was created go out after the commit.

    The channel parsers have checked the shape; the text is cleaned here once more (no NUL,
    no lone surrogates, at most MAX_MESSAGE_CHARS with a mark), whichever path it came by."""
    for _account, inbound in items:
        inbound.body = clean_text(inbound.body)
        inbound.contact_name = optional_text(inbound.contact_name, 200)
    return ingest_batch.store(items)


def contact_for_identity(
    tenant_id: int, kind: IdentityKind, value: str, name: str | None = None
) -> Contact:
    """The contact known by this identity, created with the identity if new."""
    return _find_or_create_contact(tenant_id, kind, value, name)[0]


def _find_or_create_contact(
    tenant_id: int, kind: IdentityKind, value: str, name: str | None
) -> tuple[Contact, bool]:
    ident = db.session.scalar(
        select(ContactIdentity).where(
            ContactIdentity.tenant_id == tenant_id,
            ContactIdentity.kind == kind,
            ContactIdentity.value == value,
        )
    )
    if ident is not None:
        contact = db.session.get(Contact, ident.contact_id)
        assert contact is not None
        if name and not contact.name:
            contact.name = name
        return contact, False
    contact = Contact(tenant_id=tenant_id, name=name)
    if kind is IdentityKind.PHONE:
        contact.phone = value
    elif kind is IdentityKind.EMAIL:
        contact.email = value
    try:
        with db.session.begin_nested():
            db.session.add(contact)
            db.session.flush()
            db.session.add(
                ContactIdentity(tenant_id=tenant_id, contact_id=contact.id, kind=kind, value=value)
            )
            db.session.flush()
    except IntegrityError:
        # Someone created the same identity at the same moment; use theirs.
        return _find_or_create_contact(tenant_id, kind, value, name)
    return contact, True


_FINAL = (DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED)


def update_delivery_status(
    message: Message,
    status: DeliveryStatus,
    *,
    error_code: str | None = None,
    error_message: str | None = None,
) -> bool:
    """Apply a provider's status report; out-of-order reports never move a status backwards."""
    current = message.delivery_status
    if current in _FINAL and status not in _FINAL:
        return False
    if status.rank < current.rank:
        return False
    message.delivery_status = status
    if status.rank >= DeliveryStatus.SENT.rank and status not in _FINAL:
        # It is out: what an earlier attempt left (a lost answer, a refusal) no longer applies.
        message.error_code = message.error_message = None
    if error_code is not None:
        message.error_code = error_code
    if error_message is not None:
        message.error_message = error_message
    if status is DeliveryStatus.READ and message.read_at is None:
        message.read_at = utcnow()
    return True
