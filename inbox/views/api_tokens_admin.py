"""Admins create and revoke their municipality's API tokens (docs/api.md). A new token is
shown once, on the answer to the form that made it: never in a redirect, a flash message (the
session cookie is signed, not encrypted) or a log."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from inbox.extensions import db
from inbox.models import ApiScope, ApiToken, Role, Tenant
from inbox.services import api_tokens
from inbox.services.access import admin_tenants, chosen_tenant_id, require_role

bp = Blueprint("api_tokens_admin", __name__, url_prefix="/admin/api-tokens")

ERRORS = {
    "name": lambda: _("Give the token a name (what uses it, for example the chatbot)."),
    "name_long": lambda: _("The name can be at most 80 characters."),
    "scopes": lambda: _("Choose at least one permission."),
}


def scope_labels() -> dict[str, str]:
    return {
        ApiScope.READ.value: _("Read conversations"),
        ApiScope.WRITE.value: _(
            "Work on conversations (reply, note, status, assign, tag, flag for the archive)"
        ),
        ApiScope.HANDOVER.value: _("Hand over conversations (a chatbot passing a citizen on)"),
    }


def _page(  # type: ignore[no-untyped-def]
    tenant: Tenant, *, new_token: str | None = None, form: Any = None, status: int = 200
):
    page = render_template(
        "admin/api_tokens.html",
        tenant=tenant,
        tenants=admin_tenants(),
        tokens=api_tokens.for_tenant(tenant.id),
        labels=scope_labels(),
        new_token=new_token,
        form=form or {},
        checked=form.getlist("scopes") if form is not None else [],
    )
    return page, status, {"Cache-Control": "no-store"}


@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    tenant_id = chosen_tenant_id(admin_tenants(), request.args.get("tenant"))
    require_role(tenant_id, Role.ADMIN)
    return _page(db.session.get(Tenant, tenant_id))


@bp.post("/<int:tenant_id>")
@login_required
def create(tenant_id: int):  # type: ignore[no-untyped-def]
    actor = require_role(tenant_id, Role.ADMIN)
    tenant = db.session.get(Tenant, tenant_id)
    try:
        _row, token = api_tokens.create(
            tenant_id, request.form.get("name", ""), request.form.getlist("scopes"), actor
        )
    except api_tokens.TokenError as exc:
        db.session.rollback()
        flash(ERRORS[str(exc)](), "error")
        return _page(tenant, form=request.form, status=400)
    db.session.commit()
    return _page(tenant, new_token=token)


@bp.post("/<int:tenant_id>/<int:token_id>/revoke")
@login_required
def revoke(tenant_id: int, token_id: int):  # type: ignore[no-untyped-def]
    actor = require_role(tenant_id, Role.ADMIN)
    row = db.session.get(ApiToken, token_id)
    if row is None or row.tenant_id != tenant_id:
        abort(404)
    api_tokens.revoke(row, actor)
    db.session.commit()
    flash(_("The token is revoked. Requests with it are refused from now on."), "success")
    return redirect(url_for(".index", tenant=tenant_id), 303)
