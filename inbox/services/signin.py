"""Sign-in with lock-out after repeated failures (on top of users.authenticate)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from inbox.extensions import db
from inbox.models import User
from inbox.models.base import utcnow
from inbox.services import audit
from inbox.services.users import authenticate, hash_password


@dataclass(frozen=True)
class SignIn:
    user: User | None
    locked: bool = False


def attempt(email: str, password: str) -> SignIn:
    """Check the password, counting failures; a locked account is refused even with the
    right password until the lock runs out. The caller commits."""
    cfg = current_app.config
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    now = utcnow()
    if user is not None and user.locked_until is not None and user.locked_until > now:
        hash_password(password)  # same time as a real check
        return SignIn(None, locked=True)
    ok = authenticate(email, password)
    if user is None:
        return SignIn(None)
    if ok is not None:
        user.failed_logins = 0
        user.locked_until = None
        user.last_seen_at = now
        return SignIn(user)
    user.failed_logins = (user.failed_logins or 0) + 1
    if user.failed_logins >= cfg["LOGIN_MAX_FAILURES"]:
        user.locked_until = now + timedelta(minutes=cfg["LOGIN_LOCKOUT_MINUTES"])
        user.failed_logins = 0
        audit.record("login.locked", user, tenant_id=None, actor_label="system")
        return SignIn(None, locked=True)
    return SignIn(None)
