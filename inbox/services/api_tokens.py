"""API tokens: create (the token is shown once), revoke, and authenticate a bearer token.

A token is "st_<lookup id>_<secret>" with 12 random hex characters for the lookup id and 32
random bytes for the secret. Only the SHA-256 of the whole token is stored: a token has 256 bits
of entropy, so a fast hash is as safe as a slow one and costs nothing per request. The row is
read on every request, so a revoked token stops at once, in every process.

While a request runs, a token acts through TokenActor: the services the inbox views use take a
staff user; the actor answers what they ask of one (which tenant, what it may see) and makes the
audit log name the token.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select

from inbox.extensions import db
from inbox.models import ApiScope, ApiToken, Role, User
from inbox.models.base import utcnow
from inbox.services import audit

TOKEN_RE = re.compile(r"^st_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
NAME_MAX = 80
# last_used_at is written at most this often per token (not on every request).
TOUCH_EVERY = timedelta(minutes=1)


class TokenError(ValueError):
    """str(exc) is a short code the admin page turns into a message."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(tenant_id: int, name: str, scopes: list[str], actor: User) -> tuple[ApiToken, str]:
    """A new token; returns the row and the token itself, which is never available again."""
    name = " ".join((name or "").split())
    if not name:
        raise TokenError("name")
    if len(name) > NAME_MAX:
        raise TokenError("name_long")
    chosen = [s.value for s in ApiScope if s.value in scopes]
    if not chosen or len(set(scopes)) != len(chosen):
        raise TokenError("scopes")
    lookup_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    token = f"st_{lookup_id}_{secret}"
    row = ApiToken(
        tenant_id=tenant_id,
        name=name,
        lookup_id=lookup_id,
        token_hash=hash_token(token),
        scopes=chosen,
        created_by_id=actor.id,
    )
    db.session.add(row)
    db.session.flush()
    audit.record(
        "api_token.create", row, tenant_id=tenant_id, actor=actor, name=name, scopes=chosen
    )
    return row, token


def revoke(row: ApiToken, actor: User) -> None:
    if row.revoked_at is not None:
        return
    row.revoked_at = utcnow()
    audit.record("api_token.revoke", row, tenant_id=row.tenant_id, actor=actor, name=row.name)


def for_tenant(tenant_id: int) -> list[ApiToken]:
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.tenant_id == tenant_id)
            .order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())
        )
    )


def authenticate(token: str) -> ApiToken | None:
    """The live token row for a bearer token, or None (unknown, malformed or revoked)."""
    match = TOKEN_RE.match(token)
    if match is None:
        return None
    row = db.session.scalar(select(ApiToken).where(ApiToken.lookup_id == match.group(1)))
    if row is None or not hmac.compare_digest(row.token_hash, hash_token(token)):
        return None
    if row.revoked_at is not None:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > TOUCH_EVERY:
        row.last_used_at = now
        db.session.commit()
    return row


@dataclass(frozen=True)
class _Membership:
    tenant_id: int
    role: Role


@dataclass
class TokenActor:
    """A token acting in its municipality: sees all its conversations (like records staff),
    writes as no staff account (author and assignee stay empty), and is named in the audit log."""

    token_id: int
    tenant_id: int
    name: str
    id: None = None
    memberships: list[_Membership] = field(default_factory=list)

    @classmethod
    def of(cls, row: ApiToken) -> TokenActor:
        return cls(
            row.id,
            row.tenant_id,
            row.name,
            memberships=[_Membership(row.tenant_id, Role.RECORDS_OFFICER)],
        )

    @property
    def audit_label(self) -> str:
        return f"api:{self.name} (#{self.token_id})"[:120]

    @property
    def active_memberships(self) -> list[_Membership]:
        """Nothing while its municipality is out of service (docs/admin.md)."""
        from inbox.models.tenancy import tenant_active

        return self.memberships if tenant_active(self.tenant_id) else []

    def role_in(self, tenant_id: int) -> Role | None:
        return (
            Role.RECORDS_OFFICER
            if tenant_id == self.tenant_id and self.active_memberships
            else None
        )

    def tenant_ids(self) -> list[int]:
        return [self.tenant_id] if self.active_memberships else []
