"""Twilio error codes: which are worth retrying, and what to tell the caseworker.

Codes: https://www.twilio.com/docs/api/errors. Explanations are stored on the message in the
installation's default language (they are written by a worker, outside any request).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, has_request_context
from flask_babel import force_locale
from flask_babel import gettext as _

# Worth another try later: rate limits and Twilio's own trouble.
TRANSIENT_CODES = frozenset({"20429", "20500", "20503", "30001", "30009", "30010"})

EXPLANATIONS: dict[str, Callable[[], str]] = {
    "21211": lambda: _("The phone number is not valid."),
    "21610": lambda: _(
        "The recipient has opted out of SMS from this number (answered STOP). "
        "They must send START before they can get SMS from us again."
    ),
    "21614": lambda: _("The number cannot receive SMS (it may be a landline)."),
    "21612": lambda: _("Twilio cannot route SMS to this number."),
    "21408": lambda: _("Sending SMS to this country is not enabled for our account."),
    "21606": lambda: _("Our number cannot send SMS. An administrator must check the settings."),
    "21617": lambda: _("The text is too long for an SMS (at most 1600 characters)."),
    "20003": lambda: _("Twilio rejected our credentials. An administrator must check them."),
    "30003": lambda: _("The phone is unreachable (switched off or out of coverage)."),
    "30004": lambda: _("The message was blocked by the recipient or their operator."),
    "30005": lambda: _("The number does not exist or is no longer in use."),
    "30006": lambda: _("The number is a landline or the operator cannot be reached."),
    "30007": lambda: _("The operator filtered the message as unwanted."),
    "30008": lambda: _("The operator could not deliver the message (unknown error)."),
}


def explain(code: str | int | None) -> str:
    """A human explanation of a Twilio error code for the caseworker."""
    if has_request_context():
        return _explain(code)
    with force_locale(current_app.config["DEFAULT_LOCALE"]):
        return _explain(code)


def _explain(code: str | int | None) -> str:
    key = str(code) if code is not None else ""
    text = EXPLANATIONS.get(key)
    return text() if text else _("The SMS could not be sent (Twilio error %(code)s).", code=key)


# Twilio's own refusals, sent before it does anything with a request.
REFUSED_CODES = frozenset({"20429", "20503"})


def twilio_code(status: int | None, code: str | int | None) -> str | None:
    """The Twilio error code of an error answer; None when the body had none (the twilio
    library then gives the HTTP status as the code), e.g. a proxy's 502 page."""
    if code is None or str(code) == str(status):
        return None
    return str(code)


def is_ambiguous(status: int | None, code: str | int | None) -> bool:
    """A 5xx answer to a create may come after Twilio made the message (a gateway that timed
    out, an internal error), unless Twilio itself says it refused the request."""
    if status is None or status < 500:
        return False
    return twilio_code(status, code) not in REFUSED_CODES


def is_transient(status: int | None, code: str | int | None) -> bool:
    if code is not None and str(code) in TRANSIENT_CODES:
        return True
    return status is None or status == 429 or status >= 500
