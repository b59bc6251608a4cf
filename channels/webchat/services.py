"""Web-chat visitors and their messages."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from channels.interfaces import InvalidPayload
from channels.validation import clean_text, is_text
from inbox.extensions import db
from inbox.models import (
    ChannelAccount,
    ChannelKind,
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
from inbox.models.tenancy import active_tenant_ids
from inbox.services import audit
from inbox.services.account_cache import AccountRef
from inbox.services.ingest import (
    InboundMessage,
    contact_for_identity,
    ingest,
    update_delivery_status,
)

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9-]{8,64}$")
EMAIL_RE = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
PHONE_RE = re.compile(r"^\+[1-9]\d{7,14}$")
REPLY_METHODS = ("chat", "sms", "email")


WIDGET_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def account_for_key(widget_key: str) -> ChannelAccount | None:
    if not WIDGET_KEY_RE.match(widget_key):
        return None  # not a key we ever hand out: no query with NUL or odd characters
    return db.session.scalar(
        select(ChannelAccount).where(
            ChannelAccount.kind == ChannelKind.WEBCHAT,
            ChannelAccount.external_id == widget_key,
            ChannelAccount.enabled.is_(True),
            ChannelAccount.tenant_id.in_(active_tenant_ids()),
        )
    )


def new_visitor_token() -> str:
    return secrets.token_urlsafe(32)


def visitor_identity(token: str) -> str:
    """Tokens are bearer secrets: we keep only their hash."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def identified_visitor_token(account: ChannelAccount, user_id: str) -> str:
    """A fresh token tied to the contact the site vouched for (IdentityKind.CHAT_USER)."""
    contact = contact_for_identity(account.tenant_id, IdentityKind.CHAT_USER, user_id)
    return identified_token_for_contact(account, contact)


def identified_token_for_contact(account: ChannelAccount, contact: Contact) -> str:
    """A fresh visitor token tied to an identified contact (vouched for, or ID-porten)."""
    token = new_visitor_token()
    db.session.add(
        ContactIdentity(
            tenant_id=account.tenant_id,
            contact_id=contact.id,
            kind=IdentityKind.CHAT_VISITOR,
            value=visitor_identity(token),
        )
    )
    db.session.flush()
    return token


class ChatInputError(InvalidPayload):
    """A visitor's request the chat API refuses; `code` names the reason for the widget."""

    def __init__(self, code: str, status: int = 400, reason: str | None = None) -> None:
        super().__init__(reason or code)
        self.code, self.status, self.reason = code, status, reason or code


def parse_visitor_message(data: object, max_chars: int) -> tuple[str, str]:
    """(body, client_id) of a POST /messages body; raises ChatInputError. The body is trimmed
    and cleaned (lone surrogates replaced); NUL and over-long text are refused, since the
    visitor is there to see why."""
    if not isinstance(data, dict):
        raise ChatInputError("json")
    if set(data) - {"body", "client_id"}:
        raise ChatInputError("json", reason="fields")
    body, client_id = data.get("body"), data.get("client_id")
    if not isinstance(body, str) or not body.strip():
        raise ChatInputError("empty")
    body = body.replace("\r\n", "\n").strip()
    if len(body) > max_chars:
        raise ChatInputError("too_long", 413)
    if "\x00" in body:
        raise ChatInputError("invalid")
    if not isinstance(client_id, str) or not CLIENT_ID_RE.match(client_id):
        raise ChatInputError("client_id")
    return clean_text(body, max_chars), client_id


def event_key(token: str, client_id: str) -> str:
    """The inbound event's key: the widget's id for the message, scoped to the visitor (two
    visitors may pick the same client id; one visitor's retry is the same event)."""
    return f"{visitor_identity(token)}:{client_id}"


def event_body(token: str, client_id: str, body: str, *, offline: bool) -> bytes:
    """What the inbound event keeps: the checked message and the token's hash (the bearer
    token itself is never stored)."""
    data = {"visitor": visitor_identity(token), "client_id": client_id, "body": body}
    return json.dumps({**data, "offline": offline}, ensure_ascii=False).encode()


def visitor_inbound(ident: str, client_id: str, body: str, *, offline: bool) -> InboundMessage:
    return InboundMessage(
        identity_kind=IdentityKind.CHAT_VISITOR,
        identity_value=ident,
        body=body,
        # The widget's own id for the message makes its retries idempotent.
        provider_message_id=f"{ident[7:23]}:{client_id}",
        meta={"left_while_unavailable": True} if offline else {},
    )


def visitor_message_stored(message: Message, created: bool, *, offline: bool) -> None:
    """After a visitor's message is stored: a question left while nobody was there asks how
    the citizen wants to be answered."""
    if created and offline:
        conv = message.conversation
        conv.meta = {**(conv.meta or {}), "left_while_unavailable": True}


def post_message(
    account: ChannelAccount, token: str, client_id: str, body: str, *, offline: bool = False
) -> Message:
    """Store a visitor's message at once (the inbound worker does the same from its event)."""
    msg, created = ingest(
        account, visitor_inbound(visitor_identity(token), client_id, body, offline=offline)
    )
    visitor_message_stored(msg, created, offline=offline)
    return msg


def client_id_of(message: Message) -> str | None:
    """The widget's id of a visitor's message (so it can replace its pending bubble)."""
    if message.direction is not Direction.INBOUND or not message.provider_message_id:
        return None
    return message.provider_message_id.partition(":")[2] or None


def visitor_contact_id(account: ChannelAccount, token: str) -> int | None:
    """The contact behind a visitor token (None until the visitor has written)."""
    return _contact_id(account, token)


def _contact_id(account: ChannelAccount | AccountRef, token: str) -> int | None:
    return db.session.scalar(
        select(ContactIdentity.contact_id).where(
            ContactIdentity.tenant_id == account.tenant_id,
            ContactIdentity.kind == IdentityKind.CHAT_VISITOR,
            ContactIdentity.value == visitor_identity(token),
        )
    )


def _conversation_ids(account: ChannelAccount, contact_id: int):  # type: ignore[no-untyped-def]
    return select(Conversation.id).where(
        Conversation.channel_account_id == account.id,
        Conversation.contact_id == contact_id,
    )


def current_conversation(account: ChannelAccount | AccountRef, token: str) -> Conversation | None:
    contact_id = _contact_id(account, token)
    if contact_id is None:
        return None
    return db.session.scalar(
        select(Conversation)
        .where(
            Conversation.channel_account_id == account.id,
            Conversation.contact_id == contact_id,
            Conversation.status != ConversationStatus.CLOSED,
            Conversation.merged_into_id.is_(None),
            Conversation.thread_key.is_(None),
        )
        .order_by(Conversation.id.desc())
        .limit(1)
    )


def visitor_messages(
    account: ChannelAccount, token: str, after_id: int = 0, *, contact_id: int | None = None
) -> list[Message]:
    """Messages the visitor may see (never internal notes), newest last."""
    contact_id = contact_id or _contact_id(account, token)
    if contact_id is None:
        return []
    visible = (
        Message.conversation_id.in_(_conversation_ids(account, contact_id)),
        Message.is_note.is_(False),
        Message.id > after_id,
    )
    # A reply is shown once the worker has finished handing it to the channel (marking it
    # delivered while the worker holds it could be overwritten by the worker's "sent"). The
    # widget's cursor must never pass a reply still on its way, so nothing after it is shown
    # yet either: it would be skipped for good.
    in_flight = db.session.scalar(
        select(func.min(Message.id)).where(
            *visible,
            Message.delivery_status.in_((DeliveryStatus.QUEUED, DeliveryStatus.SENDING)),
        )
    )
    query = select(Message).where(*visible, Message.removed_at.is_(None))
    if in_flight is not None:
        query = query.where(Message.id < in_flight)
    msgs = list(db.session.scalars(query.order_by(Message.id).limit(200)))
    for m in msgs:
        if m.direction is Direction.OUTBOUND:
            update_delivery_status(m, DeliveryStatus.DELIVERED)
    return msgs


def visitor_state(
    account: ChannelAccount,
    token: str,
    after_id: int,
    now: datetime,
    *,
    contact_id: int | None = None,
) -> dict[str, Any]:
    """Everything the widget shows besides messages: how far staff have read, who is typing."""
    contact_id = contact_id or _contact_id(account, token)
    if contact_id is None:
        return {"read_up_to": 0, "typing": False}
    conv_ids = _conversation_ids(account, contact_id)
    read_up_to = db.session.scalar(
        select(func.max(Message.id)).where(
            Message.conversation_id.in_(conv_ids),
            Message.direction == Direction.INBOUND,
            Message.read_at.is_not(None),
        )
    )
    typing = False
    for meta in db.session.scalars(
        select(Conversation.meta).where(
            Conversation.id.in_(conv_ids), Conversation.status != ConversationStatus.CLOSED
        )
    ):
        until = (meta or {}).get("staff_typing_until")
        if until and datetime.fromisoformat(until) > now:
            typing = True
    return {"read_up_to": read_up_to or 0, "typing": typing}


def set_staff_typing(conv: Conversation, typing: bool, seconds: int) -> None:
    meta = dict(conv.meta or {})
    if typing:
        meta["staff_typing_until"] = (utcnow() + timedelta(seconds=seconds)).isoformat()
    else:
        meta.pop("staff_typing_until", None)
    conv.meta = meta


class PreferenceError(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def normalise_reply_preference(method: object, value: object) -> dict[str, str]:
    if method not in REPLY_METHODS:
        raise PreferenceError("method")
    if method == "chat":
        return {"method": "chat"}
    if not is_text(value):
        raise PreferenceError(str(method))
    value = str(value).strip()
    if method == "sms":
        digits = re.sub(r"[\s().-]", "", value)
        if digits.startswith("00"):
            digits = "+" + digits[2:]
        if re.fullmatch(r"[49]\d{7}", digits):  # a Norwegian mobile number without +47
            digits = "+47" + digits
        if not PHONE_RE.match(digits):
            raise PreferenceError("sms")
        return {"method": "sms", "value": digits}
    if len(value) > 254 or not EMAIL_RE.match(value):
        raise PreferenceError("email")
    return {"method": "email", "value": value}


def set_reply_preference(conv: Conversation, preference: dict[str, str]) -> None:
    conv.meta = {
        **(conv.meta or {}),
        "reply_preference": {**preference, "set_at": utcnow().isoformat()},
    }
    audit.record(
        "webchat.reply_preference",
        conv,
        tenant_id=conv.tenant_id,
        actor_label="citizen",
        method=preference["method"],
    )


def end_chat(account: ChannelAccount, token: str) -> int:
    """The citizen ends the chat: answered conversations close; an unanswered question stays
    in the queue (it still needs an answer). The token stops working. Returns how many
    conversations were ended."""
    contact_id = _contact_id(account, token)
    if contact_id is None:
        return 0
    now = utcnow()
    convs = db.session.scalars(
        select(Conversation).where(
            Conversation.id.in_(_conversation_ids(account, contact_id)),
            Conversation.status != ConversationStatus.CLOSED,
        )
    ).all()
    for conv in convs:
        meta = dict(conv.meta or {})
        meta["ended_by_citizen_at"] = now.isoformat()
        meta.pop("staff_typing_until", None)
        conv.meta = meta
        if conv.waiting_since is None:
            conv.status = ConversationStatus.CLOSED
            conv.closed_at = now
        audit.record("webchat.end", conv, tenant_id=conv.tenant_id, actor_label="citizen")
    ident = db.session.scalar(
        select(ContactIdentity).where(
            ContactIdentity.tenant_id == account.tenant_id,
            ContactIdentity.kind == IdentityKind.CHAT_VISITOR,
            ContactIdentity.value == visitor_identity(token),
        )
    )
    if ident is not None:
        db.session.delete(ident)
    db.session.flush()
    return len(convs)
