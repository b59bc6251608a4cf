"""Records staff: the periods of the embedded journal, and closing the open one.

Closing is the step before a deposit (docs/archiving.md): the cases of the period become
Avsluttet, its journal entries Arkivert, each change logged with the officer's name."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from archiving.adapters.embedded_models import RecordsPeriod
from archiving.adapters.embedded_period import (
    PeriodError,
    close_period,
    closed_periods,
    next_number,
    open_entries,
    period_entries,
)
from inbox.extensions import db
from inbox.models import Role, Tenant
from inbox.services import audit
from inbox.services.access import current, require_role

bp = Blueprint("periods", __name__, url_prefix="/records/periods")

REVIEWERS = (Role.RECORDS_OFFICER, Role.ADMIN)


def _summary(tenant: Tenant) -> dict[str, Any]:
    entries = open_entries(tenant)
    closed = [(p, len(period_entries(p))) for p in reversed(closed_periods(tenant))]
    return {
        "tenant": tenant,
        "number": next_number(tenant),
        "entries": len(entries),
        "cases": len({e.case_id for e in entries}),
        "first": min((e.journaldato for e in entries), default=None),
        "last": max((e.journaldato for e in entries), default=None),
        "closed": closed,
    }


@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    ids = [m.tenant_id for m in current().active_memberships if m.role in REVIEWERS]
    if not ids:
        abort(403)
    tenants = db.session.scalars(
        select(Tenant)
        .where(Tenant.id.in_(ids), Tenant.records_adapter == "embedded")
        .order_by(Tenant.name)
    ).all()
    return render_template("archiving/periods.html", summaries=[_summary(t) for t in tenants])


@bp.post("/<int:tenant_id>/close")
@login_required
def close(tenant_id: int):  # type: ignore[no-untyped-def]
    user = require_role(tenant_id, Role.RECORDS_OFFICER)
    tenant = db.session.get(Tenant, tenant_id)
    if tenant is None or tenant.records_adapter != "embedded":
        abort(404)
    try:
        period: RecordsPeriod = close_period(tenant, user.name)
    except PeriodError:
        flash(_("The open period holds no journal entries; there is nothing to close."), "error")
        return redirect(url_for("periods.index"), code=303)
    count = len(period_entries(period))
    audit.record(
        "archive.close_period",
        period,
        tenant_id=tenant.id,
        actor=user,
        number=period.number,
        entries=count,
    )
    db.session.commit()
    flash(
        _(
            "Period %(num)d is closed: %(entries)d journal entries are Arkivert and their cases "
            "Avsluttet. It can now be exported as a deposit.",
            num=period.number,
            entries=count,
        ),
        "success",
    )
    return redirect(url_for("periods.index"), code=303)
