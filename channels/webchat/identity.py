"""Identified visitors: the municipality's site vouches for a signed-in citizen.

The site signs "<user_id>:<unix timestamp>" with HMAC-SHA256 and a secret it shares with us
(per tenant, kept in the environment variable Tenant.chat_identity_secret_ref names). The
timestamp limits how long a leaked signature can be replayed. See docs/webchat.md.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

from inbox import secretstore
from inbox.models import Tenant

USER_ID_RE = re.compile(r"^[A-Za-z0-9_.@:+=-]{1,128}$")
SIG_RE = re.compile(r"^[0-9a-fA-F]{64}$")
CLOCK_SKEW_SECONDS = 300


class IdentityError(ValueError):
    """The site's vouching was refused; `code` says why (for the widget and the logs)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def sign(secret: str, user_id: str, ts: int) -> str:
    """What the municipality's site computes (also used by the tests and the docs example)."""
    return hmac.new(secret.encode(), f"{user_id}:{ts}".encode(), hashlib.sha256).hexdigest()


def verify(
    tenant: Tenant,
    user_id: object,
    ts: object,
    sig: object,
    *,
    max_age: int,
    now: float | None = None,
) -> str:
    """Return the vouched-for user id, or raise IdentityError."""
    if not isinstance(user_id, str) or not USER_ID_RE.match(user_id):
        raise IdentityError("identity_invalid")
    if not isinstance(sig, str) or not SIG_RE.match(sig):
        raise IdentityError("identity_invalid")
    if isinstance(ts, str) and ts.isdigit():
        ts = int(ts)
    if not isinstance(ts, int) or isinstance(ts, bool):
        raise IdentityError("identity_invalid")
    secret = secretstore.resolve(tenant, "chat_identity")
    if not secret:
        raise IdentityError("identity_not_configured")
    expected = sign(secret, user_id, ts)
    # Constant time: the comparison must not tell an attacker how many characters matched.
    if not hmac.compare_digest(expected, sig.lower()):
        raise IdentityError("identity_signature")
    now = time.time() if now is None else now
    if ts > now + CLOCK_SKEW_SECONDS or now - ts > max_age:
        raise IdentityError("identity_expired")
    return user_id
