"""POST /webhooks/comments/<account_id>: verify, validate, append the raw event, answer 202.

The inbound worker stores the comment as a message (docs/inbound.md)."""

from __future__ import annotations

import logging
from functools import partial

from flask import Blueprint, current_app, jsonify, request

from channels.wordpress import webhook
from channels.wordpress.services import WEBHOOK, source_of
from inbox import secretstore
from inbox.db import writes
from inbox.extensions import csrf, db
from inbox.models import ChannelAccount, ChannelKind
from inbox.models.tenancy import tenant_active
from inbox.services import account_cache, events
from inbox.services.account_cache import AccountRef
from inbox.untrusted import loads

bp = Blueprint("webcomments", __name__)
csrf.exempt(bp)  # authenticated by the HMAC signature, not a cookie
log = logging.getLogger(__name__)


def _error(status: int, code: str, message: str, field: str | None = None):  # type: ignore[no-untyped-def]
    body = {"error": code, "message": message}
    if field is not None:
        body["field"] = field
    resp = jsonify(body)
    resp.status_code = status
    return resp


def _load(account_id: int) -> AccountRef | None:
    """The enabled webhook comment source (cached per process, inbox/services/account_cache)."""
    account = db.session.get(ChannelAccount, account_id)
    if (
        account is None
        or account.kind is not ChannelKind.WEB_COMMENTS
        or not account.enabled
        or not tenant_active(account.tenant_id)
        or source_of(account) != WEBHOOK
    ):
        return None
    return account_cache.snapshot(account)


@bp.post("/webhooks/comments/<int:account_id>")
@writes
def receive(account_id: int):  # type: ignore[no-untyped-def]
    account = account_cache.cached(("comments", account_id), partial(_load, account_id))
    if account is None:
        return _error(404, "not_found", "No comment webhook source with this id.")
    limit = current_app.config["WEB_COMMENTS_MAX_BODY_BYTES"]
    if (request.content_length or 0) > limit:
        return _error(413, "too_large", f"The body is larger than {limit} bytes.")
    raw = request.get_data(cache=False)
    if len(raw) > limit:
        return _error(413, "too_large", f"The body is larger than {limit} bytes.")
    secret = secretstore.resolve(account, "webhook_secret")
    if not secret:
        log.error("comment webhook source %s has no secret configured", account.id)
        return _error(503, "not_configured", "This source has no signing secret configured.")
    if not webhook.signature_ok(secret, raw, request.headers.get(webhook.SIGNATURE_HEADER)):
        return _error(403, "bad_signature", "Missing or invalid X-Servicetorg-Signature.")
    try:
        data = loads(raw)
    except ValueError:
        return _error(400, "json", "The body is not valid JSON.")
    try:
        comment = webhook.parse(data, limit)
    except webhook.Invalid as exc:
        return _error(400, "invalid", str(exc), exc.field)
    # Validated here, so the sender hears what is wrong; stored by the inbound worker.
    created = events.append(
        account, "comments", comment.comment_id, raw, url=request.url, headers=request.headers
    )
    db.session.commit()  # stored before the sender hears 2xx
    return jsonify(status="accepted" if created else "duplicate", id=comment.comment_id), (
        202 if created else 200
    )
