"""What caseworkers do to a conversation besides replying: assign, transfer, status, snooze,
merge conversations, merge contacts and undo. Each action is a small POST form."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from inbox.extensions import db
from inbox.models import Contact, Role, Tenant
from inbox.services import merging, workflow
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
