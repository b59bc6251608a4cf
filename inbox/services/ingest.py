"""The one funnel every channel uses to store an inbound message.

Idempotent: the provider's message id is unique per channel account, so a retried webhook,
a poll that overlaps a push, or two deliveries racing each other store the message once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from inbox.extensions import db
from inbox.models import (
    Attachment,
    ChannelAccount,
    Contact,
    ContactIdentity,
    Conversation,
    ConversationStatus,
    DeliveryStatus,
    Direction,
    IdentityKind,
    Message,
)
from inbox.models.base import utcnow
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


def find_message(account_id: int, provider_message_id: str) -> Message | None:
    return db.session.scalar(
        select(Message).where(
            Message.channel_account_id == account_id,
            Message.provider_message_id == provider_message_id,
        )
    )


def ingest(account: ChannelAccount, inbound: InboundMessage) -> tuple[Message, bool]:
    """Store an inbound message; returns (message, created). Flushes, never commits.

    The channel parsers have checked the shape; the text is cleaned here once more (no NUL,
    no lone surrogates, at most MAX_MESSAGE_CHARS with a mark), whichever path it came by."""
    inbound.body = clean_text(inbound.body)
    inbound.contact_name = optional_text(inbound.contact_name, 200)
    if inbound.provider_message_id:
        existing = find_message(account.id, inbound.provider_message_id)
        if existing is not None:
            return existing, False
    contact, new_contact = _find_or_create_contact(
        account.tenant_id, inbound.identity_kind, inbound.identity_value, inbound.contact_name
    )
    conversation = _conversation_for(account, contact, inbound)
    message = Message(
        tenant_id=account.tenant_id,
        conversation_id=conversation.id,
        channel_account_id=account.id,
        direction=Direction.INBOUND,
        contact_id=contact.id,
        body=inbound.body,
        provider_message_id=inbound.provider_message_id,
        provider_parent_id=inbound.provider_parent_id,
        delivery_status=DeliveryStatus.RECEIVED,
        sent_at=inbound.sent_at or utcnow(),
        meta=inbound.meta,
    )
    try:
        with db.session.begin_nested():
            db.session.add(message)
            db.session.flush()
    except IntegrityError:
        # A concurrent delivery of the same provider id won the race.
        if not inbound.provider_message_id:
            raise
        existing = find_message(account.id, inbound.provider_message_id)
        if existing is None:
            raise
        return existing, False
    for att in inbound.attachments:
        db.session.add(
            Attachment(
                tenant_id=account.tenant_id,
                message_id=message.id,
                filename=att.filename,
                content_type=att.content_type,
                size=len(att.data or b""),
                sha256=att.sha256,
                provider_url=att.provider_url,
                data=att.data,
            )
        )
    _touch_inbound(conversation, message)
    db.session.flush()
    if new_contact:
        _suggest_matches(contact)
    return message, True


def ingest_many(
    items: list[tuple[ChannelAccount, InboundMessage]],
) -> list[tuple[Message, bool]]:
    """Store several inbound messages in one transaction, in the order given (the order they
    arrived); returns (message, created) for each item, in the same order. Flushes, never
    commits. Messages of one conversation keep their relative order."""
    return [ingest(account, inbound) for account, inbound in items]


def _suggest_matches(contact: Contact) -> None:
    """Someone new: is it a citizen already known from another channel? Only a suggestion
    for the caseworker (nothing is merged silently), made in the same transaction so it
    cannot be lost; a failure here never costs the message."""
    from inbox.services import matching

    if not matching.has_match_keys(contact):
        return
    try:
        with db.session.begin_nested():
            matching.suggest_for_contact(contact.id)
    except Exception:  # noqa: BLE001 - logged; the message matters more than the suggestion
        log.exception("contact matching failed for contact %s", contact.id)


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


def _conversation_for(
    account: ChannelAccount, contact: Contact, inbound: InboundMessage
) -> Conversation:
    q = select(Conversation).where(Conversation.channel_account_id == account.id)
    if inbound.thread_key:
        q = q.where(Conversation.thread_key == inbound.thread_key)
    else:
        q = q.where(
            Conversation.contact_id == contact.id,
            Conversation.thread_key.is_(None),
            Conversation.status != ConversationStatus.CLOSED,
            Conversation.merged_into_id.is_(None),
        )
    conv = db.session.scalar(q.order_by(Conversation.id.desc()).limit(1))
    while conv is not None and conv.merged_into_id is not None:
        # A thread merged into another conversation continues there.
        conv = db.session.get(Conversation, conv.merged_into_id)
    if conv is not None:
        return conv
    conv = Conversation(
        tenant_id=account.tenant_id,
        contact_id=contact.id,
        channel_account_id=account.id,
        thread_key=inbound.thread_key,
        team_id=account.team_id,
        subject=inbound.subject,
        status=ConversationStatus.OPEN,
    )
    try:
        with db.session.begin_nested():
            db.session.add(conv)
            db.session.flush()
    except IntegrityError:
        if not inbound.thread_key:
            raise
        return _conversation_for(account, contact, inbound)
    return conv


def _touch_inbound(conv: Conversation, message: Message) -> None:
    now = utcnow()
    conv.last_activity_at = now
    conv.last_inbound_at = message.sent_at
    conv.has_unread = True
    if conv.waiting_since is None:
        conv.waiting_since = message.sent_at
    if conv.status in (ConversationStatus.SNOOZED, ConversationStatus.PENDING):
        conv.status = ConversationStatus.OPEN
        conv.snoozed_until = None
    if conv.status is ConversationStatus.CLOSED and conv.thread_key:
        # A comment thread lives on; a new comment reopens it.
        conv.status = ConversationStatus.OPEN
        conv.closed_at = None


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
    if error_code is not None:
        message.error_code = error_code
    if error_message is not None:
        message.error_message = error_message
    if status is DeliveryStatus.READ and message.read_at is None:
        message.read_at = utcnow()
    return True
