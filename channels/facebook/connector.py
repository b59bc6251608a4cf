"""Connectors for a Facebook page: Messenger (Send API) and post comments (comment replies)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from channels.facebook import poll as pull
from channels.facebook.graph import GraphClient, GraphError
from channels.facebook.services import raise_alert, token_blocked
from channels.interfaces import PermanentSendError, SendResult, TransientSendError
from inbox.extensions import db
from inbox.models import (
    ChannelAccount,
    ChannelKind,
    Conversation,
    DeliveryStatus,
    Direction,
    IdentityKind,
    Message,
)
from inbox.models.base import utcnow

# https://developers.facebook.com/docs/messenger-platform/policy/policy-overview#24hours_window
STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)


def reply_limits(conversation: Conversation, now: datetime | None = None) -> dict[str, Any]:
    """When a Messenger reply may still be sent, and whether it needs the HUMAN_AGENT tag."""
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


def _call(account: ChannelAccount, fn):  # type: ignore[no-untyped-def]
    """Run a Graph call for a send; turn failures into the outbound service's errors."""
    if token_blocked(account):
        raise PermanentSendError(account.alert or "token", code="190")
    try:
        return fn(GraphClient(account))
    except GraphError as exc:
        if exc.kind == "token":
            raise_alert(account, exc)
            db.session.commit()  # the alert must outlive the send's rollback
            raise PermanentSendError(account.alert or str(exc), code="190") from exc
        code = str(exc.code) if exc.code is not None else None
        if exc.kind == "transient":
            raise TransientSendError(str(exc), code=code) from exc
        raise PermanentSendError(str(exc), code=code) from exc


class _FacebookConnector:
    kind: ChannelKind

    def poll(self, account: ChannelAccount) -> int:
        if token_blocked(account):
            return 0
        try:
            return pull.poll(account, GraphClient(account))
        except GraphError as exc:
            if exc.kind == "token":
                raise_alert(account, exc)
            return 0

    def _blocked_reason(self, conversation: Conversation) -> str | None:
        account = conversation.channel_account
        if account.alert and token_blocked(account):
            return _(
                "The connection to the Facebook page has stopped (the access token has "
                "expired). An administrator must renew it before replies can be sent."
            )
        return None


class MessengerConnector(_FacebookConnector):
    kind = ChannelKind.MESSENGER

    def cannot_reply_reason(self, conversation: Conversation) -> str | None:
        if not _psid(conversation):
            return _("The citizen's Messenger id is unknown, so a reply cannot be sent.")
        limits = reply_limits(conversation)
        if not limits["can_reply"]:
            return _(
                "Facebook only allows replies in Messenger up to 7 days after the citizen's "
                "last message. Ask the citizen to write again, or answer by another channel."
            )
        return self._blocked_reason(conversation)

    def reply_limits(self, conversation: Conversation) -> dict[str, Any]:
        limits = reply_limits(conversation)
        # The key the inbox's reply box shows as "you can reply until".
        limits["window_closes_at"] = limits["window_ends_at"]
        return limits

    def send(self, account: ChannelAccount, message: Message) -> SendResult:
        conv = message.conversation
        psid = _psid(conv)
        limits = reply_limits(conv)
        if not psid or not limits["can_reply"]:
            raise PermanentSendError(self.cannot_reply_reason(conv) or "", code="window")
        data = {
            "recipient": json.dumps({"id": psid}),
            "message": json.dumps({"text": message.body}, ensure_ascii=False),
            "messaging_type": "RESPONSE",
        }
        if limits["tag"]:
            data.update(messaging_type="MESSAGE_TAG", tag=limits["tag"])
        result = _call(account, lambda g: g.post(f"{account.external_id}/messages", **data))
        mid = result.get("message_id")
        if not isinstance(mid, str):
            raise TransientSendError("Facebook did not return a message id.")
        return SendResult(provider_message_id=mid, status=DeliveryStatus.SENT)


class CommentsConnector(_FacebookConnector):
    kind = ChannelKind.FACEBOOK_COMMENTS

    def cannot_reply_reason(self, conversation: Conversation) -> str | None:
        if _reply_target(conversation) is None:
            return _("There is no comment left to reply to; the comments have been removed.")
        return self._blocked_reason(conversation)

    def send(self, account: ChannelAccount, message: Message) -> SendResult:
        target = _reply_target(message.conversation)
        if target is None:
            raise PermanentSendError(
                self.cannot_reply_reason(message.conversation) or "", code="removed"
            )
        result = _call(account, lambda g: g.post(f"{target}/comments", message=message.body))
        comment_id = result.get("id")
        if not isinstance(comment_id, str):
            raise TransientSendError("Facebook did not return a comment id.")
        return SendResult(
            provider_message_id=comment_id, status=DeliveryStatus.SENT, provider_parent_id=target
        )


def _psid(conv: Conversation) -> str | None:
    psid = (conv.meta or {}).get("psid")
    if psid:
        return str(psid)
    for ident in conv.contact.identities:
        if ident.kind is IdentityKind.FACEBOOK_PSID:
            return ident.value
    return None


def _reply_target(conv: Conversation) -> str | None:
    """The comment a reply answers: the latest comment by a citizen still on Facebook.

    Facebook threads are two levels deep, so a reply to a reply goes under its top comment.
    """
    row = db.session.execute(
        select(Message.provider_message_id, Message.provider_parent_id)
        .where(
            Message.conversation_id == conv.id,
            Message.direction == Direction.INBOUND,
            Message.removed_at.is_(None),
            Message.provider_message_id.is_not(None),
        )
        .order_by(Message.sent_at.desc(), Message.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    comment_id, parent_id = row
    return parent_id if parent_id and parent_id != conv.thread_key else comment_id
