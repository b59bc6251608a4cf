"""Connectors for an Instagram professional account: direct messages and comment replies.

Direct messages go through the linked Facebook page's Send API
(POST /{page-id}/messages, recipient {"id": IGSID}) within Meta's messaging window: 24 hours
after the person's last message, up to 7 days with the HUMAN_AGENT tag, never later (Instagram
Messaging follows the Messenger Platform's policy). Comment replies:
POST /{ig-comment-id}/replies with `message`; Instagram threads are two levels deep, so a reply
to a reply goes under its top comment.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from channels.instagram import poll as pull
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

# https://developers.facebook.com/docs/messenger-platform/instagram/features/send-message:
# the text of a direct message must be UTF-8 and at most 1000 bytes.
MAX_DM_BYTES = 1000


class _InstagramConnector:
    kind: ChannelKind

    def poll(self, account: ChannelAccount) -> int:
        return poll_with(account, lambda graph: pull.poll(account, graph))


class InstagramConnector(_InstagramConnector):
    kind = ChannelKind.INSTAGRAM

    def cannot_reply_reason(self, conversation: Conversation) -> str | None:
        account = conversation.channel_account
        if not _igsid(conversation):
            return _("The citizen's Instagram id is unknown, so a reply cannot be sent.")
        if not account.linked_page_id:
            return _(
                "This Instagram account is not linked to a Facebook page in Servicetorg, so "
                "direct messages cannot be answered. An administrator must add the page."
            )
        if not messaging.reply_limits(conversation)["can_reply"]:
            return _(
                "Instagram only allows replies to direct messages up to 7 days after the "
                "citizen's last message. Ask the citizen to write again, or answer by another "
                "channel."
            )
        return blocked_reason(account)

    def reply_limits(self, conversation: Conversation) -> dict[str, Any]:
        limits = messaging.reply_limits(conversation)
        limits["window_closes_at"] = limits["window_ends_at"]
        limits["max_chars"] = MAX_DM_BYTES  # bytes, in fact: checked again when sent
        return limits

    def send(self, account: ChannelAccount, message: Message) -> SendResult:
        conv = message.conversation
        with tenant_locale(account):  # sent by a worker; the reason is shown to staff
            reason = self.cannot_reply_reason(conv)
            if reason:
                raise PermanentSendError(reason, code="window")
            if len(message.body.encode()) > MAX_DM_BYTES:
                raise PermanentSendError(
                    _(
                        "Instagram accepts at most %(n)s bytes in a direct message (letters "
                        "such as æ, ø and å count as two). Shorten the reply and send it again.",
                        n=MAX_DM_BYTES,
                    ),
                    code="too_long",
                )
        limits = messaging.reply_limits(conv)
        return messaging.send_text(
            account, str(account.linked_page_id), str(_igsid(conv)), message.body, limits["tag"]
        )


class InstagramCommentsConnector(_InstagramConnector):
    kind = ChannelKind.INSTAGRAM_COMMENTS

    def cannot_reply_reason(self, conversation: Conversation) -> str | None:
        if reply_target(conversation) is None:
            return _("There is no comment left to reply to; the comments have been removed.")
        return blocked_reason(conversation.channel_account)

    def send(self, account: ChannelAccount, message: Message) -> SendResult:
        def reason() -> str | None:
            with tenant_locale(account):
                return self.cannot_reply_reason(message.conversation)

        return send_reply(account, message, "replies", "Instagram", reason)


def _igsid(conv: Conversation) -> str | None:
    return messaging.recipient_id(conv, "igsid", IdentityKind.INSTAGRAM_IGSID)
