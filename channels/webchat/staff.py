"""Endpoints the inbox calls for web-chat conversations (signed-in staff, CSRF-protected)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from flask_login import login_required

from channels.webchat import services
from inbox.extensions import db
from inbox.models import ChannelKind, Role
from inbox.services.access import conversation_for_user, require_role

bp = Blueprint("webchat_staff", __name__)


@bp.post("/api/inbox/conversations/<int:conversation_id>/typing")
@login_required
def typing(conversation_id: int):  # type: ignore[no-untyped-def]
    """The caseworker is writing (or stopped): the citizen's widget shows "writing…".

    Body: {"typing": true|false}; call it every few seconds while typing. It expires by itself
    after WEBCHAT_TYPING_SECONDS. Send the CSRF token in the X-CSRFToken header.
    """
    conv = conversation_for_user(conversation_id)
    require_role(conv.tenant_id, Role.CASEWORKER, Role.RECORDS_OFFICER)
    data = request.get_json(silent=True)
    if data is None:
        data = {}
    if not isinstance(data, dict) or not isinstance(data.get("typing", True), bool):
        return jsonify(error="json", message='Body must be {"typing": true|false}.'), 400
    if conv.channel_account.kind is not ChannelKind.WEBCHAT:
        return jsonify(typing=False, supported=False)
    on = data.get("typing", True)
    services.set_staff_typing(conv, on, current_app.config["WEBCHAT_TYPING_SECONDS"])
    db.session.commit()
    return jsonify(typing=on, supported=True)
