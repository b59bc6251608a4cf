"""Web chat: the widget reads replies from us, so sending is storing."""

from __future__ import annotations

from channels.interfaces import SendResult
from inbox.models import ChannelAccount, ChannelKind, Conversation, DeliveryStatus, Message


class WebChatConnector:
    kind = ChannelKind.WEBCHAT

    def send(self, account: ChannelAccount, message: Message) -> SendResult:
        # The citizen's widget fetches the reply; it is marked delivered/read when it does.
        return SendResult(provider_message_id=None, status=DeliveryStatus.SENT)

    def poll(self, account: ChannelAccount) -> int:
        return 0

    def cannot_reply_reason(self, conversation: Conversation) -> str | None:
        return None
