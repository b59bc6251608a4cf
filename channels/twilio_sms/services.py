"""SMS domain logic shared by the webhook views, the connector and the tasks."""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from flask import current_app
from sqlalchemy import select
from twilio.request_validator import (
    HMAC_SHA1,
    HMAC_SHA256,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from channels.interfaces import clear_unconfirmed
from channels.twilio_sms.form import MAX_MEDIA, SID_RE  # noqa: F401 - SID_RE re-exported
from channels.validation import clean_text
from inbox import secretstore
from inbox.db import enqueue
from inbox.extensions import db
from inbox.models import (
    ChannelAccount,
    ChannelKind,
    ContactIdentity,
    Conversation,
    DeliveryStatus,
    Direction,
    IdentityKind,
    Message,
)
from inbox.models.base import utcnow
from inbox.models.tenancy import tenant_active
from inbox.services import account_cache
from inbox.services.account_cache import AccountRef
from inbox.services.ingest import InboundMessage, ingest, update_delivery_status
from inbox.services.ingest_batch import Stored

log = logging.getLogger(__name__)

MEDIA_TASK = "servicetorg.inbound.sms_media"
E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")

# Twilio's default keywords (matched on the whole body) plus Norwegian ones.
STOP_WORDS = frozenset(
    {
        "STOP",
        "STOPP",
        "STOPPALL",
        "STOPALL",
        "STANS",
        "AVSLUTT",
        "AVMELD",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
    }
)
START_WORDS = frozenset({"START", "UNSTOP", "YES"})

# Twilio MessageStatus -> ours. Twilio's own "queued" means it accepted the message, which
# for us is SENDING (our QUEUED means "not yet handed to the provider").
STATUS_MAP = {
    "accepted": DeliveryStatus.SENDING,
    "scheduled": DeliveryStatus.SENDING,
    "queued": DeliveryStatus.SENDING,
    "sending": DeliveryStatus.SENDING,
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "undelivered": DeliveryStatus.UNDELIVERED,
    "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,
}


class NotConfigured(RuntimeError):
    """The channel account lacks a setting or secret it needs."""


# --- accounts and secrets ---------------------------------------------------------------


def sms_account(account_id: int) -> AccountRef | None:
    """The enabled SMS account a webhook names, from the per-process account cache (the
    webhook's only query before its insert, and only when the cache has expired)."""
    return account_cache.cached(("sms", account_id), partial(_load_sms_account, account_id))


def _load_sms_account(account_id: int) -> AccountRef | None:
    account = db.session.get(ChannelAccount, account_id)
    if account is None or account.kind is not ChannelKind.SMS or not account.enabled:
        return None
    if not tenant_active(account.tenant_id):
        return None
    return account_cache.snapshot(account)


def auth_token(account: ChannelAccount | AccountRef) -> str:
    token = secretstore.resolve(account, "auth_token")
    if not token:
        raise NotConfigured(f"SMS account {account.id}: auth_token env var is not set")
    return token


def account_sid(account: ChannelAccount) -> str:
    sid = (account.config or {}).get("account_sid")
    if not sid:
        raise NotConfigured(f"SMS account {account.id}: config.account_sid is missing")
    return str(sid)


# --- signatures ---------------------------------------------------------------------------


def signature_valid(
    url: str, form: Any, signature: str | None, token: str, algorithm: str = HMAC_SHA1
) -> bool:
    """Twilio's X-Twilio-Signature over the public URL and the form exactly as received."""
    if not signature:
        return False
    validator = RequestValidator(token)
    if "bodySHA256" not in url and algorithm.upper() in (HMAC_SHA1, HMAC_SHA256):
        # The URL exactly as configured is what Twilio signs; the validator would also try
        # it with the port added or removed, which only a mismatch needs.
        exact = validator.compute_signature(url, form, algorithm)
        if hmac.compare_digest(exact.encode(), signature.encode()):
            return True
    return bool(validator.validate(url, form, signature, algorithm=algorithm))


def signing_secret(
    account: ChannelAccount | AccountRef, settings_header: str | None
) -> tuple[str, str]:
    """(secret, algorithm) a webhook was signed with.

    By default Twilio signs with the auth token (HMAC-SHA1). A Webhook Setting with a
    SharedKey (Twilio public beta) signs with that key instead and says so in
    X-Twilio-Webhooks-Signature-Settings: key=<id>,algorithm=<HMAC_SHA1|HMAC_SHA256>.
    """
    algorithm = get_signature_algorithm(settings_header)
    key_id = ""
    for part in (settings_header or "").split(","):
        name, _, value = part.partition("=")
        if name.strip() == "key":
            key_id = value.strip()
    secret = None
    if settings_header:
        secret = secretstore.resolve(account, f"webhook_signing_key.{key_id}") or (
            secretstore.resolve(account, "webhook_signing_key")
        )
    return secret or auth_token(account), algorithm


SETTINGS_HEADER = SIGNATURE_SETTINGS_HEADER


def public_url(path_and_query: str, request_url: Callable[[], str]) -> str:
    """The URL Twilio called: PUBLIC_BASE_URL + path when configured, else the request URL
    (which reflects X-Forwarded-* when TRUST_PROXY_HEADERS is set), built only then."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        return str(base).rstrip("/") + path_and_query
    return request_url()


def status_callback_url(account: ChannelAccount, message: Message) -> str | None:
    base = current_app.config.get("PUBLIC_BASE_URL")
    if not base:
        return None
    return f"{str(base).rstrip('/')}/webhooks/twilio/{account.id}/status?m={message.id}"


# --- phone numbers --------------------------------------------------------------------------


def normalise_phone(raw: str, country_code: str = "47") -> str | None:
    """E.164 for a phone number as Twilio or a person writes it; None if it is not one."""
    value = re.sub(r"[\s\-().]", "", raw or "")
    if value.startswith("00"):
        value = "+" + value[2:]
    elif value.isdigit() and len(value) == 8 and country_code == "47":
        value = "+47" + value  # a Norwegian number written without country code
    return value if E164_RE.match(value) else None


def sender_identity(raw: str, account: ChannelAccount) -> str:
    """The identity value for a sender: E.164, or the cleaned alphanumeric sender id."""
    number = normalise_phone(raw, str((account.config or {}).get("country_code", "47")))
    return number or re.sub(r"[^\w+ .-]", "", raw or "")[:32] or "unknown"


# --- inbound ------------------------------------------------------------------------------


def keyword(body: str, opt_out_type: str | None = None) -> str | None:
    """ "stop", "start" or None. Twilio's Advanced Opt-Out names the type it matched
    (OptOutType, including keywords configured in the console); otherwise we match ours."""
    if (opt_out_type or "").upper() in ("STOP", "START"):
        return str(opt_out_type).lower()
    word = re.sub(r"[\s.!]+$", "", (body or "").strip()).upper()
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    return None


def receive(
    account: ChannelAccount,
    *,
    sid: str,
    from_: str,
    body: str,
    media: list[dict[str, str]],
    sent_at: datetime | None = None,
    meta: dict[str, Any] | None = None,
    opt_out_type: str | None = None,
) -> tuple[Message, bool]:
    """Store one inbound SMS/MMS (idempotent on the MessageSid). Flushes, never commits.

    Media are downloaded by a task after the commit, so the text is safe before we answer.
    """
    inbound = inbound_message(
        account, sid=sid, from_=from_, body=body, media=media, sent_at=sent_at, meta=meta
    )
    message, created = ingest(account, inbound)
    received(account, message, created, opt_out_type)
    return message, created


def inbound_message(
    account: ChannelAccount,
    *,
    sid: str,
    from_: str,
    body: str,
    media: list[dict[str, str]],
    sent_at: datetime | None = None,
    meta: dict[str, Any] | None = None,
    alert_thread: bool = True,
) -> InboundMessage:
    """The InboundMessage for an SMS/MMS (files are fetched later, see `received`). Whether it
    answers an alert is looked up here unless `alert_thread` is False (the inbound worker's
    batch looks it up for all its messages at once, channels/sms_alerts/replies.thread_many)."""
    body = clean_text(body or "")  # pulled messages too: no NUL, cut to MAX_MESSAGE_CHARS
    phone = sender_identity(from_, account)
    info = {"from": phone, "to": account.external_id, **(meta or {})}
    if media:
        info["pending_media"] = media[:MAX_MEDIA]
    from channels.sms_alerts.replies import thread_key  # an answer to an alert?

    return InboundMessage(
        identity_kind=IdentityKind.PHONE,
        identity_value=phone,
        body=body or "",
        provider_message_id=sid,
        sent_at=sent_at,
        meta=info,
        thread_key=thread_key(account, phone) if alert_thread else None,
        conversation_meta={"phone": phone} if phone else {},
    )


def received(
    account: ChannelAccount | AccountRef,
    message: Message,
    created: bool,
    opt_out_type: str | None = None,
) -> None:
    """What follows a new SMS once it is stored: STOP/START, its files, the alert it answers.
    (The number replies go to is the conversation's `phone`, kept by the ingest itself:
    InboundMessage.conversation_meta.)"""
    if not created:
        return
    _followups(account, message.id, message.body, message.meta or {}, opt_out_type)
    from channels.sms_alerts.replies import link

    link(message)
    db.session.flush()


def received_in_batch(
    account: ChannelAccount | AccountRef,
    stored: Stored,
    inbound: InboundMessage,
    opt_out_type: str | None = None,
) -> None:
    """`received` for the inbound worker's batch, from what was sent rather than the stored
    message: the ORM message is loaded only for the first answer to an alert (it opens the
    conversation the alert is tied to), so a storm of SMS loads none."""
    if not stored.created:
        return
    _followups(account, stored.message_id, inbound.body, inbound.meta, opt_out_type)
    from channels.sms_alerts.replies import PREFIX, link

    if stored.opened and (inbound.thread_key or "").startswith(PREFIX):
        link(stored.message)


def _followups(
    account: ChannelAccount | AccountRef,
    message_id: int,
    body: str,
    meta: dict[str, Any],
    opt_out_type: str | None,
) -> None:
    phone = str(meta.get("from") or "")
    action = keyword(body, opt_out_type)
    if action and phone:
        set_opt_out(account.tenant_id, phone, action == "stop")
    if meta.get("pending_media"):
        enqueue(MEDIA_TASK, message_id)


# --- opt-out ------------------------------------------------------------------------------


def _identity(tenant_id: int, phone: str) -> ContactIdentity | None:
    return db.session.scalar(
        select(ContactIdentity).where(
            ContactIdentity.tenant_id == tenant_id,
            ContactIdentity.kind == IdentityKind.PHONE,
            ContactIdentity.value == phone,
        )
    )


def set_opt_out(tenant_id: int, phone: str, opted_out: bool) -> None:
    ident = _identity(tenant_id, phone)
    if ident is None:
        return
    if opted_out and ident.opted_out_at is None:
        ident.opted_out_at = utcnow()
    elif not opted_out:
        ident.opted_out_at = None
    log.info("SMS opt-%s recorded for identity %s", "out" if opted_out else "in", ident.id)


def is_opted_out(tenant_id: int, phone: str) -> bool:
    ident = _identity(tenant_id, phone)
    return ident is not None and ident.opted_out_at is not None


def destination(conv: Conversation) -> str | None:
    """The number a reply in this conversation goes to."""
    phone = (conv.meta or {}).get("phone") or conv.contact.phone
    return normalise_phone(phone) if phone else None


# --- delivery status ----------------------------------------------------------------------


def apply_status(
    account: ChannelAccount,
    sid: str,
    twilio_status: str,
    error_code: str | None,
    message_id: int | None,
) -> Message | None:
    """Apply a status callback; never moves a status backwards. Flushes, never commits."""
    from channels.twilio_sms.errors import explain

    status = STATUS_MAP.get((twilio_status or "").lower())
    if status is None:
        return None
    q = select(Message).where(
        Message.channel_account_id == account.id, Message.direction == Direction.OUTBOUND
    )
    msg = db.session.scalar(q.where(Message.provider_message_id == sid).with_for_update())
    if msg is None and message_id is not None:
        # The callback can beat the worker's commit of the SID; the signed URL names our id.
        msg = db.session.scalar(
            q.where(
                Message.id == message_id, Message.provider_message_id.is_(None)
            ).with_for_update()
        )
        if msg is not None:
            msg.provider_message_id = sid
            clear_unconfirmed(msg)  # this is the answer an unconfirmed attempt never got
    if msg is None:
        return None
    failed = status in (DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED)
    code = error_code if failed and error_code and error_code != "0" else None
    if code == "21610":
        # Twilio blocked it because the citizen sent STOP (perhaps before we saw it).
        to = destination(msg.conversation)
        if to:
            set_opt_out(account.tenant_id, to, True)
    update_delivery_status(
        msg, status, error_code=code, error_message=explain(code) if code else None
    )
    db.session.flush()
    return msg
