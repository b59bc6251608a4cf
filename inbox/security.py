"""Proxy handling, security headers and session identity.

A session names its account as "<id>:<token>" (Flask-Login's "alternative token"): the token
is an HMAC of the account's password hash under the SECRET_KEY. Changing or resetting the
password changes the token, so every session signed in with the old password stops being
accepted; the session that changes its own password is signed in again with the new token
(inbox/views/account.py). The session cookie is signed, not encrypted: the token is a
truncated MAC, so nothing about the hash can be read from it. The cookie also names a
server-side session record (inbox/services/sessions.py) that signing out ends.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from flask import Flask, Response, current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from werkzeug.middleware.proxy_fix import ProxyFix

from inbox.extensions import db, login_manager


def init_app(app: Flask) -> None:
    hops = app.config["TRUST_PROXY_HEADERS"]
    if hops:
        # Behind a TLS-terminating proxy the public URL (needed for webhook signatures and
        # secure cookies) comes from X-Forwarded-*; trust exactly the configured hops.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    app.after_request(_security_headers)
    app.session_interface = _SessionInterface()
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    login_manager.user_loader(_load_user)


# Providers' webhooks (Twilio, Meta, comment sources) are authenticated by their signatures;
# none of them has or needs a session or a rate limit of the inbox's own.
WEBHOOK_PREFIX = "/webhooks/"


def is_webhook() -> bool:
    return request.path.startswith(WEBHOOK_PREFIX)


class _SessionInterface(SecureCookieSessionInterface):
    """The signed-cookie session, except that a webhook gets none: no cookie read, verified
    or written on the requests that arrive by the thousand in a storm."""

    def open_session(self, app: Flask, request: Any) -> SessionMixin | None:
        if request.path.startswith(WEBHOOK_PREFIX):
            return self.make_null_session(app)
        return super().open_session(app, request)


# 128 bits of the MAC, as hex: enough that a token cannot be guessed.
_TOKEN_CHARS = 32


def session_token(password_hash: str) -> str:
    """The token that ties a session to the account's current password."""
    key = current_app.config["SECRET_KEY"]
    if isinstance(key, str):
        key = key.encode()
    msg = b"servicetorg.session\x00" + password_hash.encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()[:_TOKEN_CHARS]


def session_id(user_id: int, password_hash: str) -> str:
    """What the session stores for a signed-in account (User.get_id())."""
    return f"{user_id}:{session_token(password_hash)}"


def _load_user(session_user_id: str):  # type: ignore[no-untyped-def]
    """The account a session names, if its token still matches the account's password.

    Anything else (a session from before a password change or reset, an old plain id, a
    malformed value) is no session at all."""
    from inbox.models import User
    from inbox.services import sessions

    raw_id, sep, token = str(session_user_id).partition(":")
    if not (sep and raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 18):
        return None
    if len(token) != _TOKEN_CHARS or not token.isascii():  # compare_digest wants ASCII
        return None
    user = db.session.get(User, int(raw_id))
    if user is None:
        return None
    if not hmac.compare_digest(session_token(user.password_hash), token):
        return None
    if not user.may_sign_in:  # disabled, or the municipality was deactivated
        return None
    # The server's record of this sign-in must still be running (not signed out).
    if sessions.find(user.id, session.get(sessions.SESSION_KEY)) is None:
        return None
    return user


# Pages for citizens and providers (and static files) may be cached by their own rules;
# every other page shows staff data and is never kept by a browser or a proxy.
PUBLIC_BLUEPRINTS = frozenset(
    {"webchat", "demo", "twilio_sms", "facebook", "instagram", "webcomments"}
)
CSP_COMMON = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'"
)


def _security_headers(resp: Response) -> Response:
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    # Pages that may be framed (the chat widget) set their own frame-ancestors.
    if not getattr(g, "allow_framing", False):
        resp.headers.setdefault("X-Frame-Options", "DENY")
        csp = f"{CSP_COMMON}; frame-ancestors 'none'"
    else:
        csp = CSP_COMMON
    resp.headers.setdefault("Content-Security-Policy", csp)
    staff_page = request.blueprint not in PUBLIC_BLUEPRINTS and request.endpoint != "static"
    if staff_page and "no-store" not in resp.headers.get("Cache-Control", ""):
        resp.headers["Cache-Control"] = "no-store"
    return resp
