"""Municipalities (tenants), staff users, their roles and teams."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Integer, Select, String, UniqueConstraint, select
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
    # A regional admin deactivates a municipality: its staff cannot sign in, its webhooks are
    # answered 410 and nothing of theirs is stored (docs/admin.md).
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


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
    # Installation-wide: creates and deactivates municipalities and appoints their admins.
    is_regional_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # Whether automatic assignment may give this person new conversations (inbox/services/routing).
    is_available: Mapped[bool] = mapped_column(Boolean, default=True)

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

    @property
    def active_memberships(self) -> list[Membership]:
        """Memberships of municipalities in service (a deactivated one gives no access)."""
        return [m for m in self.memberships if m.tenant.is_active]

    @property
    def may_sign_in(self) -> bool:
        """Enabled, and working for a municipality in service (or for the region)."""
        if not self.is_enabled:
            return False
        return self.is_regional_admin or not self.memberships or bool(self.active_memberships)

    def role_in(self, tenant_id: int) -> Role | None:
        for m in self.active_memberships:
            if m.tenant_id == tenant_id:
                return m.role
        return None

    def tenant_ids(self) -> list[int]:
        return [m.tenant_id for m in self.active_memberships]


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
    # Automatic assignment (inbox/services/routing.py): round robin among members signed in and
    # available, each holding at most this many open conversations.
    auto_assign: Mapped[bool] = mapped_column(Boolean, default=False)
    max_open_per_member: Mapped[int] = mapped_column(Integer, default=10)
    last_assigned_user_id: Mapped[int | None] = mapped_column(Integer)


class TeamMember(db.Model):
    team_id: Mapped[int] = mapped_column(
        ForeignKey("team.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True, index=True
    )


def active_tenant_ids() -> Select[tuple[int]]:
    """The ids of municipalities in service, for `ChannelAccount.tenant_id.in_(...)`: a
    deactivated municipality's webhooks and pollers find no account and store nothing."""
    return select(Tenant.id).where(Tenant.is_active.is_(True))


def tenant_active(tenant_id: int) -> bool:
    tenant = db.session.get(Tenant, tenant_id)
    return tenant is not None and tenant.is_active
