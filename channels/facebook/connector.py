"""Connectors for a Facebook page: Messenger (Send API) and post comments (comment replies).

The messaging window, the Send API call, token alerts and reply targets are Meta's, shared
with Instagram (channels/meta)."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from channels.facebook import poll as pull
from channels.interfaces import PermanentSendError, SendResult
from channels.meta import messaging
from channels.meta.comments import reply_target, send_reply
from channels.meta.locale import tenant_locale
from channels.meta.tokens import blocked_reason, poll_with
from inbox.models import (
    ChannelAccount,
    ChannelKind,
    Conversation,
    IdentityKind,
    Message,
)

reply_limits = messaging.reply_limits


class _FacebookConnector:
    kind: ChannelKind

    def poll(self, account: ChannelAccount) -> int:
        return poll_with(account, lambda graph: pull.poll(account, graph))

    def _blocked_reason(self, conversation: Conversation) -> str | None:
        return blocked_reason(conversation.channel_account)


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
            with tenant_locale(account):  # sent by a worker; the reason is shown to staff
                reason = self.cannot_reply_reason(conv)
            raise PermanentSendError(reason or "", code="window")
        return messaging.send_text(account, account.external_id, psid, message.body, limits["tag"])


class CommentsConnector(_FacebookConnector):
    kind = ChannelKind.FACEBOOK_COMMENTS

    def cannot_reply_reason(self, conversation: Conversation) -> str | None:
        if reply_target(conversation) is None:
            return _("There is no comment left to reply to; the comments have been removed.")
        return self._blocked_reason(conversation)

    def send(self, account: ChannelAccount, message: Message) -> SendResult:
        def reason() -> str | None:
            with tenant_locale(account):
                return self.cannot_reply_reason(message.conversation)

        return send_reply(account, message, "comments", "Facebook", reason)


def _psid(conv: Conversation) -> str | None:
    return messaging.recipient_id(conv, "psid", IdentityKind.FACEBOOK_PSID)
