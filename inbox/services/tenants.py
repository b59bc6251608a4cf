"""Municipalities (tenants) and their administrators, as a regional administrator manages
them, and a municipality's profile, as its own admin does. Every change is audited."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import func, select

from inbox.extensions import db
from inbox.models import Membership, Role, Tenant, User
from inbox.models.base import utcnow
from inbox.services import audit, sessions
from inbox.services.staff import MAX_EMAIL_CHARS, MAX_NAME_CHARS, StaffError, _email, _text
from inbox.services.users import create_user, temporary_password

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
MAX_TENANT_NAME_CHARS = 200
LOCALES = ("nb", "nn", "en")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOURS_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
MIN_RETENTION_DAYS, MAX_RETENTION_DAYS = 1, 3650


class TenantError(ValueError):
    """The code (str(exc)) says what is wrong; message() says it to a person."""


def message(exc: TenantError | StaffError) -> str:
    texts = {
        "slug": "the short name must be 1-64 lower-case letters, digits or '-'",
        "slug_taken": "another municipality already has that short name",
        "name": "give the municipality's name (at most 200 characters)",
        "locale": "choose nb, nn or en",
        "email": f"give a valid e-mail address (at most {MAX_EMAIL_CHARS} characters)",
        "admin_name": f"give the admin's name (at most {MAX_NAME_CHARS} characters)",
    }
    return texts.get(str(exc), str(exc))


@dataclass
class Created:
    tenant: Tenant
    user: User
    password: str | None  # a temporary password for a new account, shown once


def _slug(raw: str | None) -> str:
    slug = (raw or "").strip().lower()
    if not SLUG_RE.fullmatch(slug):
        raise TenantError("slug")
    if db.session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
        raise TenantError("slug_taken")
    return slug


def _name(raw: str | None) -> str:
    try:
        return _text(raw, MAX_TENANT_NAME_CHARS, "name")
    except StaffError:
        raise TenantError("name") from None


def _locale(raw: str | None) -> str:
    if raw not in LOCALES:
        raise TenantError("locale")
    return str(raw)


def create_tenant(
    slug: str,
    name: str,
    locale: str,
    admin_email: str,
    admin_name: str,
    *,
    actor: User | None,
    regional_admin: bool = False,
) -> Created:
    """A new municipality in service, with its first admin (a new account gets a temporary
    password to change at the first sign-in; an existing one keeps its own)."""
    tenant = Tenant(slug=_slug(slug), name=_name(name), locale=_locale(locale))
    try:
        email = _email(admin_email)
    except StaffError:
        raise TenantError("email") from None
    try:
        person_name = _text(admin_name, MAX_NAME_CHARS, "name")
    except StaffError:
        raise TenantError("admin_name") from None
    db.session.add(tenant)
    db.session.flush()
    audit.record("tenant.create", tenant, tenant_id=tenant.id, actor=actor, slug=tenant.slug)
    user, password = appoint_admin(tenant, email, person_name, actor=actor)
    if regional_admin and not user.is_regional_admin:
        set_regional_admin(user, True, actor=actor)
    return Created(tenant, user, password)


def appoint_admin(
    tenant: Tenant, email: str, name: str, *, actor: User | None
) -> tuple[User, str | None]:
    """Make the person an admin of the municipality (creating the account if new)."""
    email = _email(email)
    user = db.session.scalar(select(User).where(func.lower(User.email) == email))
    password = None
    if user is None:
        password = temporary_password()
        user = create_user(email, _text(name, MAX_NAME_CHARS, "name"), password, {})
        user.must_change_password = True
    member = db.session.get(Membership, (user.id, tenant.id))
    if member is None:
        db.session.add(Membership(user_id=user.id, tenant_id=tenant.id, role=Role.ADMIN))
    else:
        member.role = Role.ADMIN
    db.session.flush()
    db.session.expire(user, ["memberships"])
    audit.record(
        "tenant.appoint_admin",
        user,
        tenant_id=tenant.id,
        actor=actor,
        new_account=password is not None,
    )
    return user, password


def set_regional_admin(user: User, value: bool, *, actor: User | None) -> None:
    user.is_regional_admin = value
    audit.record(
        "region.admin_granted" if value else "region.admin_revoked",
        user,
        tenant_id=None,
        actor=actor,
    )


def set_active(tenant: Tenant, active: bool, *, actor: User | None) -> None:
    """Take a municipality out of service (its staff cannot sign in, its webhooks find no
    account, nothing of it is stored) or back into service. Its data is kept."""
    if tenant.is_active == active:
        return
    tenant.is_active = active
    tenant.deactivated_at = None if active else utcnow()
    if not active:
        # Sessions of people who work only there end now.
        for m in db.session.scalars(select(Membership).where(Membership.tenant_id == tenant.id)):
            user = m.user
            if not user.is_regional_admin and not [
                o for o in user.memberships if o.tenant_id != tenant.id and o.tenant.is_active
            ]:
                sessions.end_all(user)
    audit.record(
        "tenant.reactivate" if active else "tenant.deactivate",
        tenant,
        tenant_id=tenant.id,
        actor=actor,
    )


def all_tenants() -> list[Tenant]:
    return list(db.session.scalars(select(Tenant).order_by(Tenant.name, Tenant.id)))


def admins_of(tenant_id: int) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.tenant_id == tenant_id, Membership.role == Role.ADMIN)
            .order_by(User.name)
        )
    )


# -- the municipality's profile (its own admin) -------------------------------------------------


def parse_hours(raw: dict[str, str]) -> dict[str, list[list[str]]]:
    """{"mon": "08:00-15:30", ...} (empty = closed that day; all empty = always open) →
    {"mon": [["08:00", "15:30"]]}; raises TenantError("hours") on anything else."""
    out: dict[str, list[list[str]]] = {}
    for day in DAYS:
        text = (raw.get(day) or "").strip()
        if not text:
            continue
        spans = []
        for part in text.split(","):
            start, sep, end = part.strip().partition("-")
            start, end = start.strip(), end.strip()
            if not sep or not HOURS_RE.match(start) or not HOURS_RE.match(end) or start >= end:
                raise TenantError("hours")
            spans.append([start, end])
        out[day] = spans
    return out


def hours_text(hours: dict[str, Any] | None) -> dict[str, str]:
    return {day: ", ".join(f"{a}-{b}" for a, b in (hours or {}).get(day, [])) for day in DAYS}


def update_profile(tenant: Tenant, form: dict[str, Any], *, actor: User) -> None:
    """Name, language, time zone, opening hours and retention period; all or nothing."""
    name = _name(form.get("name"))
    locale = _locale(form.get("locale"))
    tz = (form.get("timezone") or "").strip()
    try:
        if tz not in available_timezones():
            raise TenantError("timezone")
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise TenantError("timezone") from None
    hours = parse_hours({d: form.get(f"hours_{d}", "") for d in DAYS})
    raw_days = str(form.get("retention_days") or "").strip()
    if not raw_days.isdigit() or not MIN_RETENTION_DAYS <= int(raw_days) <= MAX_RETENTION_DAYS:
        raise TenantError("retention_days")
    before = {
        "name": tenant.name,
        "locale": tenant.locale,
        "timezone": tenant.timezone,
        "opening_hours": tenant.opening_hours,
        "retention_days": tenant.retention_days,
    }
    tenant.name, tenant.locale, tenant.timezone = name, locale, tz
    tenant.opening_hours, tenant.retention_days = hours, int(raw_days)
    after = {
        "name": name,
        "locale": locale,
        "timezone": tz,
        "opening_hours": hours,
        "retention_days": int(raw_days),
    }
    changed = sorted(k for k in after if before[k] != after[k])
    audit.record("tenant.profile", tenant, tenant_id=tenant.id, actor=actor, changed=changed)
