"""Meta's webhook handshake and signed deliveries, for every Meta object (page, instagram).

https://developers.facebook.com/docs/graph-api/webhooks/getting-started
The verify token and app secret come from the channel accounts the URL names (env-var
references). A delivery is stored and committed as one raw inbound event before we answer 2xx
(docs/inbound.md), keyed by the SHA-256 of its body: Meta's retry repeats the same bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Iterable

from flask import Response, request

from inbox import secretstore
from inbox.extensions import db
from inbox.models import ChannelAccount
from inbox.services import events
from inbox.services.account_cache import AccountRef

log = logging.getLogger(__name__)
ACCOUNT_ID_RE = re.compile(r"^[0-9]{1,32}$")  # page ids and Instagram account ids
CHALLENGE_RE = re.compile(r"^[A-Za-z0-9_\-.]{1,256}$")


def secrets(accounts: Iterable[ChannelAccount | AccountRef], name: str) -> list[str]:
    """The values of the secret `name` the accounts refer to (set in the environment)."""
    accounts = list(accounts)
    values = [secretstore.resolve(a, name) for a in accounts]
    if not any(values):
        ids = sorted({a.external_id for a in accounts})
        log.error("meta accounts %s: no %s in the environment; webhook refused", ids, name)
    return [v for v in values if v]


def handshake(tokens: list[str]) -> Response:
    """GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=… → the challenge as text."""
    given = request.args.get("hub.verify_token", "")
    challenge = request.args.get("hub.challenge", "")
    ok = request.args.get("hub.mode") == "subscribe" and any(
        hmac.compare_digest(given.encode(), t.encode()) for t in tokens
    )
    if not ok or not CHALLENGE_RE.match(challenge):
        return Response("forbidden", status=403, mimetype="text/plain")
    return Response(challenge, status=200, mimetype="text/plain")


def signature_valid(raw: bytes, header: str, app_secrets: list[str]) -> bool:
    """sha256=<hex HMAC-SHA256(app secret, raw body)>, over the bytes exactly as sent."""
    if not header.startswith("sha256="):
        return False
    given = header[len("sha256=") :].strip().lower().encode()
    return any(
        hmac.compare_digest(hmac.new(s.encode(), raw, hashlib.sha256).hexdigest().encode(), given)
        for s in app_secrets
    )


def signed(raw: bytes, app_secrets: list[str]) -> bool:
    """Whether this request carries a valid X-Hub-Signature-256 for one of the secrets."""
    return bool(app_secrets) and signature_valid(
        raw, request.headers.get("X-Hub-Signature-256", ""), app_secrets
    )


def store(account: ChannelAccount | AccountRef, kind: str, raw: bytes) -> Response:
    """Append the whole delivery as one inbound event and commit it before answering 200."""
    key = "sha256:" + hashlib.sha256(raw).hexdigest()
    events.append(account, kind, key, raw, url=request.url, headers=request.headers)
    db.session.commit()
    return Response("EVENT_RECEIVED", status=200, mimetype="text/plain")
