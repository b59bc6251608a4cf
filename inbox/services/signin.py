"""Sign-in with lock-out after repeated failures (on top of users.authenticate).

The same counter and lock guard every place that checks a password: the sign-in page and
the current password on the own-password page (inbox/views/account.py), so a stolen
session cannot be used to guess the password there either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm.attributes import set_committed_value

from inbox.extensions import db
from inbox.models import User
from inbox.models.base import utcnow
from inbox.services import audit
from inbox.services.users import authenticate, hash_password


@dataclass(frozen=True)
class SignIn:
    user: User | None
    locked: bool = False
    # The password was right, but every municipality of the account is deactivated.
    deactivated: bool = False


def is_locked(user: User, now: datetime | None = None) -> bool:
    """Whether a lock-out is in force: even the right password is refused until it ends."""
    return user.locked_until is not None and user.locked_until > (now or utcnow())


def record_failure(user: User, now: datetime | None = None) -> bool:
    """Count a wrong password; at LOGIN_MAX_FAILURES in a row the account is locked for
    LOGIN_LOCKOUT_MINUTES (audited). Whether it is locked now. The caller commits."""
    cfg = current_app.config
    # Counted in the database, not in Python: guesses sent in parallel each count.
    count = db.session.execute(
        update(User)
        .where(User.id == user.id)
        .values(failed_logins=User.failed_logins + 1)
        .returning(User.failed_logins)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    set_committed_value(user, "failed_logins", count)
    if count < cfg["LOGIN_MAX_FAILURES"]:
        return False
    user.locked_until = (now or utcnow()) + timedelta(minutes=cfg["LOGIN_LOCKOUT_MINUTES"])
    user.failed_logins = 0
    audit.record("login.locked", user, tenant_id=None, actor_label="system")
    return True


def record_success(user: User) -> None:
    """The right password: the count of failures starts again."""
    user.failed_logins = 0
    user.locked_until = None


def attempt(email: str, password: str) -> SignIn:
    """Check the password, counting failures; a locked account is refused even with the
    right password until the lock runs out. The caller commits."""
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    now = utcnow()
    if user is not None and user.password_hash.startswith("sso:"):
        # Single sign-on accounts have no password (inbox/services/sso.py): nothing to count.
        hash_password(password)  # same time as a real check
        return SignIn(None)
    if user is not None and is_locked(user, now):
        hash_password(password)  # same time as a real check
        return SignIn(None, locked=True)
    ok = authenticate(email, password)
    if user is None:
        return SignIn(None)
    if ok is not None and not ok.may_sign_in:
        return SignIn(None, deactivated=True)
    if ok is not None:
        record_success(user)
        user.last_seen_at = now
        return SignIn(user)
    if record_failure(user, now):
        return SignIn(None, locked=True)
    return SignIn(None)
