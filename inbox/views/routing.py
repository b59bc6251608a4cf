"""Routing rules, automatic assignment per team, and each team's load (supervisor view)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from inbox.extensions import db
from inbox.models import ChannelKind, RoutingRule, Team
from inbox.services import routing as svc
from inbox.views.setup import municipal_admin

bp = Blueprint("routing", __name__, url_prefix="/admin/municipality")


def error_texts() -> dict[str, str]:
    return {
        "channel_kind": _("Choose one of the channels."),
        "keyword": _("A keyword is at most 100 characters, without control characters."),
        "phone_prefix": _("A phone-number prefix is digits, optionally starting with +."),
        "team": _("Choose one of the municipality's teams."),
        "empty": _("Give at least one condition: a channel, a keyword or a phone-number prefix."),
        "cap": _("Give a cap between 1 and 500 open conversations."),
    }


def _page(tenant, status: int = 200):  # type: ignore[no-untyped-def]
    teams = svc.teams(tenant.id)
    return render_template(
        "admin/setup/routing.html",
        tenant=tenant,
        rules=svc.rules_with_teams(tenant.id),
        teams=teams,
        loads={t.id: svc.team_load(t) for t in teams},
        kinds=[k.value for k in ChannelKind],
    ), status


@bp.get("/<int:tenant_id>/routing")
@login_required
def index(tenant_id: int):  # type: ignore[no-untyped-def]
    tenant, _actor = municipal_admin(tenant_id)
    return _page(tenant)


@bp.post("/<int:tenant_id>/routing/rules")
@login_required
def add_rule(tenant_id: int):  # type: ignore[no-untyped-def]
    tenant, actor = municipal_admin(tenant_id)
    try:
        svc.add_rule(tenant.id, actor, request.form)
    except svc.RoutingError as exc:
        db.session.rollback()
        flash(error_texts()[str(exc)], "error")
        return _page(tenant, 400)
    db.session.commit()
    flash(_("The rule is added."), "success")
    return redirect(url_for(".index", tenant_id=tenant_id), 303)


@bp.post("/<int:tenant_id>/routing/rules/<int:rule_id>/delete")
@login_required
def delete_rule(tenant_id: int, rule_id: int):  # type: ignore[no-untyped-def]
    tenant, actor = municipal_admin(tenant_id)
    rule = db.session.get(RoutingRule, rule_id)
    if rule is None or rule.tenant_id != tenant.id:
        abort(404)
    svc.delete_rule(rule, actor)
    db.session.commit()
    flash(_("The rule is removed."), "success")
    return redirect(url_for(".index", tenant_id=tenant_id), 303)


@bp.post("/<int:tenant_id>/routing/teams/<int:team_id>")
@login_required
def assignment(tenant_id: int, team_id: int):  # type: ignore[no-untyped-def]
    tenant, actor = municipal_admin(tenant_id)
    team = db.session.get(Team, team_id)
    if team is None or team.tenant_id != tenant.id:
        abort(404)
    try:
        svc.set_assignment(
            team, actor, request.form.get("auto_assign") == "1", request.form.get("cap", "")
        )
    except svc.RoutingError as exc:
        db.session.rollback()
        flash(error_texts()[str(exc)], "error")
        return _page(tenant, 400)
    db.session.commit()
    flash(_("Automatic assignment for %(team)s is saved.", team=team.name), "success")
    return redirect(url_for(".index", tenant_id=tenant_id), 303)


@bp.post("/<int:tenant_id>/routing/teams/<int:team_id>/members/<int:user_id>/available")
@login_required
def set_available(tenant_id: int, team_id: int, user_id: int):  # type: ignore[no-untyped-def]
    """A supervisor marks a member available for automatic assignment, or not (away)."""
    tenant, actor = municipal_admin(tenant_id)
    team = db.session.get(Team, team_id)
    if team is None or team.tenant_id != tenant.id:
        abort(404)
    member = next((m.user for m in svc.team_load(team) if m.user.id == user_id), None)
    if member is None:
        abort(404)
    svc.set_available(member, tenant.id, actor, request.form.get("available") == "1")
    db.session.commit()
    flash(
        _("%(name)s gets new conversations.", name=member.name)
        if member.is_available
        else _("%(name)s gets no new conversations.", name=member.name),
        "success",
    )
    return redirect(url_for(".index", tenant_id=tenant_id), 303)
