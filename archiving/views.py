"""Records staff: review flagged items and see what was journalled."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from archiving import triage
from archiving.models import ArchiveItem, ArchiveState
from inbox.extensions import db
from inbox.models import Role
from inbox.services.access import current, require_role

bp = Blueprint("records", __name__, url_prefix="/records")


@bp.get("/")
@login_required
def review():  # type: ignore[no-untyped-def]
    user = current()
    tenant_ids = [
        m.tenant_id for m in user.memberships if m.role in (Role.RECORDS_OFFICER, Role.ADMIN)
    ]
    if not tenant_ids:
        abort(403)
    items = db.session.scalars(
        select(ArchiveItem)
        .where(ArchiveItem.tenant_id.in_(tenant_ids))
        .order_by(ArchiveItem.id.desc())
        .limit(100)
    ).all()
    pending = [i for i in items if i.state is ArchiveState.FLAGGED]
    others = [i for i in items if i.state is not ArchiveState.FLAGGED]
    return render_template("archiving/review.html", pending=pending, others=others)


@bp.post("/items/<int:item_id>/approve")
@login_required
def approve(item_id: int):  # type: ignore[no-untyped-def]
    item = db.session.get(ArchiveItem, item_id)
    if item is None or current().role_in(item.tenant_id) is None:
        abort(404)
    user = require_role(item.tenant_id, Role.RECORDS_OFFICER)
    try:
        triage.approve(item, user)
    except triage.TriageError as exc:
        db.session.rollback()
        flash(exc.user_message(), "error")
        return redirect(url_for(".review"), 303)
    db.session.commit()
    flash(_("Approved. The entry will be journalled shortly."), "success")
    return redirect(url_for(".review"), 303)
