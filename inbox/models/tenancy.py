"""Municipalities (tenants), staff users, their roles and teams."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from inbox.extensions import db
from inbox.models.base import JSONType, TenantScoped, Timestamped, UTCDateTime, enum_column


class Tenant(Timestamped, db.Model):
    """A municipality (kommune). Everything it owns carries its id."""

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Name of the environment variable that holds the HMAC secret the municipality's site uses
    # to vouch for a signed-in visitor.
    chat_identity_secret_ref: Mapped[str | None] = mapped_column(String(128))
    locale: Mapped[str] = mapped_column(String(8), default="nb")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Oslo")
    # {"mon": [["08:00", "15:30"]], ...}; empty = always open.
    opening_hours: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Records system: "embedded", "noark5_rest" or "fiks_arkiv", with non-secret settings.
    records_adapter: Mapped[str] = mapped_column(String(32), default="embedded")
    records_config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Retention (inbox/services/retention.py, set on the admin pages). Days until a closed
    # conversation not on its way to the records system is removed.
    retention_days: Mapped[int] = mapped_column(Integer, default=90)
    retention_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Days without activity until a conversation left open is removed; None = never.
    retention_open_days: Mapped[int | None] = mapped_column(Integer)
    # Days until a contact with no conversations left is removed; None = never.
    retention_contact_days: Mapped[int | None] = mapped_column(Integer)
    # Days until the files of attachments are removed (the message stays); None = never.
    retention_attachment_days: Mapped[int | None] = mapped_column(Integer)
    # "delete" rows, or "anonymise" them (text and identities gone, counts and times kept).
    retention_mode: Mapped[str] = mapped_column(String(16), default="delete")
    # Whether caseworkers may reveal identity numbers (records officers and admins always may).
    caseworkers_may_reveal: Mapped[bool] = mapped_column(Boolean, default=False)


class Role(enum.StrEnum):
    CASEWORKER = "caseworker"
    RECORDS_OFFICER = "records_officer"
    ADMIN = "admin"


class User(UserMixin, Timestamped, db.Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(256))
    locale: Mapped[str | None] = mapped_column(String(8))
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set when an admin creates the account or resets its password: the temporary password
    # must be replaced at the next sign-in.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    memberships: Mapped[list[Membership]] = relationship(back_populates="user", lazy="selectin")

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.is_enabled

    def get_id(self) -> str:  # Flask-Login: "<id>:<token>", see inbox/security.py
        from inbox.security import session_id

        return session_id(self.id, self.password_hash)

    # UserMixin compares accounts by get_id(); compare by id, as before, without computing
    # session tokens (or needing an app context) to do it.
    def __eq__(self, other: object) -> bool:
        if isinstance(other, User):
            return self.id == other.id
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        if isinstance(other, User):
            return self.id != other.id
        return NotImplemented

    __hash__ = object.__hash__

    def role_in(self, tenant_id: int) -> Role | None:
        for m in self.memberships:
            if m.tenant_id == tenant_id:
                return m.role
        return None

    def tenant_ids(self) -> list[int]:
        return [m.tenant_id for m in self.memberships]


class Membership(db.Model):
    """A user's role in one municipality; regional staff can belong to several."""

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenant.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[Role] = mapped_column(enum_column(Role, 32))
    # A caseworker who may write and send SMS alerts (admins always may); docs/sms.md.
    may_send_alerts: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship(back_populates="memberships")
    tenant: Mapped[Tenant] = relationship(lazy="joined")


class Team(TenantScoped, Timestamped, db.Model):
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))


class TeamMember(db.Model):
    team_id: Mapped[int] = mapped_column(
        ForeignKey("team.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True, index=True
    )
