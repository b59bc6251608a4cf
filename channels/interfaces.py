"""The contract every channel connector satisfies (tests/test_channel_contract.py checks it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from inbox.models import ChannelAccount, ChannelKind, Conversation, DeliveryStatus, Message


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str | None
    status: DeliveryStatus
    # What the sent message ended up under at the provider (the comment it answers).
    provider_parent_id: str | None = None
    # When the provider took it, if not just now (a message found again after a lost answer).
    sent_at: datetime | None = None
    # The provider's report on a message it took but could not deliver.
    error_code: str | None = None
    error_message: str | None = None


class SendError(Exception):
    """Sending failed. `code` is the provider's error code; the message is for the caseworker."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class TransientSendError(SendError):
    """Worth retrying with back-off (provider down, rate limited).

    `retry_after` (seconds) replaces the usual back-off when the connector knows better.
    """

    def __init__(
        self, message: str, code: str | None = None, *, retry_after: int | None = None
    ) -> None:
        super().__init__(message, code)
        self.retry_after = retry_after


class AmbiguousSendError(TransientSendError):
    """The request may have reached the provider and been acted on, but no answer came back
    (read timeout, connection dropped after sending, a gateway's 5xx). The message may be
    out. outbound.send records the attempt on the message (see `unconfirmed_send`); before
    the next try the connector must find out whether this one went through, and must not send
    again unless the provider positively shows that it did not.
    """


class InvalidPayload(ValueError):
    """A provider's payload (or one event in it) does not have the documented shape.

    Raised by the channel parsers that turn a raw webhook body or polled item into
    InboundMessage objects. A webhook answers it with a clear 4xx; the worker that processes a
    stored raw event parks that one event with the reason instead of retrying it forever.
    """


class PermanentSendError(SendError):
    """Will never succeed as is (invalid number, opted out); shown, never retried."""


# message.meta[UNCONFIRMED]: attempts that ended in AmbiguousSendError, as ISO 8601 UTC times:
# {"first_started_at": when the first of them began, "last_ended_at": when the latest ended}.
UNCONFIRMED = "unconfirmed_send"


@dataclass(frozen=True)
class UnconfirmedSend:
    first_started_at: datetime
    last_ended_at: datetime


def unconfirmed_send(message: Message) -> UnconfirmedSend | None:
    """The attempts whose outcome the provider never confirmed, or None if there were none."""
    mark = (message.meta or {}).get(UNCONFIRMED)
    if not mark:
        return None
    return UnconfirmedSend(
        datetime.fromisoformat(mark["first_started_at"]),
        datetime.fromisoformat(mark["last_ended_at"]),
    )


def mark_unconfirmed(message: Message, started_at: datetime, ended_at: datetime) -> None:
    earlier = unconfirmed_send(message)
    first = earlier.first_started_at if earlier else started_at
    mark = {"first_started_at": first.isoformat(), "last_ended_at": ended_at.isoformat()}
    message.meta = {**(message.meta or {}), UNCONFIRMED: mark}


def clear_unconfirmed(message: Message) -> None:
    """The provider's outcome is known now (sent, adopted, refused)."""
    if message.meta and UNCONFIRMED in message.meta:
        message.meta = {k: v for k, v in message.meta.items() if k != UNCONFIRMED}


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
