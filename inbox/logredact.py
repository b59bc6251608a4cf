"""Logs carry no citizen's phone number, identity number or provider secret.

Three leaks, three stops:
- SQL errors: SQLAlchemy prints the bound parameters (a citizen's message, their number) in
  every database exception. The engine is created with `hide_parameters=True`
  (inbox/config.py), so the text never reaches an exception message.
- The Twilio library logs each request, with the recipient's number and the whole message,
  at INFO on `twilio.http_client`. That logger is held at WARNING.
- Access logs (werkzeug's and gunicorn's) write the query string: Meta's verify handshake
  (`GET /webhooks/facebook/...?hub.verify_token=...`) would put the token in the log.

And as a net under all of them, every log record is rendered once when it is made and phone
numbers, identity and account numbers and secret query parameters are masked in it, whatever
handler (gunicorn's, Celery's, a test's) writes it afterwards.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from inbox.services import idnumbers

# Query parameters whose value is a secret.
_SECRET_PARAMS = re.compile(
    r"((?:hub\.verify_token|hub%2Everify_token|verify_token|access_token|token|signature)=)"
    r"[^&\s\"']+",
    re.IGNORECASE,
)
# E.164 numbers (how phone identities are stored) and Norwegian mobile numbers as typed.
_PHONE = re.compile(
    r"(?:\+|%2B)\d{7,15}(?!\d)|(?<![\w+])(?:0047|47)?[49]\d{7}(?!\d)", re.IGNORECASE
)

_installed = False


def redact(text: str) -> str:
    text = _SECRET_PARAMS.sub(r"\1[masked]", text)
    text = idnumbers.mask(text)
    return _PHONE.sub(lambda m: re.sub(r"\d", "*", m.group()), text)


def install() -> None:
    """Install the record factory and quiet the Twilio library (once per process)."""
    global _installed
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _redact_record(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a malformed record is the handler's problem, not ours
        return
    cleaned = redact(message)
    if cleaned != message:
        record.msg, record.args = cleaned, None
    if record.exc_info and record.exc_info[1] is not None:
        # Rendered now, so the traceback's text (exception messages) is masked too.
        text = logging.Formatter().formatException(record.exc_info)
        record.exc_text = redact(text)
