"""The contract every channel connector satisfies (tests/test_channel_contract.py checks it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from inbox.models import ChannelAccount, ChannelKind, Conversation, DeliveryStatus, Message


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str | None
    status: DeliveryStatus
    # What the sent message ended up under at the provider (the comment it answers).
    provider_parent_id: str | None = None


class SendError(Exception):
    """Sending failed. `code` is the provider's error code; the message is for the caseworker."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class TransientSendError(SendError):
    """Worth retrying with back-off (provider down, rate limited)."""


class PermanentSendError(SendError):
    """Will never succeed as is (invalid number, opted out); shown, never retried."""


@runtime_checkable
class ChannelConnector(Protocol):
    kind: ChannelKind

    def send(self, account: ChannelAccount, message: Message) -> SendResult:
        """Deliver an outbound message through the provider."""
        ...

    def poll(self, account: ChannelAccount) -> int:
        """Fetch what push delivery may have missed since the account's cursor.

        Returns how many new messages were stored; channels without pull return 0.
        """
        ...

    def cannot_reply_reason(self, conversation: Conversation) -> str | None:
        """Why a reply cannot be sent now (e.g. outside Facebook's window), or None."""
        ...
