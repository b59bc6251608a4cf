"""The SMS connector: replies through Twilio's Messages API, and pull of missed messages."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from requests import RequestException
from requests.exceptions import ConnectionError as RequestsConnectionError
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError

from channels.interfaces import (
    AmbiguousSendError,
    PermanentSendError,
    SendResult,
    TransientSendError,
    unconfirmed_send,
)
from channels.twilio_sms import media, reconcile, services
from channels.twilio_sms.client import make_client
from channels.twilio_sms.errors import explain, is_ambiguous, is_transient
from channels.twilio_sms.segments import MAX_BODY_CHARS, limits
from inbox.models import ChannelAccount, ChannelKind, Conversation, DeliveryStatus, Message
from inbox.services.ingest import find_message

log = logging.getLogger(__name__)

# Pull looks this far behind its cursor: Twilio's date filter is coarse and late messages
# appear with an earlier date_sent; ingest dedupes what we see twice.
POLL_OVERLAP = timedelta(minutes=10)
FIRST_POLL_LOOKBACK = timedelta(days=1)
POLL_PAGE_SIZE = 100


class TwilioSmsConnector:
    kind = ChannelKind.SMS

    def send(self, account: ChannelAccount, message: Message) -> SendResult:
        to = services.destination(message.conversation)
        if not to:
            raise PermanentSendError(explain("21211"), code="21211")
        attempts = unconfirmed_send(message)
        if attempts is not None:
            # An earlier attempt may have reached Twilio: find out before sending again (even
            # if the citizen has opted out since, what was sent then was sent).
            try:
                client = make_client(account)
            except services.NotConfigured as exc:
                # Not "failed": it may be out. Checked again once the setting is there.
                raise TransientSendError(f"{exc}; cannot check whether the SMS went out") from exc
            found = reconcile.settle(client, account, message, to, attempts)
            if found is not None:
                return found
        if services.is_opted_out(account.tenant_id, to):
            raise PermanentSendError(explain("21610"), code="21610")
        if len(message.body) > MAX_BODY_CHARS:
            raise PermanentSendError(explain("21617"), code="21617")
        try:
            client = make_client(account)
            sent = client.messages.create(**self._create_args(account, message, to))
        except (TwilioRestException, TwilioServiceException) as exc:
            raise self._classify(exc) from exc
        except (RequestException, TwilioException, OSError) as exc:
            if _never_sent(exc):
                raise TransientSendError(f"Twilio unreachable: {exc}") from exc
            raise AmbiguousSendError(
                f"No answer from Twilio; the SMS may have been sent: {exc}"
            ) from exc
        except services.NotConfigured as exc:
            raise PermanentSendError(str(exc)) from exc
        except ValueError as exc:
            # A 2xx whose body is not Twilio's JSON (a proxy's page): it got there, the answer
            # did not come back.
            raise AmbiguousSendError(
                f"Unreadable answer from Twilio; the SMS may have been sent: {exc}"
            ) from exc
        status = services.STATUS_MAP.get(str(sent.status), DeliveryStatus.SENDING)
        return SendResult(provider_message_id=sent.sid, status=status)

    def _create_args(self, account: ChannelAccount, message: Message, to: str) -> dict[str, Any]:
        args: dict[str, Any] = {"to": to, "body": message.body}
        service_sid = (account.config or {}).get("messaging_service_sid")
        if service_sid:
            args["messaging_service_sid"] = service_sid
        else:
            args["from_"] = account.external_id
        callback = services.status_callback_url(account, message)
        if callback:
            args["status_callback"] = callback
        else:
            log.warning("PUBLIC_BASE_URL is not set: SMS %s gets no status callback", message.id)
        return args

    @staticmethod
    def _classify(exc: TwilioRestException | TwilioServiceException) -> Exception:
        code = str(exc.code) if exc.code is not None else None
        text = exc.msg if isinstance(exc, TwilioRestException) else exc.title
        if is_ambiguous(exc.status, code):
            return AmbiguousSendError(
                f"Twilio {exc.status}: {text}; the SMS may have been sent", code=code
            )
        if is_transient(exc.status, code):
            return TransientSendError(f"Twilio {exc.status}: {text}", code=code)
        return PermanentSendError(explain(code or exc.status), code=code or str(exc.status))

    def cannot_reply_reason(self, conversation: Conversation) -> str | None:
        to = services.destination(conversation)
        if not to:
            return _("This sender has no phone number we can answer by SMS.")
        if services.is_opted_out(conversation.tenant_id, to):
            return _(
                "The citizen has opted out of SMS (sent STOP). No SMS can be sent until they "
                "send START."
            )
        return None

    def reply_limits(self, conversation: Conversation) -> dict[str, Any]:
        """What the reply box needs to count SMS segments (see docs/sms.md)."""
        return {
            "channel": "sms",
            "max_chars": MAX_BODY_CHARS,
            # The inbox's counter splits at the GSM-7 part size; the exact split per encoding
            # is in "segment_sizes".
            "segment_chars": 153,
            "segment_sizes": {"GSM-7": [160, 153], "UCS-2": [70, 67]},
            "empty": limits("").as_dict(),
        }

    def poll(self, account: ChannelAccount) -> int:
        try:
            stored = self._poll(account)
        except services.NotConfigured as exc:
            account.alert = str(exc)
            return 0
        except TwilioException as exc:
            if _http_status(exc) in (401, 403):
                account.alert = explain("20003")
                return 0
            raise  # Twilio trouble: the next beat tries again from the same cursor
        account.alert = None
        media.resume_stalled(account)
        return stored

    def _poll(self, account: ChannelAccount) -> int:
        now = datetime.now(UTC)
        cursor = _parse((account.poll_cursor or {}).get("date_sent_after"))
        since = (cursor or now - FIRST_POLL_LOOKBACK) - POLL_OVERLAP
        client = make_client(account)
        stored, newest = 0, cursor
        for item in client.messages.stream(
            to=account.external_id, date_sent_after=since, page_size=POLL_PAGE_SIZE
        ):
            if not str(item.direction).startswith("inbound"):
                continue
            if item.date_sent and (newest is None or item.date_sent > newest):
                newest = item.date_sent
            if find_message(account.id, item.sid) is not None:
                continue  # pushed already, or seen by the previous poll's overlap
            items = _media_of(client, item) if int(item.num_media or 0) else []
            _, created = services.receive(
                account,
                sid=item.sid,
                from_=item.from_,
                body=item.body or "",
                media=items,
                sent_at=item.date_sent,
                meta={"pulled": True},
            )
            stored += int(created)
        if newest is not None:
            account.poll_cursor = {"date_sent_after": newest.isoformat()}
        return stored


def _never_sent(exc: Exception) -> bool:
    """The request failed before any of it reached Twilio: no connection was made (refused,
    DNS failure, connect timeout). Anything later (read timeout, connection dropped, a broken
    answer) may have left Twilio with the message."""
    # requests' ConnectTimeout is a ConnectionError too.
    if not isinstance(exc, RequestsConnectionError):
        return False
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    # urllib3's NewConnectionError (refused, NameResolutionError) is a ConnectTimeoutError.
    return isinstance(reason, ConnectTimeoutError)


def _http_status(exc: TwilioException) -> int | None:
    """The HTTP status of a Twilio error: list pages raise TwilioException(msg, response)."""
    if isinstance(exc, TwilioRestException):
        return exc.status
    response = exc.args[1] if len(exc.args) > 1 else None
    return getattr(response, "status_code", None)


def _media_of(client: Any, item: Any) -> list[dict[str, str]]:
    base = client.api.base_url.rstrip("/")
    return [
        {"url": base + m.uri.removesuffix(".json"), "content_type": m.content_type or ""}
        for m in client.messages(item.sid).media.list(limit=services.MAX_MEDIA)
    ]


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
