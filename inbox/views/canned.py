"""Admins manage their municipality's canned replies."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from inbox.extensions import db
from inbox.models import CannedReply, Role
from inbox.services import canned as svc
from inbox.services.access import admin_tenants, chosen_tenant_id, current, tenant_object

bp = Blueprint("canned", __name__, url_prefix="/admin/canned")

ERRORS = {
    "title": lambda: _("Give the canned reply a title (at most 120 characters)."),
    "body": lambda: _("Write the text of the canned reply."),
    "too_long": lambda: _("The text is too long."),
    "placeholder": lambda: _(
        "Only {citizen_name} and {caseworker_name} can be used as placeholders."
    ),
    "duplicate": lambda: _("There is already a canned reply with that title."),
}


@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    tenants = admin_tenants()
    tenant_id = chosen_tenant_id(tenants, request.args.get("tenant"))
    return render_template(
        "inbox/canned.html",
        tenants=tenants,
        tenant_id=tenant_id,
        items=svc.for_tenant(tenant_id),
        form={},
    )


@bp.post("/")
@login_required
def create():  # type: ignore[no-untyped-def]
    tenants = admin_tenants()
    tenant_id = chosen_tenant_id(tenants, request.form.get("tenant_id"))
    try:
        svc.create(
            tenant_id, current(), request.form.get("title", ""), request.form.get("body", "")
        )
    except svc.InvalidCanned as exc:
        db.session.rollback()
        flash(ERRORS[str(exc)](), "error")
        page = render_template(
            "inbox/canned.html",
            tenants=tenants,
            tenant_id=tenant_id,
            items=svc.for_tenant(tenant_id),
            form=request.form,
        )
        return page, 400
    db.session.commit()
    flash(_("Canned reply saved."), "success")
    return redirect(url_for(".index", tenant=tenant_id), 303)


@bp.route("/<int:canned_id>", methods=["GET", "POST"])
@login_required
def edit(canned_id: int):  # type: ignore[no-untyped-def]
    item = tenant_object(CannedReply, canned_id, Role.ADMIN)
    if request.method == "POST":
        title, body = request.form.get("title", ""), request.form.get("body", "")
        try:
            svc.update(item, current(), title, body)
        except svc.InvalidCanned as exc:
            db.session.rollback()
            flash(ERRORS[str(exc)](), "error")
            form = {"title": title, "body": body}
            return render_template("inbox/canned_edit.html", item=item, form=form), 400
        db.session.commit()
        flash(_("Canned reply saved."), "success")
        return redirect(url_for(".index", tenant=item.tenant_id), 303)
    form = {"title": item.title, "body": item.body}
    return render_template("inbox/canned_edit.html", item=item, form=form)


@bp.post("/<int:canned_id>/delete")
@login_required
def delete(canned_id: int):  # type: ignore[no-untyped-def]
    item = tenant_object(CannedReply, canned_id, Role.ADMIN)
    tenant_id = item.tenant_id
    svc.delete(item, current())
    db.session.commit()
    flash(_("Canned reply deleted."), "success")
    return redirect(url_for(".index", tenant=tenant_id), 303)
