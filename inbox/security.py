"""Proxy handling, security headers and session identity."""

from __future__ import annotations

from flask import Flask, Response, g
from werkzeug.middleware.proxy_fix import ProxyFix

from inbox.extensions import db, login_manager


def init_app(app: Flask) -> None:
    hops = app.config["TRUST_PROXY_HEADERS"]
    if hops:
        # Behind a TLS-terminating proxy the public URL (needed for webhook signatures and
        # secure cookies) comes from X-Forwarded-*; trust exactly the configured hops.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    app.after_request(_security_headers)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    login_manager.user_loader(_load_user)


def _load_user(user_id: str):  # type: ignore[no-untyped-def]
    from inbox.models import User

    if not user_id.isdigit():
        return None
    return db.session.get(User, int(user_id))


def _security_headers(resp: Response) -> Response:
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    # Pages that may be framed (the chat widget) set their own frame-ancestors.
    if not getattr(g, "allow_framing", False):
        resp.headers.setdefault("X-Frame-Options", "DENY")
        csp = "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'"
    else:
        csp = "default-src 'self'; img-src 'self' data:; style-src 'self'"
    resp.headers.setdefault("Content-Security-Policy", csp)
    return resp
