"""Records staff: review flagged items, preview what will be archived, approve or return it,
and see what was journalled, what failed and what is waiting for a records system."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import login_required
from sqlalchemy import select

from archiving import journal, render, triage
from archiving.interfaces import Document
from archiving.models import ArchiveItem, ArchiveState, JournalReceipt
from inbox.extensions import db
from inbox.models import Role, Tenant
from inbox.services.access import current, require_role

bp = Blueprint("records", __name__, url_prefix="/records")

REVIEWERS = (Role.RECORDS_OFFICER, Role.ADMIN)
LIMIT = 200


def _tenant_ids() -> list[int]:
    ids = [m.tenant_id for m in current().active_memberships if m.role in REVIEWERS]
    if not ids:
        abort(403)
    return ids


def _item(item_id: int) -> tuple[ArchiveItem, Any]:
    """The item and the records officer acting on it: 404 for another tenant's, 403 for
    a caseworker."""
    item = db.session.get(ArchiveItem, item_id)
    if item is None or current().role_in(item.tenant_id) is None:
        abort(404)
    return item, require_role(item.tenant_id, Role.RECORDS_OFFICER)


def _items(tenant_ids: list[int], *states: ArchiveState) -> list[ArchiveItem]:
    return list(
        db.session.scalars(
            select(ArchiveItem)
            .where(ArchiveItem.tenant_id.in_(tenant_ids), ArchiveItem.state.in_(states))
            .order_by(ArchiveItem.id)
            .limit(LIMIT)
        ).all()
    )


@bp.get("/")
@login_required
def review():  # type: ignore[no-untyped-def]
    tenant_ids = _tenant_ids()
    in_progress = _items(tenant_ids, ArchiveState.APPROVED, ArchiveState.JOURNALLING)
    return render_template(
        "archiving/review.html",
        pending=_items(tenant_ids, ArchiveState.FLAGGED),
        waiting=[i for i in in_progress if i.last_error],
        queued=[i for i in in_progress if not i.last_error],
        failed=_items(tenant_ids, ArchiveState.FAILED),
        returned=_items(tenant_ids, ArchiveState.RETURNED),
    )


@bp.get("/journalled")
@login_required
def journalled():  # type: ignore[no-untyped-def]
    receipts = db.session.scalars(
        select(JournalReceipt)
        .where(JournalReceipt.tenant_id.in_(_tenant_ids()))
        .order_by(JournalReceipt.journal_date.desc(), JournalReceipt.id.desc())
        .limit(LIMIT)
    ).all()
    items = {
        i.id: i
        for i in db.session.scalars(
            select(ArchiveItem).where(ArchiveItem.id.in_({r.archive_item_id for r in receipts}))
        )
    }
    return render_template("archiving/journalled.html", receipts=receipts, items=items)


def _parts(item: ArchiveItem) -> list[tuple[str, list[Any], list[Document]]]:
    """Each journal entry the item becomes, with the exact documents that will be archived."""
    tenant = db.session.get(Tenant, item.tenant_id)
    return [
        (jpt, messages, render.render_documents(item, tenant, messages))
        for jpt, messages in journal.parts(item)
    ]


@bp.get("/items/<int:item_id>")
@login_required
def item(item_id: int):  # type: ignore[no-untyped-def]
    archive_item, _user = _item(item_id)
    return render_template(
        "archiving/item.html",
        item=archive_item,
        parts=_parts(archive_item),
        details=_details_of(archive_item),
        editable=archive_item.state in (ArchiveState.FLAGGED, ArchiveState.FAILED),
    )


@bp.get("/items/<int:item_id>/documents/<int:part>/<int:index>")
@login_required
def document(item_id: int, part: int, index: int):  # type: ignore[no-untyped-def]
    archive_item, _user = _item(item_id)
    runs = journal.parts(archive_item)
    if part >= len(runs):
        abort(404)
    tenant = db.session.get(Tenant, archive_item.tenant_id)
    documents = render.render_documents(archive_item, tenant, runs[part][1])
    if index >= len(documents):
        abort(404)
    doc = documents[index]
    disposition = "attachment" if request.args.get("download") else "inline"
    return Response(
        doc.data,
        mimetype=doc.mime_type,
        headers={
            "Content-Disposition": f'{disposition}; filename="{doc.filename}"',
            "X-Content-SHA256": doc.sha256,
            "Cache-Control": "no-store",
        },
    )


def _details_of(item: ArchiveItem) -> triage.FlagDetails:
    return triage.FlagDetails(
        case_number=item.case_number or "",
        new_case_title=item.new_case_title or "",
        title=item.title,
        correspondent_name=item.correspondent_name or "",
        correspondent_address=item.correspondent_address or "",
        anonymous=item.anonymous,
        screening_code=item.screening_code or "",
        screening_basis=item.screening_basis or "",
        screening_fields=item.screening_fields or "",
        note=item.note_to_records or "",
        types={m.message_id: m.journalposttype for m in item.messages},
    )


def _act(item_id: int, action, done: str, back_to_item: bool = True):  # type: ignore[no-untyped-def]
    archive_item, user = _item(item_id)
    target = url_for(".item", item_id=item_id) if back_to_item else url_for(".review")
    try:
        action(archive_item, user)
    except triage.TriageError as exc:
        db.session.rollback()
        flash(exc.user_message(), "error")
        return redirect(url_for(".item", item_id=item_id), 303)
    db.session.commit()
    flash(done, "success")
    return redirect(target, 303)


@bp.post("/items/<int:item_id>/edit")
@login_required
def edit(item_id: int):  # type: ignore[no-untyped-def]
    details = triage.FlagDetails.from_form(request.form)
    return _act(item_id, lambda i, u: triage.update_metadata(i, u, details), _("Metadata saved."))


@bp.post("/items/<int:item_id>/approve")
@login_required
def approve(item_id: int):  # type: ignore[no-untyped-def]
    return _act(
        item_id,
        triage.approve,
        _("Approved. The entry will be journalled shortly."),
        back_to_item=False,
    )


@bp.post("/items/<int:item_id>/return")
@login_required
def return_item(item_id: int):  # type: ignore[no-untyped-def]
    comment = request.form.get("comment", "")
    return _act(
        item_id,
        lambda i, u: triage.return_to_caseworker(i, u, comment),
        _("Returned to the caseworker."),
        back_to_item=False,
    )


@bp.post("/items/<int:item_id>/retry")
@login_required
def retry(item_id: int):  # type: ignore[no-untyped-def]
    return _act(item_id, triage.retry, _("It will be tried again shortly."), back_to_item=False)


@bp.post("/approve")
@login_required
def approve_many():  # type: ignore[no-untyped-def]
    """Approve the chosen items; each is checked against the officer's role in its tenant."""
    user = current()
    _tenant_ids()  # 403 for someone who reviews nowhere
    try:
        ids = {int(v) for v in request.form.getlist("item_ids")}
    except ValueError:
        abort(400)
    approved = 0
    for archive_item in db.session.scalars(select(ArchiveItem).where(ArchiveItem.id.in_(ids))):
        if user.role_in(archive_item.tenant_id) not in REVIEWERS:
            continue  # another tenant's item: counted as not approved, never revealed
        try:
            triage.approve(archive_item, user)
            approved += 1
        except triage.TriageError:
            pass
    skipped = len(ids) - approved
    db.session.commit()
    if approved:
        flash(ngettext("%(num)d item approved.", "%(num)d items approved.", approved), "success")
    if skipped or not ids:
        flash(
            ngettext(
                "%(num)d item could not be approved.",
                "%(num)d items could not be approved.",
                skipped,
            )
            if ids
            else _("Choose the items to approve."),
            "error",
        )
    return redirect(url_for(".review"), 303)
