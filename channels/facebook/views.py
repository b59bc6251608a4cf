"""The page webhook: Meta's verification handshake and signed event deliveries.

https://developers.facebook.com/docs/graph-api/webhooks/getting-started
One URL per page (/webhooks/facebook/<page id>); its verify token and app secret come from the
page's channel accounts (env-var references). Events are stored and committed before we answer
2xx (as raw inbound events; the inbound worker stores the messages, docs/inbound.md), so an
answer of 200 means nothing can be lost any more.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re

from flask import Blueprint, Response, abort, jsonify, request

from channels.alerts import alert_context
from channels.facebook import events as fb_events
from channels.facebook.services import page_accounts
from channels.interfaces import InvalidPayload
from inbox.config import secret_from_env
from inbox.db import writes
from inbox.extensions import csrf, db
from inbox.models import ChannelKind
from inbox.services import events
from inbox.untrusted import loads

log = logging.getLogger(__name__)
bp = Blueprint("facebook", __name__, url_prefix="/webhooks/facebook")
csrf.exempt(bp)  # authenticated by the X-Hub-Signature-256 HMAC, not a cookie
bp.app_context_processor(alert_context)

PAGE_ID_RE = re.compile(r"^[0-9]{1,32}$")
CHALLENGE_RE = re.compile(r"^[A-Za-z0-9_\-.]{1,256}$")


def _secrets(page_id: str, name: str) -> list[str]:
    if not PAGE_ID_RE.match(page_id):
        abort(404)
    accounts = page_accounts(page_id)
    if not accounts:
        abort(404)
    values = [secret_from_env((a.secret_refs or {}).get(name)) for a in accounts.values()]
    if not any(values):
        log.error("facebook page %s: no %s in the environment; webhook refused", page_id, name)
    return [v for v in values if v]


@bp.get("/<page_id>")
def verify(page_id: str):  # type: ignore[no-untyped-def]
    tokens = _secrets(page_id, "verify_token")
    given = request.args.get("hub.verify_token", "")
    challenge = request.args.get("hub.challenge", "")
    ok = request.args.get("hub.mode") == "subscribe" and any(
        hmac.compare_digest(given.encode(), t.encode()) for t in tokens
    )
    if not ok or not CHALLENGE_RE.match(challenge):
        return Response("forbidden", status=403, mimetype="text/plain")
    return Response(challenge, status=200, mimetype="text/plain")


def signature_valid(raw: bytes, header: str, secrets: list[str]) -> bool:
    """sha256=<hex HMAC-SHA256(app secret, raw body)>, over the bytes exactly as sent."""
    if not header.startswith("sha256="):
        return False
    given = header[len("sha256=") :].strip().lower().encode()
    return any(
        hmac.compare_digest(hmac.new(s.encode(), raw, hashlib.sha256).hexdigest().encode(), given)
        for s in secrets
    )


@bp.post("/<page_id>")
@writes
def receive(page_id: str):  # type: ignore[no-untyped-def]
    secrets = _secrets(page_id, "app_secret")
    raw = request.get_data(cache=False)  # the raw bytes: re-serialised JSON would not match
    if not secrets or not signature_valid(
        raw, request.headers.get("X-Hub-Signature-256", ""), secrets
    ):
        return jsonify(error="signature", message="Missing or invalid signature."), 403
    try:
        fb_events.parse(loads(raw))  # the shape checked now: a clear 400, not a parked event
    except (ValueError, InvalidPayload) as exc:
        return jsonify(error="payload", message=f"Invalid payload: {exc}"), 400
    # The request as a whole is the event (docs/inbound.md): a retry repeats its bytes.
    accounts = page_accounts(page_id)
    account = accounts.get(ChannelKind.MESSENGER) or next(iter(accounts.values()))
    key = "sha256:" + hashlib.sha256(raw).hexdigest()
    events.append(account, "facebook", key, raw, url=request.url, headers=request.headers)
    db.session.commit()  # stored before Meta hears 200; files are fetched later (MEDIA_TASK)
    return Response("EVENT_RECEIVED", status=200, mimetype="text/plain")
