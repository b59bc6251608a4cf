"""Staff single sign-on (OpenID Connect): each municipality's identity provider, and which
provider account each staff account is (docs/sso.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from inbox.extensions import db
from inbox.models.base import JSONType, Timestamped, UTCDateTime


class SsoConfig(Timestamped, db.Model):
    """One municipality's OpenID Connect provider for staff (at most one per municipality)."""

    __tablename__ = "sso_config"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(255))
    # The client secret, encrypted with Fernet (inbox/services/secret_store.py), or the name of an
    # environment variable that holds it; never both, never in clear text.
    client_secret_enc: Mapped[str | None] = mapped_column(Text)
    client_secret_env: Mapped[str | None] = mapped_column(String(128))
    # Lower-case domains whose addresses may sign in ("example.kommune.no").
    allowed_domains: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # The ID token claim that lists the user's groups (Entra ID: "groups").
    groups_claim: Mapped[str] = mapped_column(String(64), default="groups")
    # {group: role}; the highest role of the user's groups applies.
    group_roles: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    # {group: [team name, ...]}; teams named here follow the groups at every sign-in.
    group_teams: Mapped[dict[str, list[str]]] = mapped_column(JSONType, default=dict)


class SsoLink(db.Model):
    """A staff account known to a municipality's provider as (issuer, subject)."""

    __tablename__ = "sso_link"
    __table_args__ = (UniqueConstraint("tenant_id", "issuer", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_claims: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class IdportenIdentity(db.Model):
    """What ID-porten verified about a citizen identity (IdentityKind.IDPORTEN_PID): the
    national identity number, encrypted (inbox/services/secret_store.py), the level of
    assurance and the name when given."""

    __tablename__ = "idporten_identity"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
    contact_identity_id: Mapped[int] = mapped_column(
        ForeignKey("contact_identity.id", ondelete="CASCADE"), unique=True
    )
    pid_enc: Mapped[str] = mapped_column(Text)
    acr: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime)
