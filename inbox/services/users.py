"""Staff accounts: creation, password checks (argon2) and password changes."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context
from sqlalchemy import func, select

from inbox.extensions import db
from inbox.models import Membership, Role, User
from inbox.services import audit

MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1000
# No look-alikes (0/O, 1/l/I), so a temporary password can be read out or typed from paper.
_TEMPORARY_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

_DEFAULT = PasswordHasher()


def _hasher_for_config() -> PasswordHasher:
    """argon2id with the configured cost (PASSWORD_HASH_* settings; library defaults)."""
    if not has_app_context():
        return _DEFAULT
    cfg = current_app.config
    time_cost = cfg.get("PASSWORD_HASH_TIME_COST") or _DEFAULT.time_cost
    memory = cfg.get("PASSWORD_HASH_MEMORY_KIB") or _DEFAULT.memory_cost
    if (time_cost, memory) == (_DEFAULT.time_cost, _DEFAULT.memory_cost):
        return _DEFAULT
    return PasswordHasher(time_cost=time_cost, memory_cost=memory)


class _Hasher:
    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(_hasher_for_config(), name)


_hasher = _Hasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(email: str, name: str, password: str, memberships: dict[int, Role]) -> User:
    user = User(email=email.strip().lower(), name=name, password_hash=hash_password(password))
    db.session.add(user)
    db.session.flush()
    for tenant_id, role in memberships.items():
        db.session.add(Membership(user_id=user.id, tenant_id=tenant_id, role=role))
    db.session.flush()
    db.session.refresh(user)
    return user


def authenticate(email: str, password: str) -> User | None:
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None:
        _hasher.hash(password)  # spend the same time whether or not the account exists
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user if user.is_enabled else None


def check_password(user: User, password: str) -> bool:
    try:
        return bool(_hasher.verify(user.password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def temporary_password() -> str:
    """A random password to hand over once: four groups of five characters (~115 bits)."""
    groups = ("".join(secrets.choice(_TEMPORARY_ALPHABET) for _ in range(5)) for _ in range(4))
    return "-".join(groups)


class PasswordRejected(ValueError):
    """str(exc) is a short code: current, repeat, too_short, too_long, is_email, unchanged."""


def change_own_password(user: User, current: str, new: str, repeat: str) -> None:
    """Replace the user's password after checking the current one; clears the must-change
    flag. The caller commits."""
    if not check_password(user, current):
        raise PasswordRejected("current")
    if new != repeat:
        raise PasswordRejected("repeat")
    if len(new) < MIN_PASSWORD_CHARS:
        raise PasswordRejected("too_short")
    if len(new) > MAX_PASSWORD_CHARS:
        raise PasswordRejected("too_long")
    if new.strip().lower() == user.email.strip().lower():
        raise PasswordRejected("is_email")
    if new == current:
        raise PasswordRejected("unchanged")
    user.password_hash = hash_password(new)
    user.must_change_password = False
    audit.record("password.change", user, tenant_id=None, actor=user)
