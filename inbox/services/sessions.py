"""Staff sessions on the server (inbox/models/sessions.py).

The signed session cookie names the account with a token of its password hash (see
inbox/security.py) and carries `sid`, a random token whose hash is a StaffSession row. A
request is signed in only while that row is neither ended nor expired: signing out ends it
at once, "sign out everywhere" ends every row of the account, and a copied cookie stops
working with them (the cookie alone, being signed and not stored, could not be revoked).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app, request
from sqlalchemy import select, update

from inbox.extensions import db
from inbox.models import StaffSession, User
from inbox.models.base import utcnow

SESSION_KEY = "sid"
# last_seen_at is updated at most this often per session, within the request's own
# transaction (so a request that commits nothing leaves it as it was).
TOUCH_EVERY = timedelta(minutes=1)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(user: User) -> str:
    """A new session for the account; returns the token for the cookie. Flushes."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(
        StaffSession(
            user_id=user.id,
            token_hash=_hash(token),
            created_at=now,
            last_seen_at=now,
            expires_at=now + current_app.config["PERMANENT_SESSION_LIFETIME"],
            user_agent=(request.user_agent.string or "")[:200] or None,
            ip_address=(request.remote_addr or "")[:64] or None,
        )
    )
    db.session.flush()
    return token


def find(user_id: int, token: object) -> StaffSession | None:
    """The account's session with this token, if it is still running."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100 or not token.isascii():
        return None
    row = db.session.scalar(select(StaffSession).where(StaffSession.token_hash == _hash(token)))
    now = utcnow()
    if row is None or row.user_id != user_id or row.ended_at is not None or row.expires_at <= now:
        return None
    if now - row.last_seen_at > TOUCH_EVERY:
        row.last_seen_at = now
    return row


def end(token: object) -> None:
    """End the session with this token (signing out). Flushes."""
    if isinstance(token, str) and token.isascii():
        db.session.execute(
            update(StaffSession)
            .where(StaffSession.token_hash == _hash(token), StaffSession.ended_at.is_(None))
            .values(ended_at=utcnow())
        )


def end_all(user: User, keep: StaffSession | None = None) -> int:
    """End every running session of the account, except `keep`; how many. Flushes."""
    q = update(StaffSession).where(StaffSession.user_id == user.id, StaffSession.ended_at.is_(None))
    if keep is not None:
        q = q.where(StaffSession.id != keep.id)
    return db.session.execute(q.values(ended_at=utcnow())).rowcount or 0


def end_one(user: User, session_id: int) -> bool:
    """End one of the account's own sessions (from the sessions page). Flushes."""
    q = update(StaffSession).where(
        StaffSession.id == session_id,
        StaffSession.user_id == user.id,
        StaffSession.ended_at.is_(None),
    )
    return bool(db.session.execute(q.values(ended_at=utcnow())).rowcount)


def running(user: User) -> list[StaffSession]:
    """The account's running sessions, the most recently used first."""
    return list(
        db.session.scalars(
            select(StaffSession)
            .where(
                StaffSession.user_id == user.id,
                StaffSession.ended_at.is_(None),
                StaffSession.expires_at > utcnow(),
            )
            .order_by(StaffSession.last_seen_at.desc())
        )
    )
