"""One conversation: read, reply, note, flag for the archive."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from archiving import triage
from archiving.models import ArchiveItem
from inbox.extensions import db
from inbox.models import Message, Role
from inbox.services import conversations as svc
from inbox.services.access import conversation_for_user, require_role

bp = Blueprint("conversation", __name__, url_prefix="/c")

REPLY_ERRORS = {
    "empty": lambda: _("Write a reply first."),
    "too_long": lambda: _("The reply is too long."),
    "invalid": lambda: _("The reply contains characters that cannot be sent."),
}


@bp.get("/<int:conversation_id>")
@login_required
def show(conversation_id: int):  # type: ignore[no-untyped-def]
    conv = conversation_for_user(conversation_id)
    messages = db.session.scalars(
        select(Message).where(Message.conversation_id == conv.id).order_by(Message.id)
    ).all()
    items = db.session.scalars(
        select(ArchiveItem).where(ArchiveItem.conversation_id == conv.id).order_by(ArchiveItem.id)
    ).all()
    svc.mark_read(conv)
    db.session.commit()
    return render_template(
        "inbox/conversation.html", conv=conv, messages=messages, archive_items=items
    )


@bp.post("/<int:conversation_id>/reply")
@login_required
def reply(conversation_id: int):  # type: ignore[no-untyped-def]
    conv = conversation_for_user(conversation_id)
    user = require_role(conv.tenant_id, Role.CASEWORKER, Role.RECORDS_OFFICER)
    note = request.form.get("kind") == "note"
    try:
        if note:
            svc.add_note(conv, user, request.form.get("body", ""))
        else:
            svc.reply(conv, user, request.form.get("body", ""))
    except svc.InvalidReply as exc:
        db.session.rollback()
        reason = str(exc)
        flash(REPLY_ERRORS[reason]() if reason in REPLY_ERRORS else reason, "error")
        return redirect(url_for(".show", conversation_id=conv.id), 303)
    db.session.commit()
    flash(_("Note saved.") if note else _("Reply queued for sending."), "success")
    return redirect(url_for(".show", conversation_id=conv.id), 303)


@bp.post("/<int:conversation_id>/flag")
@login_required
def flag(conversation_id: int):  # type: ignore[no-untyped-def]
    conv = conversation_for_user(conversation_id)
    user = require_role(conv.tenant_id, Role.CASEWORKER, Role.RECORDS_OFFICER)
    try:
        triage.flag_conversation(
            conv,
            user,
            case_number=request.form.get("case_number", ""),
            new_case_title=request.form.get("new_case_title", ""),
            title=request.form.get("title", ""),
        )
    except triage.TriageError as exc:
        db.session.rollback()
        flash(exc.user_message(), "error")
        return redirect(url_for(".show", conversation_id=conv.id), 303)
    db.session.commit()
    flash(_("Flagged for the archive. Records staff will review it."), "success")
    return redirect(url_for(".show", conversation_id=conv.id), 303)
