"""Twilio webhooks: inbound SMS/MMS and delivery status callbacks, one URL pair per number.

Configure the number (or its Messaging Service) with
    POST <PUBLIC_BASE_URL>/webhooks/twilio/<account id>/sms
Replies carry their own status callback URL. Both are signed with X-Twilio-Signature.
"""

from __future__ import annotations

import logging
import re

from flask import Blueprint, Response, abort, jsonify, request

from channels.interfaces import InvalidPayload
from channels.twilio_sms import form, services
from channels.twilio_sms.cli import add_number
from inbox.extensions import csrf
from inbox.services import events
from inbox.services.account_cache import AccountRef

log = logging.getLogger(__name__)
_ID_RE = re.compile(r"[0-9]{1,18}")
bp = Blueprint("twilio_sms", __name__, url_prefix="/webhooks/twilio", cli_group="sms")
bp.cli.add_command(add_number)
csrf.exempt(bp)  # authenticated by Twilio's signature, not a session

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _twiml() -> Response:
    return Response(EMPTY_TWIML, status=200, mimetype="text/xml")


def _invalid(exc: InvalidPayload) -> Response:
    resp = jsonify(error="payload", message=f"Invalid payload: {exc}")
    resp.status_code = 400
    return resp


def _signed_account(account_id: int) -> tuple[AccountRef, str]:
    """The account and the URL Twilio signed, if the request carries a valid Twilio signature
    for it; else 403/404."""
    account = services.sms_account(account_id)
    if account is None:
        abort(404)
    try:
        secret, algorithm = services.signing_secret(
            account, request.headers.get(services.SETTINGS_HEADER)
        )
    except services.NotConfigured as exc:
        log.error("%s; refusing the webhook", exc)
        abort(403)
    path = request.path + (f"?{request.query_string.decode()}" if request.query_string else "")
    url = services.public_url(path, lambda: request.url)
    signature = request.headers.get("X-Twilio-Signature")
    if not services.signature_valid(url, request.form, signature, secret, algorithm):
        log.warning("Twilio webhook for account %s: bad signature (URL %s)", account.id, url)
        abort(403, description="Invalid or missing X-Twilio-Signature.")
    return account, url


# Only what must happen before Twilio hears 2xx: the signature, and the raw form appended to
# the inbound event log and committed (`events.record`: one statement in autocommit mode).
# The inbound worker stores the message (docs/inbound.md).


@bp.post("/<int:account_id>/sms")
def inbound(account_id: int) -> Response:
    raw = request.get_data()  # kept as sent; request.form is parsed from the cached bytes
    account, url = _signed_account(account_id)
    try:
        sms = form.parse_inbound(request.form)  # a clear 400 now, not a parked event later
    except InvalidPayload as exc:
        return _invalid(exc)
    events.record(account, "sms", sms.sid, raw, url=url, headers=request.headers)
    return _twiml()  # stored before Twilio hears 2xx


@bp.post("/<int:account_id>/status")
def status(account_id: int) -> Response:
    raw = request.get_data()
    account, url = _signed_account(account_id)
    try:
        report = form.parse_status(request.form)
        for name in ("m", "a"):  # our ids in the callback URL: a reply, an alert recipient
            value = request.args.get(name)
            if value is not None and not _ID_RE.fullmatch(value):
                raise InvalidPayload(f"the status URL's {name} is not an id")
    except InvalidPayload as exc:
        return _invalid(exc)
    key = f"{report.sid}:{report.status}:{request.args.get('m', '')}"
    events.record(account, "sms_status", key, raw, url=url, headers=request.headers)
    return _twiml()
