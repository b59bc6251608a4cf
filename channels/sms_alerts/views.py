"""Pages for SMS alerts (/alerts): write, preview, confirm, follow; who may send them.

Caseworkers whose membership allows it and admins may use them (services.may_send). A second
person must confirm an alert to more than ALERT_CONFIRM_ABOVE recipients.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from channels.sms_alerts import archive
from channels.sms_alerts import services as svc
from channels.sms_alerts.cli import grant
from channels.sms_alerts.recipients import CsvError
from channels.twilio_sms.segments import MAX_BODY_CHARS
from inbox.extensions import db
from inbox.models import Alert, AlertState, Membership, Role, Tenant, User
from inbox.services.access import current, require_role

bp = Blueprint("alerts", __name__, url_prefix="/alerts", cli_group="alerts")
bp.cli.add_command(grant)

ERRORS = {
    "title": lambda: _("Give the alert a short title (at most 200 characters)."),
    "body": lambda: _("Write the text of the alert."),
    "too_long": lambda: _("The text is longer than an SMS can be (1600 characters)."),
    "number": lambda: _("Choose the number to send from."),
    "service": lambda: _("This number has no Messaging Service; send from the number instead."),
    "team": lambda: _("Choose one of the municipality's teams."),
    "no_list": lambda: _("Choose a saved recipient list."),
    "no_tag": lambda: _("Choose a tag."),
    "no_alert": lambda: _("The alert to follow up was not found."),
    "no_source": lambda: _("Choose where the recipients come from."),
    "no_file": lambda: _("Choose a CSV file of phone numbers."),
    "no_recipients": lambda: _("No recipients are left to send to."),
    "too_many": lambda: _("The list has more recipients than one alert may have."),
    "state": lambda: _("The alert cannot be changed any more."),
    "list_name": lambda: _("A recipient list needs a name (at most 120 characters)."),
    "not_member": lambda: _("The person does not work for this municipality."),
}
CSV_ERRORS = {
    "too_large": lambda d: _("The file is too large (at most %(kib)d KiB).", kib=d["max_kib"]),
    "empty": lambda d: _("The file has no rows."),
    "binary": lambda d: _("The file is not a CSV text file (a spreadsheet? Save it as CSV first)."),
    "encoding": lambda d: _("The file's text encoding cannot be read."),
    "too_many": lambda d: _(
        "The file has more than %(n)d rows; split it into several alerts.", n=d["max_rows"]
    ),
    "malformed": lambda d: _("The file cannot be read as CSV (line %(n)d).", n=d["line"]),
}
REASONS = {
    "invalid": lambda: _("not a phone number"),
    "duplicate": lambda: _("the same number as an earlier row"),
    "not_norwegian": lambda: _("8 digits, but Norwegian numbers do not begin with 0 or 1"),
    "rounded": lambda: _("rounded by a spreadsheet (written as 4.79E+09)"),
}
STATES = {
    AlertState.DRAFT: lambda: _("Draft"),
    AlertState.AWAITING_APPROVAL: lambda: _("Waiting for a second person"),
    AlertState.SENDING: lambda: _("Sending"),
    AlertState.DONE: lambda: _("Sent"),
    AlertState.CANCELLED: lambda: _("Cancelled"),
}


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    def alert_rights(tenant_id: int, user_id: int) -> bool:
        m = db.session.get(Membership, (user_id, tenant_id))
        return bool(m and (m.may_send_alerts or m.role is Role.ADMIN))

    def may_send_alerts() -> bool:
        from flask_login import current_user

        return bool(current_user.is_authenticated and svc.alert_tenants(current_user))

    def alert_of_conversation(conv: Any) -> Alert | None:
        from channels.sms_alerts.replies import alert_of

        return alert_of(conv) if (conv.thread_key or "").startswith("alert:") else None

    return {
        "alert_rights": alert_rights,
        "may_send_alerts": may_send_alerts,
        "alert_of_conversation": alert_of_conversation,
    }


def _tenants() -> tuple[User, list[Tenant]]:
    user = current()
    ids = svc.alert_tenants(user)
    if not ids:
        if not user.memberships:
            abort(404)
        abort(403)
    tenants = [m.tenant for m in user.memberships if m.tenant_id in ids]
    return user, tenants


def _chosen(tenants: list[Tenant], raw: str | None) -> Tenant:
    if not raw:
        return tenants[0]
    for t in tenants:
        if str(t.id) == raw:
            return t
    abort(404)


def _alert(alert_id: int) -> tuple[User, Alert]:
    user = current()
    alert = db.session.get(Alert, alert_id)
    if alert is None or user.role_in(alert.tenant_id) is None:
        abort(404)
    if not svc.may_send(user, alert.tenant_id):
        abort(403)
    return user, alert


@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    _user, tenants = _tenants()
    tenant = _chosen(tenants, request.args.get("tenant"))
    items = db.session.scalars(
        select(Alert).where(Alert.tenant_id == tenant.id).order_by(Alert.id.desc()).limit(200)
    ).all()
    return render_template(
        "channels/alerts/index.html", tenants=tenants, tenant=tenant, items=items, states=STATES
    )


def _form_page(tenant: Tenant, tenants: list[Tenant], form: Any, status: int = 200):  # type: ignore[no-untyped-def]
    follows = None
    raw = form.get("follows") or request.args.get("follows")
    if raw and str(raw).isdigit():
        follows = svc.get([tenant.id], int(raw))
    page = render_template(
        "channels/alerts/new.html",
        tenant=tenant,
        tenants=tenants,
        numbers=svc.numbers(tenant.id),
        teams=svc.teams(tenant.id),
        tags=svc.tags(tenant.id),
        lists=svc.lists(tenant.id),
        follows=follows,
        form=form,
        max_chars=MAX_BODY_CHARS,
    )
    return page, status


@bp.get("/new")
@login_required
def new():  # type: ignore[no-untyped-def]
    _user, tenants = _tenants()
    tenant = _chosen(tenants, request.args.get("tenant"))
    return _form_page(tenant, tenants, {})


def _int(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() else None


@bp.post("/new")
@login_required
def create():  # type: ignore[no-untyped-def]
    user, tenants = _tenants()
    tenant = _chosen(tenants, request.form.get("tenant_id"))
    form = request.form
    try:
        source = _source(tenant.id, form)
        account_id = _int(form.get("account_id"))
        if account_id is None:
            raise svc.AlertError("number")
        alert = svc.create(
            tenant.id,
            user,
            title=form.get("title", ""),
            body=form.get("body", ""),
            account_id=account_id,
            sender=form.get("sender", "number"),
            team_id=_int(form.get("team_id")),
            source=source,
            follows_id=_int(form.get("follows")),
        )
        if form.get("save_list") and form.get("source") == "csv":
            svc.save_list(tenant.id, form.get("list_name", ""), source)
    except svc.AlertError as exc:
        db.session.rollback()
        flash(ERRORS[str(exc)](), "error")
        return _form_page(tenant, tenants, form, 400)
    except CsvError as exc:
        db.session.rollback()
        flash(CSV_ERRORS[exc.code](exc.details), "error")
        return _form_page(tenant, tenants, form, 400)
    db.session.commit()
    return redirect(url_for("alerts.show", alert_id=alert.id))


def _source(tenant_id: int, form: Any) -> svc.Source:
    kind = form.get("source")
    if form.get("follows"):
        follows = _int(form.get("follows"))
        if follows is None:
            raise svc.AlertError("no_alert")
        return svc.from_alert(tenant_id, follows)
    if kind == "csv":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise svc.AlertError("no_file")
        return svc.from_csv(upload.read(), upload.filename)
    if kind == "list":
        list_id = _int(form.get("list_id"))
        if list_id is None:
            raise svc.AlertError("no_list")
        return svc.from_list(tenant_id, list_id)
    if kind == "tag":
        tag_id = _int(form.get("tag_id"))
        if tag_id is None:
            raise svc.AlertError("no_tag")
        return svc.from_tag(tenant_id, tag_id)
    raise svc.AlertError("no_source")


@bp.get("/<int:alert_id>")
@login_required
def show(alert_id: int):  # type: ignore[no-untyped-def]
    user, alert = _alert(alert_id)
    return render_template(
        "channels/alerts/show.html",
        alert=alert,
        user=user,
        estimate=svc.estimate(alert),
        progress=svc.progress(alert),
        failures=svc.failures(alert),
        replies=svc.replies(alert),
        states=STATES,
        reasons=REASONS,
        author=db.session.get(User, alert.author_id) if alert.author_id else None,
        approver=db.session.get(User, alert.approved_by_id) if alert.approved_by_id else None,
    )


@bp.get("/<int:alert_id>/progress")
@login_required
def progress(alert_id: int):  # type: ignore[no-untyped-def]
    _user, alert = _alert(alert_id)
    return jsonify(state=alert.state.value, label=STATES[alert.state](), **svc.progress(alert))


@bp.post("/<int:alert_id>/confirm")
@login_required
def confirm(alert_id: int):  # type: ignore[no-untyped-def]
    user, alert = _alert(alert_id)
    try:
        svc.confirm(alert, user)
    except svc.AlertError as exc:
        db.session.rollback()
        flash(ERRORS[str(exc)](), "error")
        return redirect(url_for("alerts.show", alert_id=alert.id))
    db.session.commit()
    if alert.state is AlertState.AWAITING_APPROVAL:
        flash(_("Another person with alert rights must now confirm the alert."), "info")
    else:
        flash(_("The alert is being sent."), "info")
    return redirect(url_for("alerts.show", alert_id=alert.id))


@bp.post("/<int:alert_id>/cancel")
@login_required
def cancel(alert_id: int):  # type: ignore[no-untyped-def]
    user, alert = _alert(alert_id)
    try:
        svc.cancel(alert, user)
    except svc.AlertError as exc:
        db.session.rollback()
        flash(ERRORS[str(exc)](), "error")
        return redirect(url_for("alerts.show", alert_id=alert.id))
    db.session.commit()
    flash(_("The alert was cancelled."), "info")
    return redirect(url_for("alerts.show", alert_id=alert.id))


@bp.post("/<int:alert_id>/archive")
@login_required
def flag_archive(alert_id: int):  # type: ignore[no-untyped-def]
    user, alert = _alert(alert_id)
    try:
        archive.flag(alert, user)
    except archive.NotYet:
        db.session.rollback()
        flash(_("Only a sent alert can be flagged for the archive, once."), "error")
        return redirect(url_for("alerts.show", alert_id=alert.id))
    db.session.commit()
    flash(_("The alert was flagged for the archive as an outgoing entry."), "info")
    return redirect(url_for("alerts.show", alert_id=alert.id))


@bp.post("/rights/<int:tenant_id>/<int:user_id>")
@login_required
def rights(tenant_id: int, user_id: int):  # type: ignore[no-untyped-def]
    admin = require_role(tenant_id, Role.ADMIN)
    person = db.session.get(User, user_id)
    if person is None or person.role_in(tenant_id) is None:
        abort(404)
    allowed = request.form.get("may_send_alerts") in ("1", "on", "true")
    svc.grant(tenant_id, person, allowed, actor=admin)
    db.session.commit()
    if allowed:
        flash(_("%(name)s may now send SMS alerts.", name=person.name), "info")
    else:
        flash(_("%(name)s may no longer send SMS alerts.", name=person.name), "info")
    return redirect(url_for("staff.person", tenant_id=tenant_id, user_id=user_id))
