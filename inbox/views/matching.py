"""Confirming or rejecting a suggestion that two contacts are the same citizen."""

from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from inbox.extensions import db
from inbox.models import ContactMatchSuggestion, Role
from inbox.services import matching
from inbox.services.access import require_role

bp = Blueprint("matching", __name__, url_prefix="/contacts/matches")

ACTIONS = {
    "confirm": (matching.confirm, lambda: _("The contacts were merged. You can undo this.")),
    "reject": (matching.reject, lambda: _("The suggestion was rejected.")),
    "undo": (matching.undo, lambda: _("The merge was undone.")),
}
ERRORS = {
    "not_pending": lambda: _("This suggestion has already been decided."),
    "not_confirmed": lambda: _("Only a confirmed merge can be undone."),
    "already_merged": lambda: _("One of the contacts has already been merged elsewhere."),
    "no_access": lambda: _(
        "One of the contacts has conversations you do not have access to. Ask someone in "
        "their team, or a records officer, to merge them."
    ),
}


@bp.app_context_processor
def _helpers() -> dict[str, object]:
    from channels.wordpress.hearing import suggested_replies

    return {
        "match_suggestions": matching.for_conversation,
        "suggested_replies": suggested_replies,
    }


@bp.post("/<int:suggestion_id>/<action>")
@login_required
def decide(suggestion_id: int, action: str):  # type: ignore[no-untyped-def]
    if action not in ACTIONS:
        abort(404)
    row = db.session.get(ContactMatchSuggestion, suggestion_id)
    if row is None:
        abort(404)
    user = require_role(row.tenant_id, Role.CASEWORKER, Role.RECORDS_OFFICER)  # 404 other tenants
    fn, done = ACTIONS[action]
    try:
        fn(row, user)
    except matching.MatchError as exc:
        db.session.rollback()
        message = ERRORS.get(str(exc), lambda: _("That did not work."))()
        if _json():
            return jsonify(error=str(exc), message=message), 409
        flash(message, "error")
        return _back()
    db.session.commit()
    if _json():
        return jsonify(id=row.id, status=str(row.status))
    flash(done(), "success")
    return _back()


def _json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _back():  # type: ignore[no-untyped-def]
    target = request.form.get("next", "")
    # Only local paths: never an open redirect.
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        target = url_for("queue.index")
    return redirect(target, 303)
