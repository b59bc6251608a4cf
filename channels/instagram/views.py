"""The Instagram webhook: Meta's verification handshake and signed deliveries.

One URL per Instagram professional account (/webhooks/instagram/<Instagram account id>), set
in the Meta app under Webhooks → Instagram; its verify token and app secret come from the
account's channel accounts (env-var references), exactly as for Facebook pages
(channels/meta/webhook.py). A delivery is stored and committed as one raw inbound event before
Meta hears 200; unsigned or forged ones are refused with 403 and nothing is stored.
"""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, request

from channels.instagram import events as ig_events
from channels.instagram.services import instagram_accounts
from channels.interfaces import InvalidPayload
from channels.meta import webhook
from inbox.db import writes
from inbox.extensions import csrf
from inbox.models import ChannelKind
from inbox.services import account_cache
from inbox.services.account_cache import AccountRef
from inbox.untrusted import loads

bp = Blueprint("instagram", __name__, url_prefix="/webhooks/instagram")
csrf.exempt(bp)  # authenticated by the X-Hub-Signature-256 HMAC, not a cookie


def _accounts(ig_id: str) -> dict[ChannelKind, AccountRef]:
    if not webhook.ACCOUNT_ID_RE.match(ig_id):
        abort(404)
    accounts = account_cache.cached(
        ("instagram", ig_id),
        lambda: {k: account_cache.snapshot(a) for k, a in instagram_accounts(ig_id).items()},
    )
    if not accounts:
        abort(404)
    return accounts


@bp.get("/<ig_id>")
def verify(ig_id: str):  # type: ignore[no-untyped-def]
    return webhook.handshake(webhook.secrets(_accounts(ig_id).values(), "verify_token"))


@bp.post("/<ig_id>")
@writes
def receive(ig_id: str):  # type: ignore[no-untyped-def]
    accounts = _accounts(ig_id)
    raw = request.get_data(cache=False)  # the raw bytes: re-serialised JSON would not match
    if not webhook.signed(raw, webhook.secrets(accounts.values(), "app_secret")):
        return jsonify(error="signature", message="Missing or invalid signature."), 403
    try:
        ig_events.parse(loads(raw))  # the shape checked now: a clear 400, not a parked event
    except (ValueError, InvalidPayload) as exc:
        return jsonify(error="payload", message=f"Invalid payload: {exc}"), 400
    account = accounts.get(ChannelKind.INSTAGRAM) or next(iter(accounts.values()))
    return webhook.store(account, "instagram", raw)
