"""Closing a period of the embedded records system: the step before a deposit.

Records staff close the period (`servicetorg close-period`, or `export-records --close-period`,
or the button on the records pages): every case in it becomes Avsluttet, every journal entry
Arkivert, and the period itself (the arkivdel) Avsluttet periode. Each of these changes is
written to the change log (records_change) as it is made, with who made it; endringslogg.xml
in the deposit is that log, nothing else. A closed case takes no new entries.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from archiving import noark
from archiving.adapters.embedded_models import (
    RecordsCase,
    RecordsChange,
    RecordsEntry,
    RecordsPeriod,
)
from inbox.extensions import db
from inbox.models import Tenant
from inbox.models.base import utcnow

ID_NS = uuid.UUID("0b6c2f55-9d3a-5a57-8c1e-6d2e1f4a7c10")
# Status names as the change log writes them: archiving.noark, shared with every adapter.
JOURNALSTATUS = noark.JOURNALSTATUS
SAKSSTATUS = noark.SAKSSTATUS
OPEN, CLOSED = "Aktiv periode", "Avsluttet periode"


class PeriodError(RuntimeError):
    pass


def period_system_id(tenant: Tenant, number: int) -> str:
    """The arkivdel's systemID: the same while the period is open and after it is closed."""
    return str(uuid.uuid5(ID_NS, f"{tenant.slug}/arkivdel/{number}"))


def closed_periods(tenant: Tenant) -> list[RecordsPeriod]:
    return list(
        db.session.scalars(
            select(RecordsPeriod)
            .where(RecordsPeriod.tenant_id == tenant.id)
            .order_by(RecordsPeriod.number)
        )
    )


def open_entries(tenant: Tenant) -> list[RecordsEntry]:
    return _entries(tenant, RecordsEntry.period_id.is_(None))


def period_entries(period: RecordsPeriod) -> list[RecordsEntry]:
    return _entries(period.tenant_id, RecordsEntry.period_id == period.id)


def _entries(tenant: Tenant | int, where) -> list[RecordsEntry]:  # type: ignore[no-untyped-def]
    tenant_id = tenant if isinstance(tenant, int) else tenant.id
    return list(
        db.session.scalars(
            select(RecordsEntry)
            .where(RecordsEntry.tenant_id == tenant_id, where)
            .order_by(RecordsEntry.journalaar, RecordsEntry.journalsekvensnummer)
        )
    )


def next_number(tenant: Tenant) -> int:
    last = db.session.scalar(
        select(func.max(RecordsPeriod.number)).where(RecordsPeriod.tenant_id == tenant.id)
    )
    return (last or 0) + 1


def log_change(tenant: Tenant, ref: str, field: str, before: str, after: str, by: str) -> None:
    db.session.add(
        RecordsChange(
            tenant_id=tenant.id,
            referanse_arkivenhet=ref,
            referanse_metadata=field,
            endret_dato=utcnow(),
            endret_av=by,
            tidligere_verdi=before,
            ny_verdi=after,
        )
    )


def close_period(tenant: Tenant, by: str) -> RecordsPeriod:
    """Close the tenant's open period: its cases Avsluttet, its entries Arkivert, the arkivdel
    Avsluttet periode, each change logged. Flushes; the caller commits."""
    if not by.strip():
        raise PeriodError("say who closes the period")
    # One closing at a time per municipality (a row lock on PostgreSQL).
    db.session.scalar(select(Tenant).where(Tenant.id == tenant.id).with_for_update())
    entries = open_entries(tenant)
    if not entries:
        raise PeriodError(f"the open period of {tenant.slug} holds no journal entries")
    number = next_number(tenant)
    previous = closed_periods(tenant)
    cases = sorted({e.case_id: e.case for e in entries}.values(), key=lambda c: c.id)
    now = utcnow()
    period = RecordsPeriod(
        tenant_id=tenant.id,
        number=number,
        system_id=period_system_id(tenant, number),
        opened_at=previous[-1].closed_at if previous else min(c.created_at for c in cases),
        closed_at=now,
        closed_by=by,
    )
    db.session.add(period)
    db.session.flush()
    for entry in entries:
        if entry.journalstatus not in ("A", "U"):
            before = JOURNALSTATUS.get(entry.journalstatus, entry.journalstatus)
            entry.journalstatus = "A"
            log_change(tenant, entry.system_id, "journalstatus", before, JOURNALSTATUS["A"], by)
        entry.period_id = period.id
    for case in cases:
        if case.saksstatus not in ("A", "U"):
            before = SAKSSTATUS.get(case.saksstatus, case.saksstatus)
            case.saksstatus, case.closed_at, case.closed_by = "A", now, by
            log_change(tenant, case.system_id, "saksstatus", before, SAKSSTATUS["A"], by)
    log_change(tenant, period.system_id, "arkivdelstatus", OPEN, CLOSED, by)
    db.session.flush()
    return period


def case_is_closed(case: RecordsCase) -> bool:
    return case.saksstatus in ("A", "U")
