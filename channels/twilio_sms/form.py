"""Twilio's webhook forms checked for shape: inbound messages and status callbacks.

Parameters: https://www.twilio.com/docs/messaging/guides/webhook-request and
https://www.twilio.com/docs/messaging/api/message-resource#message-status-values. Pure
functions over the form (a mapping of str to str), raising InvalidPayload for what cannot be
used; the webhook answers that with 400, a stored event is parked with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from channels.interfaces import InvalidPayload
from channels.validation import clean_text, is_text

MAX_MEDIA = 10  # Twilio sends at most ten media items per MMS
MAX_URL = 2048
SID_RE = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")
_SENDER_RE = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")
_DIGITS_RE = re.compile(r"^[0-9]{1,6}$")
_CONTENT_TYPE_RE = re.compile(r"^[a-z0-9!#$&^_.+-]{1,64}/[a-z0-9!#$&^_.+-]{1,64}$")
_OPT_OUT_TYPES = ("STOP", "START", "HELP")


@dataclass
class InboundSms:
    sid: str
    from_: str
    body: str
    media: list[dict[str, str]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    opt_out_type: str | None = None

    def receive_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for services.receive()."""
        return {
            "sid": self.sid,
            "from_": self.from_,
            "body": self.body,
            "media": self.media,
            "meta": self.meta,
            "opt_out_type": self.opt_out_type,
        }


@dataclass
class StatusReport:
    sid: str
    status: str
    error_code: str | None


def _plain(form: Mapping[str, str]) -> Mapping[str, str]:
    """A plain dict of each field's first value. Werkzeug's MultiDict answers `get` of a field
    that is absent (most optional ones, on every webhook) by raising and catching a
    BadRequestKeyError, an HTTP exception built each time: the costliest part of parsing."""
    to_dict = getattr(form, "to_dict", None)
    return to_dict() if callable(to_dict) else form


def parse_inbound(form: Mapping[str, str]) -> InboundSms:
    """An inbound SMS/MMS webhook form; the body cleaned and cut to MAX_MESSAGE_CHARS."""
    form = _plain(form)
    sid = form.get("MessageSid") or form.get("SmsMessageSid") or ""
    if not SID_RE.match(sid):
        raise InvalidPayload("MessageSid is missing or not a Twilio SID")
    sender = (form.get("From") or "").strip()
    if not _SENDER_RE.match(sender) or not is_text(sender):
        raise InvalidPayload("From is missing or not a sender address")
    meta: dict[str, Any] = {}
    if _DIGITS_RE.match(form.get("NumSegments") or ""):
        meta["NumSegments"] = form["NumSegments"]
    if SID_RE.match(form.get("MessagingServiceSid") or ""):
        meta["MessagingServiceSid"] = form["MessagingServiceSid"]
    opt_out = (form.get("OptOutType") or "").strip().upper()
    return InboundSms(
        sid=sid,
        from_=sender,
        body=clean_text(form.get("Body") or ""),
        media=form_media(form),
        meta=meta,
        opt_out_type=opt_out if opt_out in _OPT_OUT_TYPES else None,
    )


def form_media(form: Mapping[str, str]) -> list[dict[str, str]]:
    """MediaUrl<n>/MediaContentType<n> pairs: http(s) URLs and well-formed types only."""
    raw = form.get("NumMedia") or "0"
    count = min(int(raw), MAX_MEDIA) if _DIGITS_RE.match(raw) else 0
    items = []
    for i in range(count):
        url = form.get(f"MediaUrl{i}") or ""
        if not url.startswith(("https://", "http://")) or len(url) > MAX_URL:
            continue
        if not is_text(url) or any(c.isspace() or ord(c) < 32 for c in url):
            continue
        ctype = (form.get(f"MediaContentType{i}") or "").split(";")[0].strip().lower()
        items.append({"url": url, "content_type": ctype if _CONTENT_TYPE_RE.match(ctype) else ""})
    return items


def parse_status(form: Mapping[str, str]) -> StatusReport:
    """A status callback: the SID, Twilio's status word and a numeric error code, if any."""
    form = _plain(form)
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    if not SID_RE.match(sid):
        raise InvalidPayload("MessageSid is missing or not a Twilio SID")
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
    code = (form.get("ErrorCode") or "").strip()
    return StatusReport(
        sid=sid,
        status=status if status.isascii() and status.isalpha() and len(status) <= 32 else "",
        error_code=code if _DIGITS_RE.match(code) else None,
    )
