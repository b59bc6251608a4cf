"""The audit log of a municipality, for its admins: filtered by who, what and when, and
exported as CSV. Regional administrators also see the installation-wide entries (the
municipalities created and deactivated, regional rights granted)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, time, timedelta
from typing import Any

from flask import Blueprint, Response, render_template, request
from flask_login import login_required
from sqlalchemy import or_, select

from inbox.extensions import db
from inbox.models import AuditEntry, User
from inbox.views.setup import municipal_admin

bp = Blueprint("auditlog", __name__, url_prefix="/admin/municipality")
PAGE_SIZE = 100
MAX_EXPORT = 50_000


def _date(raw: str | None) -> datetime | None:
    try:
        return datetime.strptime((raw or "").strip(), "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None


def _query(tenant_id: int, regional: bool, args: Any) -> tuple[Any, dict[str, str], list[str]]:
    q = select(AuditEntry, User).outerjoin(User, User.id == AuditEntry.actor_id)
    if regional:
        q = q.where(or_(AuditEntry.tenant_id == tenant_id, AuditEntry.tenant_id.is_(None)))
    else:
        q = q.where(AuditEntry.tenant_id == tenant_id)
    shown: dict[str, str] = {}
    problems: list[str] = []
    who = (args.get("who") or "").strip()[:200]
    if who:
        like = f"%{who.lower()}%"
        from sqlalchemy import func

        q = q.where(
            or_(
                func.lower(User.email).like(like),
                func.lower(User.name).like(like),
                func.lower(AuditEntry.actor_label).like(like),
            )
        )
        shown["who"] = who
    what = (args.get("what") or "").strip()[:64]
    if what:
        q = q.where(AuditEntry.action.like(f"{what}%"))
        shown["what"] = what
    start, end = _date(args.get("from")), _date(args.get("to"))
    if args.get("from") and start is None:
        problems.append("from")
    if args.get("to") and end is None:
        problems.append("to")
    if start is not None:
        q = q.where(AuditEntry.created_at >= start)
        shown["from"] = args.get("from", "")
    if end is not None:
        q = q.where(
            AuditEntry.created_at < datetime.combine(end.date(), time(), UTC) + timedelta(days=1)
        )
        shown["to"] = args.get("to", "")
    return q.order_by(AuditEntry.id.desc()), shown, problems


def _actions(tenant_id: int) -> list[str]:
    return list(
        db.session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.tenant_id == tenant_id)
            .distinct()
            .order_by(AuditEntry.action)
        )
    )


@bp.get("/<int:tenant_id>/audit")
@login_required
def index(tenant_id: int):  # type: ignore[no-untyped-def]
    tenant, actor = municipal_admin(tenant_id)
    q, shown, problems = _query(tenant.id, actor.is_regional_admin, request.args)
    page = request.args.get("page", "1")
    page_no = int(page) if page.isdigit() and 0 < len(page) < 6 else 1
    rows = db.session.execute(q.limit(PAGE_SIZE + 1).offset((page_no - 1) * PAGE_SIZE)).all()
    return render_template(
        "admin/setup/audit.html",
        tenant=tenant,
        rows=rows[:PAGE_SIZE],
        more=len(rows) > PAGE_SIZE,
        page=page_no,
        shown=shown,
        problems=problems,
        actions=_actions(tenant.id),
    ), (400 if problems else 200)


def _who(entry: AuditEntry, user: User | None) -> str:
    return f"{user.name} <{user.email}>" if user is not None else entry.actor_label


def _cell(value: str) -> str:
    """No spreadsheet formulas from log data (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@bp.get("/<int:tenant_id>/audit.csv")
@login_required
def export(tenant_id: int):  # type: ignore[no-untyped-def]
    import json

    tenant, actor = municipal_admin(tenant_id)
    q, _shown, _problems = _query(tenant.id, actor.is_regional_admin, request.args)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "time_utc", "who", "action", "object_type", "object_id", "details"])
    for entry, user in db.session.execute(q.limit(MAX_EXPORT)):
        writer.writerow(
            [
                entry.id,
                entry.created_at.isoformat(),
                _cell(_who(entry, user)),
                entry.action,
                entry.object_type,
                entry.object_id,
                _cell(json.dumps(entry.data or {}, ensure_ascii=False, sort_keys=True)),
            ]
        )
    name = f"audit-{tenant.slug}-{datetime.now(UTC):%Y%m%d}.csv"
    return Response(
        "\ufeff" + out.getvalue(),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
