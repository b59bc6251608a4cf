"""Regional administration: the municipalities of this installation, created, deactivated
and given their admins by a regional administrator (User.is_regional_admin)."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_required

from inbox.extensions import db
from inbox.models import Tenant, User
from inbox.services import tenants as svc
from inbox.services.access import current
from inbox.services.staff import StaffError

bp = Blueprint("region", __name__, url_prefix="/admin/region")


def errors() -> dict[str, str]:
    return {
        "slug": _("The short name must be 1–64 lower-case letters (a–z), digits or hyphens."),
        "slug_taken": _("Another municipality already has that short name."),
        "name": _("Give the municipality's name (at most 200 characters)."),
        "locale": _("Choose one of the languages."),
        "email": _("Give a valid e-mail address (at most 254 characters)."),
        "admin_name": _("Give the admin's name (at most 200 characters)."),
    }


def regional_admin() -> User:
    user = current()
    if not user.is_regional_admin:
        abort(403)
    return user


def _tenant(tenant_id: int) -> Tenant:
    tenant = db.session.get(Tenant, tenant_id)
    if tenant is None:
        abort(404)
    return tenant


def _page(form: dict[str, str] | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    rows = [(t, svc.admins_of(t.id)) for t in svc.all_tenants()]
    return render_template("admin/setup/region.html", rows=rows, form=form or {}), status


@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    regional_admin()
    return _page()


@bp.post("/tenants")
@login_required
def create():  # type: ignore[no-untyped-def]
    actor = regional_admin()
    f = request.form
    try:
        created = svc.create_tenant(
            f.get("slug", ""),
            f.get("name", ""),
            f.get("locale", ""),
            f.get("admin_email", ""),
            f.get("admin_name", ""),
            actor=actor,
        )
    except (svc.TenantError, StaffError) as exc:
        db.session.rollback()
        code = str(exc)
        flash(errors().get(code, code), "error")
        return _page(dict(f), 400)
    db.session.commit()
    return _created_page(created.tenant, created.user, created.password)


def _created_page(tenant: Tenant, user: User, password: str | None):  # type: ignore[no-untyped-def]
    resp = make_response(
        render_template("admin/setup/appointed.html", tenant=tenant, user=user, password=password)
    )
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/tenants/<int:tenant_id>/admins")
@login_required
def appoint(tenant_id: int):  # type: ignore[no-untyped-def]
    actor = regional_admin()
    tenant = _tenant(tenant_id)
    try:
        user, password = svc.appoint_admin(
            tenant, request.form.get("email", ""), request.form.get("name", ""), actor=actor
        )
    except StaffError as exc:
        db.session.rollback()
        flash(errors().get(str(exc), errors()["admin_name"]), "error")
        return _page(status=400)
    db.session.commit()
    return _created_page(tenant, user, password)


@bp.post("/tenants/<int:tenant_id>/deactivate")
@login_required
def deactivate(tenant_id: int):  # type: ignore[no-untyped-def]
    actor = regional_admin()
    tenant = _tenant(tenant_id)
    svc.set_active(tenant, False, actor=actor)
    db.session.commit()
    flash(
        _(
            "%(name)s is out of service: its staff cannot sign in and its channels accept "
            "nothing. Its data is kept.",
            name=tenant.name,
        ),
        "success",
    )
    return redirect(url_for(".index"), 303)


@bp.post("/tenants/<int:tenant_id>/reactivate")
@login_required
def reactivate(tenant_id: int):  # type: ignore[no-untyped-def]
    actor = regional_admin()
    tenant = _tenant(tenant_id)
    svc.set_active(tenant, True, actor=actor)
    db.session.commit()
    flash(_("%(name)s is in service again.", name=tenant.name), "success")
    return redirect(url_for(".index"), 303)
