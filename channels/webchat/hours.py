"""Is anyone there? Opening hours per tenant and caseworkers seen recently."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from inbox.extensions import db
from inbox.models import Membership, Role, Tenant, User

log = logging.getLogger(__name__)

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
ANSWERING_ROLES = (Role.CASEWORKER, Role.RECORDS_OFFICER)


@dataclass(frozen=True)
class Availability:
    open: bool  # within opening hours
    staff_online: bool
    # Plain-language hours for today in the tenant's time zone, e.g. "08:00–15:30".
    today: str

    @property
    def available(self) -> bool:
        return self.open and self.staff_online

    @property
    def reason(self) -> str | None:
        if not self.open:
            return "closed"
        if not self.staff_online:
            return "no_staff"
        return None


def _zone(tenant: Tenant) -> ZoneInfo:
    try:
        return ZoneInfo(tenant.timezone or "Europe/Oslo")
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("tenant %s has an unknown time zone %r", tenant.slug, tenant.timezone)
        return ZoneInfo("Europe/Oslo")


def _periods(hours: dict[str, Any], local: datetime) -> list[tuple[str, str]] | None:
    """Today's periods; None when the tenant has no opening hours (always open)."""
    if not hours:
        return None
    dated = hours.get("dates") or {}
    raw = dated.get(local.date().isoformat()) if isinstance(dated, dict) else None
    if raw is None:
        raw = hours.get(DAYS[local.weekday()], [])
    periods = []
    for item in raw if isinstance(raw, list) else []:
        if (
            isinstance(item, list | tuple)
            and len(item) == 2
            and all(isinstance(x, str) and HHMM.match(x) for x in item)
            and item[0] < item[1]
        ):
            periods.append((item[0], item[1]))
        else:
            log.warning("ignoring malformed opening hours period %r", item)
    return periods


def is_open(tenant: Tenant, now: datetime) -> bool:
    local = now.astimezone(_zone(tenant))
    periods = _periods(tenant.opening_hours or {}, local)
    if periods is None:
        return True
    hhmm = local.strftime("%H:%M")
    return any(start <= hhmm < end for start, end in periods)


def today_text(tenant: Tenant, now: datetime) -> str:
    periods = _periods(tenant.opening_hours or {}, now.astimezone(_zone(tenant)))
    if periods is None:
        return ""
    return ", ".join(f"{a}–{b}" for a, b in periods)


def staff_online(tenant: Tenant, now: datetime, window_seconds: int) -> bool:
    since = now - timedelta(seconds=window_seconds)
    return (
        db.session.scalar(
            select(User.id)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.tenant_id == tenant.id,
                Membership.role.in_(ANSWERING_ROLES),
                User.is_enabled.is_(True),
                User.last_seen_at >= since,
            )
            .limit(1)
        )
        is not None
    )


def availability(tenant: Tenant, now: datetime, window_seconds: int) -> Availability:
    return Availability(
        open=is_open(tenant, now),
        staff_online=staff_online(tenant, now, window_seconds),
        today=today_text(tenant, now),
    )
