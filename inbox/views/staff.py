"""Admins manage their municipality's staff (roles, lock-outs, accounts) and teams."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
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
from inbox.models import Role, Team, Tenant, User
from inbox.models.base import utcnow
from inbox.services import staff as svc
from inbox.services.access import admin_tenants, chosen_tenant_id, require_role

bp = Blueprint("staff", __name__, url_prefix="/admin/staff")

ERRORS = {
    "email": lambda: _("Give a valid e-mail address (at most 254 characters)."),
    "name": lambda: _("Give the person's name (at most 200 characters)."),
    "role": lambda: _("Choose one of the roles."),
    "already_member": lambda: _("That person already works for this municipality."),
    "last_admin": lambda: _(
        "The municipality must keep at least one admin. Make someone else an admin first."
    ),
    "self": lambda: _(
        "You cannot disable your own account or reset your own password here. "
        "Use “Change password” for your own password."
    ),
    "other_tenants": lambda: _(
        "This person also works for municipalities where you are not an admin. Only an "
        "admin of all of them can disable the account or reset its password."
    ),
    "team_name": lambda: _("Give the team a name (at most 120 characters)."),
    "team_duplicate": lambda: _("There is already a team with that name."),
    "already_in_team": lambda: _("That person is already in the team."),
    "choose_person": lambda: _("Choose a person."),
    "sso_account": lambda: _(
        "This account signs in with single sign-on and has no password to reset."
    ),
}
NOT_FOUND = {"not_member", "not_in_team"}


def role_labels() -> dict[Role, str]:
    return {
        Role.CASEWORKER: _("Caseworker"),
        Role.RECORDS_OFFICER: _("Records officer"),
        Role.ADMIN: _("Admin"),
    }


def _admin(tenant_id: int) -> tuple[Tenant, User]:
    """The tenant and the acting admin: 404 for non-members, 403 for other roles."""
    actor = require_role(tenant_id, Role.ADMIN)
    return db.session.get(Tenant, tenant_id), actor


def _person(tenant_id: int, user_id: int) -> svc.Person:
    found = svc.person(tenant_id, user_id)
    if found is None:
        abort(404)
    return found


def _team(tenant_id: int, team_id: int) -> Team:
    team = svc.team_in(tenant_id, team_id)
    if team is None:
        abort(404)
    return team


def _refused(exc: svc.StaffError) -> int:
    """Undo the attempt and say why; the status to answer with."""
    db.session.rollback()
    code = str(exc)
    if code in NOT_FOUND:
        abort(404)
    flash(ERRORS[code](), "error")
    return 403 if isinstance(exc, svc.NotAllowed) else 400


def _index_page(tenant: Tenant, tenants: list[Tenant], form: Any) -> str:
    return render_template(
        "admin/staff.html",
        tenant=tenant,
        tenants=tenants,
        people=svc.people(tenant.id),
        teams=svc.teams(tenant.id),
        roles=role_labels(),
        now=utcnow(),
        form=form,
    )


def _temporary_password_page(
    tenant: Tenant, user: User, password: str, orphaned: bool = False
) -> Response:
    """The temporary password, shown this once: never stored in clear, never cached."""
    resp = make_response(
        render_template(
            "admin/temporary_password.html",
            tenant=tenant,
            user=user,
            password=password,
            orphaned=orphaned,
        )
    )
    resp.headers["Cache-Control"] = "no-store"
    return resp


# -- the staff list and people ----------------------------------------------------------------


@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    tenants = admin_tenants()
    tenant, _actor = _admin(chosen_tenant_id(tenants, request.args.get("tenant")))
    return _index_page(tenant, tenants, {})


@bp.post("/<int:tenant_id>/people")
@login_required
def add_person(tenant_id: int):  # type: ignore[no-untyped-def]
    tenant, actor = _admin(tenant_id)
    form = request.form
    try:
        added = svc.add_person(
            tenant_id,
            actor,
            form.get("email", ""),
            form.get("name", ""),
            form.get("role", ""),
            confirmed=_confirmed_tenants(form),
        )
    except svc.NeedsConfirmation as exc:
        return _confirm_existing_page(tenant, form, exc)
    except svc.StaffError as exc:
        status = _refused(exc)
        return _index_page(tenant, admin_tenants(), form), status
    db.session.commit()
    user = added.user
    if added.password is not None:
        return _temporary_password_page(tenant, user, added.password, orphaned=added.orphaned)
    flash(
        _(
            "%(email)s already had an account. The person now also works for %(tenant)s and "
            "keeps their name and password.",
            email=user.email,
            tenant=tenant.name,
        ),
        "success",
    )
    return redirect(url_for(".person", tenant_id=tenant_id, user_id=user.id), 303)


def _confirmed_tenants(form: Any) -> set[int]:
    """The municipalities the admin was shown and confirmed adding the account despite."""
    if form.get("confirm_existing") != "yes":
        return set()
    raw = form.getlist("shown_tenant")
    return {int(v) for v in raw if v.isdigit() and len(v) <= 18}


def _confirm_existing_page(tenant: Tenant, form: Any, exc: svc.NeedsConfirmation) -> Any:
    """The account belongs to municipalities where the admin is not an admin: say which, and
    ask for an explicit confirmation. Nothing is stored. A confirmation that does not cover
    them (not ticked, or the account joined another municipality since) is asked again."""
    user = exc.user
    again = bool(form.get("confirming"))
    if again:
        flash(
            _("Check the municipalities listed below and tick the box to confirm, or cancel."),
            "error",
        )
    page = render_template(
        "admin/confirm_existing.html",
        tenant=tenant,
        account={
            "email": user.email,
            "name": user.name,
            "temporary": user.must_change_password,
            "enabled": user.is_enabled,
        },
        others=[(t.id, t.name) for t in exc.tenants],
        form=form,
        role_label=role_labels().get(Role(form.get("role", ""))),
    )
    db.session.rollback()
    return page, 400 if again else 200


def _person_page(tenant: Tenant, actor: User, found: svc.Person) -> str:
    return render_template(
        "admin/person.html",
        tenant=tenant,
        person=found,
        user=found.user,
        roles=role_labels(),
        now=utcnow(),
        is_self=found.user.id == actor.id,
        manageable=svc.may_manage_account(actor, found.user),
        other_tenants=svc.other_tenants(found.user, tenant.id),
    )


@bp.get("/<int:tenant_id>/people/<int:user_id>")
@login_required
def person(tenant_id: int, user_id: int):  # type: ignore[no-untyped-def]
    tenant, actor = _admin(tenant_id)
    return _person_page(tenant, actor, _person(tenant_id, user_id))


def _person_action(tenant_id: int, user_id: int, action, done: str):  # type: ignore[no-untyped-def]
    """Run `action(tenant_id, actor, user)`; back to the person's page with `done` or the
    reason it was refused."""
    tenant, actor = _admin(tenant_id)
    found = _person(tenant_id, user_id)
    try:
        action(tenant_id, actor, found.user)
    except svc.StaffError as exc:
        status = _refused(exc)
        return _person_page(tenant, actor, _person(tenant_id, user_id)), status
    db.session.commit()
    flash(done, "success")
    if actor.role_in(tenant_id) is not Role.ADMIN:  # demoted or removed themselves
        return redirect(url_for("queue.index"), 303)
    if svc.person(tenant_id, user_id) is None:
        return redirect(url_for(".index", tenant=tenant_id), 303)
    return redirect(url_for(".person", tenant_id=tenant_id, user_id=user_id), 303)


@bp.post("/<int:tenant_id>/people/<int:user_id>/role")
@login_required
def change_role(tenant_id: int, user_id: int):  # type: ignore[no-untyped-def]
    role = request.form.get("role", "")
    return _person_action(
        tenant_id,
        user_id,
        lambda t, actor, user: svc.change_role(t, actor, user, role),
        _("The role has been changed."),
    )


@bp.post("/<int:tenant_id>/people/<int:user_id>/remove")
@login_required
def remove_person(tenant_id: int, user_id: int):  # type: ignore[no-untyped-def]
    if not _confirmed():
        _admin(tenant_id)
        _person(tenant_id, user_id)
        flash(_("Nothing was changed: tick the box to confirm first."), "error")
        return redirect(url_for(".person", tenant_id=tenant_id, user_id=user_id), 303)
    return _person_action(
        tenant_id,
        user_id,
        svc.remove_person,
        _("The person no longer works for this municipality."),
    )


@bp.post("/<int:tenant_id>/people/<int:user_id>/unlock")
@login_required
def unlock(tenant_id: int, user_id: int):  # type: ignore[no-untyped-def]
    return _person_action(tenant_id, user_id, svc.unlock, _("The account is unlocked."))


@bp.post("/<int:tenant_id>/people/<int:user_id>/disable")
@login_required
def disable(tenant_id: int, user_id: int):  # type: ignore[no-untyped-def]
    return _person_action(
        tenant_id,
        user_id,
        lambda t, actor, user: svc.set_enabled(t, actor, user, False),
        _("The account is disabled. The person can no longer sign in."),
    )


@bp.post("/<int:tenant_id>/people/<int:user_id>/enable")
@login_required
def enable(tenant_id: int, user_id: int):  # type: ignore[no-untyped-def]
    return _person_action(
        tenant_id,
        user_id,
        lambda t, actor, user: svc.set_enabled(t, actor, user, True),
        _("The account is enabled again."),
    )


@bp.post("/<int:tenant_id>/people/<int:user_id>/password")
@login_required
def reset_password(tenant_id: int, user_id: int):  # type: ignore[no-untyped-def]
    tenant, actor = _admin(tenant_id)
    found = _person(tenant_id, user_id)
    try:
        password = svc.reset_password(tenant_id, actor, found.user)
    except svc.StaffError as exc:
        status = _refused(exc)
        return _person_page(tenant, actor, _person(tenant_id, user_id)), status
    db.session.commit()
    return _temporary_password_page(tenant, found.user, password)


# -- teams ------------------------------------------------------------------------------------


@bp.post("/<int:tenant_id>/teams")
@login_required
def create_team(tenant_id: int):  # type: ignore[no-untyped-def]
    tenant, actor = _admin(tenant_id)
    try:
        team = svc.create_team(tenant_id, actor, request.form.get("name", ""))
    except svc.StaffError as exc:
        status = _refused(exc)
        return _index_page(tenant, admin_tenants(), {"team_name": request.form.get("name")}), status
    db.session.commit()
    flash(_("The team has been created."), "success")
    return redirect(url_for(".team", tenant_id=tenant_id, team_id=team.id), 303)


def _team_page(tenant: Tenant, team: Team, form: Any) -> str:
    members = svc.team_members(team)
    in_team = {u.id for u in members}
    return render_template(
        "admin/team.html",
        tenant=tenant,
        team=team,
        members=members,
        candidates=[p for p in svc.people(tenant.id) if p.user.id not in in_team],
        form=form,
    )


@bp.get("/<int:tenant_id>/teams/<int:team_id>")
@login_required
def team(tenant_id: int, team_id: int):  # type: ignore[no-untyped-def]
    tenant, _actor = _admin(tenant_id)
    return _team_page(tenant, _team(tenant_id, team_id), {})


def _team_action(tenant_id: int, team_id: int, action, done: str, form=None):  # type: ignore[no-untyped-def]
    """Run `action(team, actor)`; back to the team's page with `done` or the reason."""
    tenant, actor = _admin(tenant_id)
    team = _team(tenant_id, team_id)
    try:
        action(team, actor)
    except svc.StaffError as exc:
        status = _refused(exc)
        return _team_page(tenant, _team(tenant_id, team_id), form or {}), status
    db.session.commit()
    flash(done, "success")
    return redirect(url_for(".team", tenant_id=tenant_id, team_id=team_id), 303)


@bp.post("/<int:tenant_id>/teams/<int:team_id>/rename")
@login_required
def rename_team(tenant_id: int, team_id: int):  # type: ignore[no-untyped-def]
    name = request.form.get("name", "")
    return _team_action(
        tenant_id,
        team_id,
        lambda team, actor: svc.rename_team(team, actor, name),
        _("The team has been renamed."),
        {"name": name},
    )


@bp.post("/<int:tenant_id>/teams/<int:team_id>/delete")
@login_required
def delete_team(tenant_id: int, team_id: int):  # type: ignore[no-untyped-def]
    _tenant, actor = _admin(tenant_id)
    team = _team(tenant_id, team_id)
    if not _confirmed():
        flash(_("Nothing was changed: tick the box to confirm first."), "error")
        return redirect(url_for(".team", tenant_id=tenant_id, team_id=team_id), 303)
    svc.delete_team(team, actor)
    db.session.commit()
    flash(_("The team has been deleted. Its conversations now have no team."), "success")
    return redirect(url_for(".index", tenant=tenant_id), 303)


def _confirmed() -> bool:
    """Destructive actions carry a ticked confirmation box (works without JavaScript)."""
    return request.form.get("confirm") == "yes"


def _member_of_tenant(tenant_id: int, raw: str | None) -> User:
    """The person chosen in a form: 400 for no choice, 404 for someone not working here."""
    if not raw or not raw.isdigit():
        raise svc.StaffError("choose_person")
    return _person(tenant_id, int(raw)).user


@bp.post("/<int:tenant_id>/teams/<int:team_id>/members")
@login_required
def add_member(tenant_id: int, team_id: int):  # type: ignore[no-untyped-def]
    raw = request.form.get("user_id")
    return _team_action(
        tenant_id,
        team_id,
        lambda team, actor: svc.add_to_team(team, actor, _member_of_tenant(tenant_id, raw)),
        _("The person has been added to the team."),
    )


@bp.post("/<int:tenant_id>/teams/<int:team_id>/members/<int:user_id>/remove")
@login_required
def remove_member(tenant_id: int, team_id: int, user_id: int):  # type: ignore[no-untyped-def]
    return _team_action(
        tenant_id,
        team_id,
        lambda team, actor: svc.remove_from_team(team, actor, _person(tenant_id, user_id).user),
        _("The person has been removed from the team."),
    )
