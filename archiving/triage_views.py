"""Caseworkers: flag a conversation (or some of its messages), withdraw, correct and re-flag.

The panel on the conversation page (templates/archiving/_panel.html) gets its data from
panel_context(), made available to templates by a context processor, so the conversation view
itself needs to know nothing about archiving.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from archiving import noark, suggestions, triage
from archiving.models import ArchiveItem, ArchiveState
from inbox.extensions import db
from inbox.formatting import short_datetime_formatter
from inbox.models import Conversation, Role
from inbox.services.access import conversation_for_user, require_role

bp = Blueprint("triage", __name__, url_prefix="/c/<int:conversation_id>/archive")

STAFF = (Role.CASEWORKER, Role.RECORDS_OFFICER)


# Up to this many unflagged messages are listed with checkboxes in the conversation page's
# panel; a longer thread gets the list on a page of its own (choose) instead.
INLINE_CHOOSER_MAX = 20


def chooser_context(conv: Conversation, listed: bool = True) -> dict[str, Any]:
    """The messages of the flag form: all archivable ones, those still free to flag, their
    position in the thread (1-based, for the labels) and their derived entry type. `listed`:
    the form lists the free messages one by one (with their authors); when False and there
    are more than INLINE_CHOOSER_MAX, the authors are not read (the form does not show them)."""
    messages = triage.archivable_summaries(conv)
    flagged = triage.flagged_message_ids(conv)
    free = [m for m in messages if m.id not in flagged]
    inline = listed or len(free) <= INLINE_CHOOSER_MAX
    return {
        "messages": messages,
        "free": free,
        "derived": {m.id: triage.journalposttype_for(m) for m in messages},
        "position": {m.id: i for i, m in enumerate(messages, 1)},
        # The form is filled in for the messages it offers: their author, not the
        # conversation's first contact.
        "defaults": triage.default_details(conv, [m.id for m in free]),
        "authors": triage.message_authors(conv) if inline else {},
        "type_options": type_options(),
    }


def panel_context(conv: Conversation) -> dict[str, Any]:
    ctx = chooser_context(conv, listed=False)
    ctx.update(
        items=db.session.scalars(
            select(ArchiveItem)
            .where(ArchiveItem.conversation_id == conv.id)
            .order_by(ArchiveItem.id)
        ).all(),
        suggestions=suggestions.suggest(conv.meta, [m.body for m in ctx["messages"]]),
        inline=len(ctx["free"]) <= INLINE_CHOOSER_MAX,
        states=ArchiveState,
    )
    return ctx


def type_options() -> list[tuple[str, str]]:
    return [
        ("I", _("I – incoming")),
        ("U", _("U – outgoing")),
        ("N", _("N – internal, for follow-up")),
        ("X", _("X – internal, no follow-up")),
    ]


@bp.app_context_processor
def _inject() -> dict[str, Any]:
    return {"archive_panel": panel_context}


# The code lists (archiving.noark) for the forms, also inside imported macros.
bp.add_app_template_global(noark, "noark")  # type: ignore[arg-type]


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
    # The form lists the messages with checkboxes ("choosing"), or offers every message not yet
    # flagged ("remaining"); with neither, the whole conversation.
    ids = _ids(request.form.getlist("message_ids")) if "choosing" in request.form else None
    if ids is None and "remaining" in request.form:
        ids = triage.unflagged_message_ids(conv)
    details = triage.FlagDetails.from_form(request.form)
    try:
        if ids == [] and "remaining" in request.form:
            raise triage.TriageError("nothing")
        triage.flag_conversation(conv, user, message_ids=ids, details=details)
        case = triage.check_case(conv, details)
    except triage.TriageError as exc:
        db.session.rollback()
        flash(exc.user_message(), "error")
        return _back(conv)
    db.session.commit()
    flash(_("Flagged for the archive. Records staff will review it."), "success")
    if case is not None:
        flash(_("Case %(case)s: %(title)s", case=case.case_number, title=case.title), "success")
    return _back(conv)


@bp.get("/choose")
@login_required
def choose(conversation_id: int):  # type: ignore[no-untyped-def]
    """The flag form with every message listed, text included, for threads too long to list
    in the conversation page's panel."""
    conv = conversation_for_user(conversation_id)
    require_role(conv.tenant_id, *STAFF)
    return render_template(
        "archiving/choose.html",
        conv=conv,
        ap=chooser_context(conv),
        when=short_datetime_formatter(),
    )


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
    details = triage.FlagDetails.from_form(request.form)
    try:
        triage.reflag(item, user, details)
        triage.check_case(conv, details)
    except triage.TriageError as exc:
        db.session.rollback()
        flash(exc.user_message(), "error")
        return _back(conv)
    db.session.commit()
    flash(_("Sent to records staff again."), "success")
    return _back(conv)


@bp.get("/case")
@login_required
def case(conversation_id: int):  # type: ignore[no-untyped-def]
    """Look a case number up before flagging, so the form can show the case's title (or why
    it cannot be used) while the caseworker fills it in."""
    conv = conversation_for_user(conversation_id)
    require_role(conv.tenant_id, *STAFF)
    number = (request.args.get("number") or "").strip()[:20]
    if not triage.CASE_NUMBER_RE.match(number):
        return jsonify(ok=False, message=triage.TriageError("case_format").user_message())
    try:
        found = triage.check_case(conv, triage.FlagDetails(case_number=number))
    except triage.TriageError as exc:
        return jsonify(ok=False, message=exc.user_message())
    assert found is not None
    return jsonify(
        ok=True,
        message=_("Case %(case)s: %(title)s", case=found.case_number, title=found.title),
    )


def _ids(values: list[str]) -> list[int]:
    try:
        return [int(v) for v in values]
    except ValueError:
        abort(400)
