"""Caseworker presence: remember when a signed-in user last did something.

The web chat uses it to tell citizens whether anyone is online. Written at most once a minute
per user so ordinary page views do not turn into a write each.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, request
from flask_login import current_user
from sqlalchemy import update

from inbox.extensions import db
from inbox.models import User
from inbox.models.base import utcnow

RESOLUTION = timedelta(seconds=60)


def init_app(app: Flask) -> None:
    app.before_request(_touch)


def _touch() -> None:
    if request.endpoint in (None, "static", "healthz") or request.blueprint == "webchat":
        return
    if request.path.startswith("/webhooks/"):
        return  # providers, never a signed-in user: no session to load on the hot path
    if not current_user or not current_user.is_authenticated:
        return
    now = utcnow()
    last = current_user.last_seen_at
    if last is not None and now - last < RESOLUTION:
        return
    db.session.execute(update(User).where(User.id == current_user.id).values(last_seen_at=now))
    current_user.last_seen_at = now
    db.session.commit()
