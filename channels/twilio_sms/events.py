"""Stored Twilio webhooks (inbound SMS, status callbacks) read back by the inbound worker.

The event body is the form exactly as Twilio posted it (application/x-www-form-urlencoded);
its URL and X-Twilio-Signature are kept with it, so it can be verified again or replayed.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from werkzeug.datastructures import MultiDict

from channels.inbound import Batch
from channels.interfaces import InvalidPayload
from channels.twilio_sms import services
from inbox.models import ChannelAccount, InboundEvent


def form_of(event: InboundEvent) -> MultiDict[str, str]:
    try:
        pairs = parse_qsl(event.body.decode(), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError as exc:
        raise InvalidPayload("the form is not UTF-8") from exc
    return MultiDict(pairs)


def handle_inbound(event: InboundEvent, account: ChannelAccount, batch: Batch) -> None:
    form = form_of(event)
    sid = form.get("MessageSid") or form.get("SmsMessageSid") or ""
    if not services.SID_RE.match(sid) or not form.get("From"):
        raise InvalidPayload("MessageSid and From are required")
    inbound = services.inbound_message(
        account,
        sid=sid,
        from_=form["From"],
        body=form.get("Body", ""),
        media=services.form_media(form),
        meta={k: form[k] for k in ("NumSegments", "MessagingServiceSid") if form.get(k)},
    )
    opt_out = form.get("OptOutType")
    batch.store(
        account,
        inbound,
        lambda message, created: services.received(account, message, created, opt_out),
    )


def handle_status(event: InboundEvent, account: ChannelAccount, batch: Batch) -> None:
    form = form_of(event)
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    if not services.SID_RE.match(sid):
        raise InvalidPayload("MessageSid is required")
    query = MultiDict(parse_qsl(urlsplit(event.url).query))
    message_id = query.get("m", type=int)
    status = form.get("MessageStatus") or form.get("SmsStatus") or ""
    error_code = form.get("ErrorCode") or None
    batch.apply(lambda: services.apply_status(account, sid, status, error_code, message_id))
