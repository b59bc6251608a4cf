"""What caseworkers do to a conversation besides replying: assign, transfer, status, snooze,
merge conversations, merge contacts and undo. Each action is a small POST form."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_required

from inbox.extensions import db
from inbox.models import Contact, Role, Tenant
from inbox.models.base import utcnow
from inbox.services import actionbar, merging, tags, workflow
from inbox.services.access import can_see, conversation_for_user, current, require_role

bp = Blueprint("conversation_actions", __name__, url_prefix="/c")

STAFF = (Role.CASEWORKER, Role.RECORDS_OFFICER)

ERRORS = {
    "unknown_user": lambda: _("That person is not a member of this municipality."),
    "unknown_team": lambda: _("That team does not exist."),
    "unknown_status": lambda: _("Unknown status."),
    "snooze_needs_time": lambda: _("Choose when the conversation should come back."),
    "snooze_time": lambda: _("Write the time as date and time, for example 2026-12-01 08:00."),
    "snooze_past": lambda: _("The snooze time must be in the future."),
    "same": lambda: _("Choose a different one to merge with."),
    "other_tenant": lambda: _(
        "Only conversations and contacts of the same municipality can be merged."
    ),
    "already_merged": lambda: _("It has already been merged."),
    "not_merged": lambda: _("This contact is not merged."),
    "unknown_contact": lambda: _("No contact found with that number or identity."),
    "unknown_conversation": lambda: _("No such conversation."),
    "no_access": lambda: _(
        "That contact has conversations you do not have access to. Ask someone in their "
        "team, or a records officer, to merge them."
    ),
}


def _back(conv_id: int):  # type: ignore[no-untyped-def]
    return redirect(url_for("conversation.show", conversation_id=conv_id), 303)


def _fail(conv_id: int, code: str):  # type: ignore[no-untyped-def]
    db.session.rollback()
    flash(ERRORS.get(code, lambda: _("That did not work."))(), "error")
    return _back(conv_id)


def _int_or_none(value: str | None, *, allow_empty: bool = True) -> int | None:
    value = (value or "").strip()
    if not value and allow_empty:
        return None
    if not value.isdigit() or len(value) > 18:
        abort(400, _("Invalid number."))
    return int(value)


@bp.post("/<int:conversation_id>/assign")
@login_required
def assign(conversation_id: int):  # type: ignore[no-untyped-def]
    conv = conversation_for_user(conversation_id)
    user = require_role(conv.tenant_id, *STAFF)
    raw = request.form.get("assignee", "")
    assignee = user.id if raw == "me" else _int_or_none(raw)
    try:
        workflow.assign(conv, user, assignee)
    except workflow.WorkflowError as exc:
        return _fail(conv.id, str(exc))
    db.session.commit()
    flash(_("Assigned to you.") if assignee == user.id else _("Assignment saved."), "success")
    return _back(conv.id)


@bp.post("/<int:conversation_id>/transfer")
@login_required
def transfer(conversation_id: int):  # type: ignore[no-untyped-def]
    conv = conversation_for_user(conversation_id)
    user = require_role(conv.tenant_id, *STAFF)
    try:
        workflow.transfer(conv, user, _int_or_none(request.form.get("team_id")))
    except workflow.WorkflowError as exc:
        return _fail(conv.id, str(exc))
    db.session.commit()
    flash(_("Transferred to the team."), "success")
    if not can_see(user, conv):
        return redirect(url_for("queue.index"), 303)
    return _back(conv.id)


@bp.post("/<int:conversation_id>/status")
@login_required
def status(conversation_id: int):  # type: ignore[no-untyped-def]
    conv = conversation_for_user(conversation_id)
    user = require_role(conv.tenant_id, *STAFF)
    try:
        workflow.change_status(conv, user, request.form.get("status", ""))
    except workflow.WorkflowError as exc:
        return _fail(conv.id, str(exc))
    db.session.commit()
    flash(_("Status changed."), "success")
    return _back(conv.id)


@bp.post("/<int:conversation_id>/snooze")
@login_required
def snooze(conversation_id: int):  # type: ignore[no-untyped-def]
    conv = conversation_for_user(conversation_id)
    user = require_role(conv.tenant_id, *STAFF)
    raw = (request.form.get("until") or "").strip()
    tenant = db.session.get(Tenant, conv.tenant_id)
    try:
        local = datetime.fromisoformat(raw) if raw and len(raw) <= 32 else None
    except ValueError:
        local = None
    if local is None:
        return _fail(conv.id, "snooze_time")
    if local.tzinfo is None:
        local = local.replace(tzinfo=ZoneInfo(tenant.timezone if tenant else "Europe/Oslo"))
    try:
        workflow.snooze(conv, user, local)
    except workflow.WorkflowError as exc:
        return _fail(conv.id, str(exc))
    db.session.commit()
    flash(_("Snoozed. The conversation comes back to the queue at the chosen time."), "success")
    return _back(conv.id)


@bp.post("/<int:conversation_id>/merge")
@login_required
def merge(conversation_id: int):  # type: ignore[no-untyped-def]
    """Merge this conversation INTO the chosen one (this one is closed)."""
    conv = conversation_for_user(conversation_id)
    user = require_role(conv.tenant_id, *STAFF)
    target_id = _int_or_none(request.form.get("into"), allow_empty=False)
    from inbox.models import Conversation

    target = db.session.get(Conversation, target_id)
    if target is None or not can_see(user, target):
        return _fail(conv.id, "unknown_conversation")
    try:
        merging.merge_conversations(conv, target, user)
    except merging.MergeError as exc:
        return _fail(conv.id, str(exc))
    db.session.commit()
    flash(_("Conversations merged."), "success")
    return _back(target.id)


@bp.post("/<int:conversation_id>/contact/merge")
@login_required
def merge_contact(conversation_id: int):  # type: ignore[no-untyped-def]
    """Merge another contact (found by number or identity) into this conversation's contact."""
    conv = conversation_for_user(conversation_id)
    user = require_role(conv.tenant_id, *STAFF)
    other = merging.find_contact(conv.tenant_id, request.form.get("contact", ""))
    if other is None:
        return _fail(conv.id, "unknown_contact")
    try:
        merging.merge_contacts(other, conv.contact, user)
    except merging.MergeError as exc:
        return _fail(conv.id, str(exc))
    db.session.commit()
    flash(_("Contacts merged. You can undo this on the contact card."), "success")
    return _back(conv.id)


@bp.post("/<int:conversation_id>/contact/<int:contact_id>/unmerge")
@login_required
def unmerge_contact(conversation_id: int, contact_id: int):  # type: ignore[no-untyped-def]
    conv = conversation_for_user(conversation_id)
    user = require_role(conv.tenant_id, *STAFF)
    merged = db.session.get(Contact, contact_id)
    if merged is None or merged.tenant_id != conv.tenant_id:
        abort(404)
    if merged.merged_into_id != conv.contact_id:
        return _fail(conv.id, "not_merged")
    try:
        merging.undo_contact_merge(merged, user)
    except merging.MergeError as exc:
        return _fail(conv.id, str(exc))
    db.session.commit()
    flash(_("Merge undone."), "success")
    if not can_see(current(), conv):
        return redirect(url_for("queue.index"), 303)
    return _back(conv.id)


# -- the action bar: several changes at once, undone within a few seconds ----------------------

UNDO_KEY = "action_undo"
CHANGED = {
    "assignee": lambda: _("assignee"),
    "team": lambda: _("team"),
    "status": lambda: _("status"),
    "snooze": lambda: _("snooze time"),
    "tags": lambda: _("tags"),
}


def _choice(name: str) -> int | None | str:
    """A select of the bar: "unchanged" when the field was not sent."""
    if name not in request.form:
        return "unchanged"
    return _int_or_none(request.form.get(name))


@bp.post("/<int:conversation_id>/actions")
@login_required
def apply_bar(conversation_id: int):  # type: ignore[no-untyped-def]
    conv = conversation_for_user(conversation_id)
    user = require_role(conv.tenant_id, *STAFF)
    raw_assignee = request.form.get("assignee")
    wanted = actionbar.Wanted(
        assignee_id=user.id if raw_assignee == "me" else _choice("assignee"),
        team_id=_choice("team_id"),
        status=(request.form.get("status") or "").strip() or None,
        tags=[t for t in (request.form.get("tags") or "").split(",") if t.strip()]
        if "tags" in request.form
        else None,
    )
    until = (request.form.get("until") or "").strip()
    if until:
        tenant = db.session.get(Tenant, conv.tenant_id)
        try:
            local = datetime.fromisoformat(until) if len(until) <= 32 else None
        except ValueError:
            local = None
        if local is None:
            return _fail(conv.id, "snooze_time")
        if local.tzinfo is None:
            local = local.replace(tzinfo=ZoneInfo(tenant.timezone if tenant else "Europe/Oslo"))
        wanted.snooze_until = local
    before = actionbar.snapshot(conv, utcnow())
    try:
        changed = actionbar.apply(conv, user, wanted)
    except workflow.WorkflowError as exc:
        return _fail(conv.id, str(exc))
    except tags.InvalidTag:
        db.session.rollback()
        flash(_("A tag is 1 to 64 characters."), "error")
        return _back(conv.id)
    db.session.commit()
    if not changed:
        flash(_("Nothing was changed."), "success")
        return _back(conv.id)
    session[UNDO_KEY] = before.as_dict()
    flash(
        _("Saved: %(what)s.", what=", ".join(CHANGED[c]() for c in changed)),
        "success",
    )
    if not can_see(user, conv):
        session.pop(UNDO_KEY, None)
        return redirect(url_for("queue.index"), 303)
    return _back(conv.id)


def pending_undo(conv_id: int) -> actionbar.Snapshot | None:
    """The snapshot the user may still undo on this conversation, if its time has not run out."""
    snap = actionbar.Snapshot.from_dict(session.get(UNDO_KEY) or {})
    if snap is None or snap.conversation_id != conv_id:
        return None
    try:
        taken = datetime.fromisoformat(snap.taken_at)
    except ValueError:
        return None
    seconds = float(current_app.config.get("UNDO_SECONDS", 10))
    return snap if (utcnow() - taken).total_seconds() <= seconds else None


@bp.post("/<int:conversation_id>/undo")
@login_required
def undo(conversation_id: int):  # type: ignore[no-untyped-def]
    conv = conversation_for_user(conversation_id)
    user = require_role(conv.tenant_id, *STAFF)
    snap = pending_undo(conv.id)
    session.pop(UNDO_KEY, None)
    if snap is None:
        flash(_("Too late to undo: change it back in the action bar."), "error")
        return _back(conv.id)
    try:
        actionbar.restore(conv, user, snap)
    except (workflow.WorkflowError, tags.InvalidTag):
        return _fail(conv.id, "undo")
    db.session.commit()
    flash(_("Undone."), "success")
    return _back(conv.id)
