"""The page webhook: Meta's verification handshake and signed event deliveries.

https://developers.facebook.com/docs/graph-api/webhooks/getting-started
One URL per page (/webhooks/facebook/<page id>); its verify token and app secret come from the
page's channel accounts (env-var references). Events are stored and committed before we answer
2xx (as raw inbound events; the inbound worker stores the messages, docs/inbound.md), so an
answer of 200 means nothing can be lost any more. The handshake and signature check are
Meta's, shared with Instagram (channels/meta/webhook.py).
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, jsonify, request

from channels.alerts import alert_context
from channels.facebook import events as fb_events
from channels.facebook.services import page_accounts
from channels.interfaces import InvalidPayload
from channels.meta import webhook
from inbox.db import writes
from inbox.extensions import csrf
from inbox.models import ChannelKind
from inbox.services import account_cache
from inbox.services.account_cache import AccountRef
from inbox.untrusted import loads

log = logging.getLogger(__name__)
bp = Blueprint("facebook", __name__, url_prefix="/webhooks/facebook")
csrf.exempt(bp)  # authenticated by the X-Hub-Signature-256 HMAC, not a cookie
bp.app_context_processor(alert_context)


def _accounts(page_id: str) -> dict[ChannelKind, AccountRef]:
    if not webhook.ACCOUNT_ID_RE.match(page_id):
        abort(404)
    accounts = account_cache.cached(
        ("facebook", page_id),
        lambda: {k: account_cache.snapshot(a) for k, a in page_accounts(page_id).items()},
    )
    if not accounts:
        abort(404)
    return accounts


@bp.get("/<page_id>")
def verify(page_id: str):  # type: ignore[no-untyped-def]
    return webhook.handshake(webhook.secrets(_accounts(page_id).values(), "verify_token"))


@bp.post("/<page_id>")
@writes
def receive(page_id: str):  # type: ignore[no-untyped-def]
    accounts = _accounts(page_id)
    raw = request.get_data(cache=False)  # the raw bytes: re-serialised JSON would not match
    if not webhook.signed(raw, webhook.secrets(accounts.values(), "app_secret")):
        return jsonify(error="signature", message="Missing or invalid signature."), 403
    try:
        fb_events.parse(loads(raw))  # the shape checked now: a clear 400, not a parked event
    except (ValueError, InvalidPayload) as exc:
        return jsonify(error="payload", message=f"Invalid payload: {exc}"), 400
    # The request as a whole is the event (docs/inbound.md): a retry repeats its bytes.
    account = accounts.get(ChannelKind.MESSENGER) or next(iter(accounts.values()))
    return webhook.store(account, "facebook", raw)  # files are fetched later (MEDIA_TASK)
