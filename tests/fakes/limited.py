"""A connector with a reply window and SMS-style segments, to check what the reply box shows
for connectors that implement the optional reply_limits()."""

from __future__ import annotations

from datetime import timedelta

from channels.interfaces import SendResult
from inbox.models import ChannelKind, Conversation, DeliveryStatus


class LimitedConnector:
    kind = ChannelKind.SMS

    def send(self, account, message):  # type: ignore[no-untyped-def]
        return SendResult(provider_message_id=f"fake-{message.id}", status=DeliveryStatus.SENT)

    def poll(self, account):  # type: ignore[no-untyped-def]
        return 0

    def reply_limits(self, conversation: Conversation) -> dict:  # type: ignore[type-arg]
        closes = (conversation.last_inbound_at or conversation.created_at) + timedelta(hours=24)
        return {"max_chars": 320, "segment_chars": 160, "window_closes_at": closes}

    def cannot_reply_reason(self, conversation: Conversation) -> str | None:
        if conversation.meta.get("window_closed"):
            return "The 24-hour window has closed."
        return None
