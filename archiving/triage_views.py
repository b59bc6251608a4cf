"""Caseworkers: flag a conversation (or some of its messages), withdraw, correct and re-flag.

The panel on the conversation page (templates/archiving/_panel.html) gets its data from
panel_context(), made available to templates by a context processor, so the conversation view
itself needs to know nothing about archiving.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from archiving import suggestions, triage
from archiving.models import ArchiveItem, ArchiveState
from inbox.extensions import db
from inbox.models import Conversation, Role
from inbox.services.access import conversation_for_user, require_role

bp = Blueprint("triage", __name__, url_prefix="/c/<int:conversation_id>/archive")

STAFF = (Role.CASEWORKER, Role.RECORDS_OFFICER)


def panel_context(conv: Conversation) -> dict[str, Any]:
    messages = triage.archivable_messages(conv)
    items = db.session.scalars(
        select(ArchiveItem).where(ArchiveItem.conversation_id == conv.id).order_by(ArchiveItem.id)
    ).all()
    texts = [m.body for m in messages]
    defaults = triage.default_details(conv)
    return {
        "messages": messages,
        "items": items,
        "flagged": triage.flagged_message_ids(conv),
        "suggestions": suggestions.suggest(conv.meta, texts),
        "defaults": defaults,
        "derived": {m.id: triage.journalposttype_for(m) for m in messages},
        # Position of each message in the thread (1-based), for the labels.
        "position": {m.id: i for i, m in enumerate(messages, 1)},
        "states": ArchiveState,
    }


@bp.app_context_processor
def _inject() -> dict[str, Any]:
    return {"archive_panel": panel_context}


def _back(conv: Conversation):  # type: ignore[no-untyped-def]
    return redirect(url_for("conversation.show", conversation_id=conv.id) + "#archive-h", 303)


def _item(conv: Conversation, item_id: int) -> ArchiveItem:
    item = db.session.get(ArchiveItem, item_id)
    if item is None or item.conversation_id != conv.id:
        abort(404)
    return item


@bp.post("/flag")
@login_required
def flag(conversation_id: int):  # type: ignore[no-untyped-def]
    conv = conversation_for_user(conversation_id)
    user = require_role(conv.tenant_id, *STAFF)
    # The form lists the messages with checkboxes; without the list, the whole conversation.
    ids = _ids(request.form.getlist("message_ids")) if "choosing" in request.form else None
    try:
        triage.flag_conversation(
            conv, user, message_ids=ids, details=triage.FlagDetails.from_form(request.form)
        )
    except triage.TriageError as exc:
        db.session.rollback()
        flash(exc.user_message(), "error")
        return _back(conv)
    db.session.commit()
    flash(_("Flagged for the archive. Records staff will review it."), "success")
    return _back(conv)


@bp.post("/<int:item_id>/withdraw")
@login_required
def withdraw(conversation_id: int, item_id: int):  # type: ignore[no-untyped-def]
    conv = conversation_for_user(conversation_id)
    user = require_role(conv.tenant_id, *STAFF)
    item = _item(conv, item_id)
    try:
        triage.withdraw(item, user)
    except triage.TriageError as exc:
        db.session.rollback()
        flash(exc.user_message(), "error")
        return _back(conv)
    db.session.commit()
    flash(_("The flag was withdrawn. Nothing will be archived."), "success")
    return _back(conv)


@bp.post("/<int:item_id>/reflag")
@login_required
def reflag(conversation_id: int, item_id: int):  # type: ignore[no-untyped-def]
    conv = conversation_for_user(conversation_id)
    user = require_role(conv.tenant_id, *STAFF)
    item = _item(conv, item_id)
    try:
        triage.reflag(item, user, triage.FlagDetails.from_form(request.form))
    except triage.TriageError as exc:
        db.session.rollback()
        flash(exc.user_message(), "error")
        return _back(conv)
    db.session.commit()
    flash(_("Sent to records staff again."), "success")
    return _back(conv)


def _ids(values: list[str]) -> list[int]:
    try:
        return [int(v) for v in values]
    except ValueError:
        abort(400)
