"""Stored Twilio webhooks (inbound SMS, status callbacks) read back by the inbound worker.

The event body is the form exactly as Twilio posted it (application/x-www-form-urlencoded);
its URL and X-Twilio-Signature are kept with it, so it can be verified again or replayed.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from werkzeug.datastructures import MultiDict

from channels.inbound import Batch
from channels.interfaces import InvalidPayload
from channels.twilio_sms import form as sms_form
from channels.twilio_sms import services
from inbox.models import ChannelAccount, InboundEvent


def form_of(event: InboundEvent) -> MultiDict[str, str]:
    try:
        pairs = parse_qsl(event.body.decode(), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError as exc:
        raise InvalidPayload("the form is not UTF-8") from exc
    return MultiDict(pairs)


def handle_inbound(event: InboundEvent, account: ChannelAccount, batch: Batch) -> None:
    sms = sms_form.parse_inbound(form_of(event))
    inbound = services.inbound_message(
        account,
        sid=sms.sid,
        from_=sms.from_,
        body=sms.body,
        media=sms.media,
        meta=sms.meta,
        alert_thread=False,  # looked up for the whole batch (channels/inbound.PREPARE)
    )
    opt_out = sms.opt_out_type
    batch.store(
        account,
        inbound,
        lambda stored: services.received_in_batch(account, stored, inbound, opt_out),
    )


def handle_status(event: InboundEvent, account: ChannelAccount, batch: Batch) -> None:
    report = sms_form.parse_status(form_of(event))
    query = MultiDict(parse_qsl(urlsplit(event.url).query))
    message_id = query.get("m", type=int)
    if "a" in query:  # an alert's SMS: the URL names the recipient (channels/sms_alerts)
        from channels.sms_alerts.sending import apply_status as alert_status

        rid = query.get("a", type=int)
        batch.apply(
            lambda: alert_status(account, report.sid, report.status, report.error_code, rid)
        )
        return
    batch.apply(
        lambda: services.apply_status(
            account, report.sid, report.status, report.error_code, message_id
        )
    )
