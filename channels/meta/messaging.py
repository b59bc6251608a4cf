"""Meta's messaging window and Send API, for Messenger and Instagram direct messages.

https://developers.facebook.com/docs/messenger-platform/policy/policy-overview#24hours_window
A reply is allowed within 24 hours of the person's last message; from 24 hours to 7 days only
with the HUMAN_AGENT tag (a person answering, and the app approved for Human Agent); later not
at all. The same rules hold for Instagram Messaging through the page linked to the account.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from channels.interfaces import SendResult, TransientSendError
from channels.meta.tokens import send_call
from inbox.extensions import db
from inbox.models import (
    ChannelAccount,
    Conversation,
    DeliveryStatus,
    Direction,
    IdentityKind,
    Message,
)
from inbox.models.base import utcnow
from inbox.services.ingest import find_message, update_delivery_status

STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)


def reply_limits(conversation: Conversation, now: datetime | None = None) -> dict[str, Any]:
    """When a reply may still be sent, and whether it needs the HUMAN_AGENT tag."""
    now = now or utcnow()
    last = conversation.last_inbound_at
    if last is None:
        return {
            "window_ends_at": None,
            "standard_window_ends_at": None,
            "tag": None,
            "can_reply": False,
        }
    standard_end, agent_end = last + STANDARD_WINDOW, last + HUMAN_AGENT_WINDOW
    tag = None if now < standard_end else ("HUMAN_AGENT" if now < agent_end else None)
    return {
        "window_ends_at": agent_end,
        "standard_window_ends_at": standard_end,
        "tag": tag,
        "can_reply": now < agent_end,
    }


def send_text(
    account: ChannelAccount, page_id: str, recipient_id: str, text: str, tag: str | None
) -> SendResult:
    """POST /{page-id}/messages with recipient={"id"}, message={"text"}; the tag outside 24 h.

    Messenger and Instagram (with an Instagram-scoped id as recipient) alike."""
    data = {
        "recipient": json.dumps({"id": recipient_id}),
        "message": json.dumps({"text": text}, ensure_ascii=False),
        "messaging_type": "RESPONSE",
    }
    if tag:
        data.update(messaging_type="MESSAGE_TAG", tag=tag)
    result = send_call(account, lambda g: g.post(f"{page_id}/messages", **data))
    mid = result.get("message_id")
    if not isinstance(mid, str):
        raise TransientSendError("Meta did not return a message id.")
    return SendResult(provider_message_id=mid, status=DeliveryStatus.SENT)


def apply_status(
    account: ChannelAccount,
    recipient_key: str,
    recipient_id: str,
    status: DeliveryStatus,
    mids: list[str],
    watermark: datetime | None,
) -> int:
    """A delivery/read report: the messages named by mid, and everything we sent to the person
    (conversation.meta[recipient_key] == recipient_id) up to the watermark."""
    targets: dict[int, Message] = {}
    for mid in mids:
        m = find_message(account.id, mid)
        if m is not None and m.direction is Direction.OUTBOUND:
            targets[m.id] = m
    if watermark is not None:
        q = (
            select(Message)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(
                Message.channel_account_id == account.id,
                Message.direction == Direction.OUTBOUND,
                Message.is_note.is_(False),
                Message.provider_message_id.is_not(None),
                Message.sent_at <= watermark,
                Conversation.meta[recipient_key].as_string() == recipient_id,
            )
        )
        for m in db.session.scalars(q):
            targets[m.id] = m
    return sum(update_delivery_status(m, status) for m in targets.values())


def recipient_id(conv: Conversation, meta_key: str, kind: IdentityKind) -> str | None:
    """The citizen's page-scoped id a message goes to (PSID on Facebook, IGSID on Instagram):
    the one the conversation started with, else the contact's identity of that kind."""
    value = (conv.meta or {}).get(meta_key)
    if value:
        return str(value)
    for ident in conv.contact.identities:
        if ident.kind is kind:
            return ident.value
    return None
