"""Web-chat visitors and their messages."""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import select

from inbox.extensions import db
from inbox.models import (
    ChannelAccount,
    ChannelKind,
    ContactIdentity,
    Conversation,
    DeliveryStatus,
    Direction,
    IdentityKind,
    Message,
)
from inbox.services.ingest import InboundMessage, ingest, update_delivery_status

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9-]{8,64}$")


def account_for_key(widget_key: str) -> ChannelAccount | None:
    return db.session.scalar(
        select(ChannelAccount).where(
            ChannelAccount.kind == ChannelKind.WEBCHAT,
            ChannelAccount.external_id == widget_key,
            ChannelAccount.enabled.is_(True),
        )
    )


def new_visitor_token() -> str:
    return secrets.token_urlsafe(32)


def visitor_identity(token: str) -> str:
    """Tokens are bearer secrets: we keep only their hash."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def post_message(account: ChannelAccount, token: str, client_id: str, body: str) -> Message:
    ident = visitor_identity(token)
    msg, _created = ingest(
        account,
        InboundMessage(
            identity_kind=IdentityKind.CHAT_VISITOR,
            identity_value=ident,
            body=body,
            # The widget's own id for the message makes its retries idempotent.
            provider_message_id=f"{ident[7:23]}:{client_id}",
        ),
    )
    return msg


def visitor_messages(account: ChannelAccount, token: str, after_id: int = 0) -> list[Message]:
    """Messages the visitor may see (never internal notes), newest last."""
    ident = db.session.scalar(
        select(ContactIdentity).where(
            ContactIdentity.tenant_id == account.tenant_id,
            ContactIdentity.kind == IdentityKind.CHAT_VISITOR,
            ContactIdentity.value == visitor_identity(token),
        )
    )
    if ident is None:
        return []
    conv_ids = select(Conversation.id).where(
        Conversation.channel_account_id == account.id,
        Conversation.contact_id == ident.contact_id,
    )
    msgs = list(
        db.session.scalars(
            select(Message)
            .where(
                Message.conversation_id.in_(conv_ids),
                Message.is_note.is_(False),
                Message.id > after_id,
                Message.removed_at.is_(None),
                # A reply is shown once the worker has handed it to the channel.
                Message.delivery_status != DeliveryStatus.QUEUED,
            )
            .order_by(Message.id)
            .limit(200)
        )
    )
    for m in msgs:
        if m.direction is Direction.OUTBOUND:
            update_delivery_status(m, DeliveryStatus.DELIVERED)
    return msgs
