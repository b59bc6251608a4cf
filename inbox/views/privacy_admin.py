"""Admins set their municipality's retention and who may reveal identity numbers, and see
what the next retention run would remove before they switch it on."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import AuditEntry, Role, Tenant
from inbox.services import audit, retention
from inbox.services.access import admin_tenants, chosen_tenant_id, require_role

bp = Blueprint("privacy_admin", __name__, url_prefix="/admin/privacy")

FIELD_ERRORS = {
    "closed_days": lambda: _("Give the days for closed conversations (1–36500)."),
    "open_days": lambda: _(
        "Give the days for conversations left open (1–36500), or leave it empty."
    ),
    "contact_days": lambda: _("Give the days for contacts (1–36500), or leave it empty."),
    "attachment_days": lambda: _("Give the days for attachments (1–36500), or leave it empty."),
    "mode": lambda: _("Choose delete or anonymise."),
}


def category_labels() -> dict[str, str]:
    return {
        "closed": _("Closed conversations"),
        "open": _("Conversations left open without activity"),
        "contacts": _("Contacts with no conversations left"),
        "attachments": _("Attachments"),
    }


def _page(tenant: Tenant, settings: retention.Settings, form: dict[str, Any], trial: bool) -> str:
    runs = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.tenant_id == tenant.id, AuditEntry.action == "retention.run")
        .order_by(AuditEntry.id.desc())
        .limit(10)
    ).all()
    return render_template(
        "admin/privacy.html",
        tenant=tenant,
        tenants=admin_tenants(),
        settings=settings,
        form=form,
        trial=trial,
        preview=retention.preview(tenant, settings),
        labels=category_labels(),
        runs=runs,
        reveal_checked=(
            form.get("caseworkers_may_reveal") == "on" if trial else tenant.caseworkers_may_reveal
        ),
    )


@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    tenant_id = chosen_tenant_id(admin_tenants(), request.args.get("tenant"))
    require_role(tenant_id, Role.ADMIN)
    tenant = db.session.get(Tenant, tenant_id)
    return _page(tenant, retention.Settings.of(tenant), {}, trial=False)


@bp.post("/<int:tenant_id>")
@login_required
def save(tenant_id: int):  # type: ignore[no-untyped-def]
    """ "Preview" shows what these settings would remove, without saving; "Save" stores them."""
    actor = require_role(tenant_id, Role.ADMIN)
    tenant = db.session.get(Tenant, tenant_id)
    form = request.form
    try:
        settings = retention.parse(form)
    except retention.InvalidSettings as exc:
        flash(FIELD_ERRORS[str(exc)](), "error")
        return _page(tenant, retention.Settings.of(tenant), form, trial=True), 400
    if form.get("action") != "save":
        return _page(tenant, settings, form, trial=True)
    before = retention.Settings.of(tenant).__dict__
    settings.store(tenant)
    tenant.caseworkers_may_reveal = form.get("caseworkers_may_reveal") == "on"
    audit.record(
        "privacy.settings",
        tenant,
        tenant_id=tenant.id,
        actor=actor,
        before=before,
        after=settings.__dict__,
        caseworkers_may_reveal=tenant.caseworkers_may_reveal,
    )
    db.session.commit()
    flash(_("Privacy settings saved."), "success")
    return redirect(url_for(".index", tenant=tenant.id), 303)
