"""Public web-chat endpoints: the widget script, its frame, and its JSON API."""

from __future__ import annotations

from flask import Blueprint, abort, g, jsonify, render_template, request, send_from_directory
from flask_babel import gettext as _

from channels.webchat import services
from inbox import ROOT
from inbox.extensions import csrf, db
from inbox.models import ChannelAccount, Direction, Message

bp = Blueprint("webchat", __name__)
csrf.exempt(bp)  # the JSON API authenticates with the visitor token, not a cookie


def _error(status: int, code: str, message: str):  # type: ignore[no-untyped-def]
    resp = jsonify(error=code, message=message)
    resp.status_code = status
    return resp


def _account(widget_key: str) -> ChannelAccount:
    account = services.account_for_key(widget_key)
    if account is None:
        abort(404)
    return account


def _token() -> str | None:
    token = request.headers.get("X-Chat-Token", "")
    return token if services.TOKEN_RE.match(token) else None


@bp.get("/widget.js")
def widget_script():  # type: ignore[no-untyped-def]
    resp = send_from_directory(ROOT / "static" / "widget", "widget.js", max_age=300)
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


@bp.get("/chat/<widget_key>")
def chat_frame(widget_key: str):  # type: ignore[no-untyped-def]
    account = _account(widget_key)
    g.allow_framing = True  # embedded in the municipality's own pages
    return render_template("webchat/chat.html", account=account, widget_key=widget_key)


@bp.post("/api/chat/<widget_key>/visitor")
def new_visitor(widget_key: str):  # type: ignore[no-untyped-def]
    _account(widget_key)
    return jsonify(token=services.new_visitor_token()), 201


@bp.post("/api/chat/<widget_key>/messages")
def post_message(widget_key: str):  # type: ignore[no-untyped-def]
    account = _account(widget_key)
    token = _token()
    if token is None:
        return _error(401, "token", _("Missing or invalid chat token."))
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return _error(400, "json", _("The request must be a JSON object."))
    body, client_id = data.get("body"), data.get("client_id")
    if not isinstance(body, str) or not body.strip():
        return _error(400, "empty", _("Write a message first."))
    if len(body) > g.get("max_chars", 0) or "\x00" in body:
        return _error(413, "too_long", _("The message is too long."))
    if not isinstance(client_id, str) or not services.CLIENT_ID_RE.match(client_id):
        return _error(400, "client_id", _("Invalid message id."))
    msg = services.post_message(account, token, client_id, body.strip())
    db.session.commit()
    return jsonify(message=_public(msg)), 201


@bp.get("/api/chat/<widget_key>/messages")
def list_messages(widget_key: str):  # type: ignore[no-untyped-def]
    account = _account(widget_key)
    token = _token()
    if token is None:
        return _error(401, "token", _("Missing or invalid chat token."))
    after = request.args.get("after", "0")
    after_id = int(after) if after.isdigit() else 0
    msgs = services.visitor_messages(account, token, after_id)
    db.session.commit()
    return jsonify(messages=[_public(m) for m in msgs])


@bp.before_request
def _limits() -> None:
    from flask import current_app

    g.max_chars = current_app.config["MAX_MESSAGE_CHARS"]


def _public(m: Message) -> dict[str, object]:
    """What the citizen may see of a message: no staff names, no internal ids beyond ours."""
    return {
        "id": m.id,
        "from": "citizen" if m.direction is Direction.INBOUND else "staff",
        "body": m.body,
        "sent_at": m.sent_at.isoformat(),
        "status": str(m.delivery_status),
    }
