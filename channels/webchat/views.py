"""Public web-chat endpoints: the widget script, its frame, and its JSON API.

The API authenticates with the visitor token (X-Chat-Token header), never a cookie, so it is
exempt from CSRF and sends no CORS headers: only the chat frame (our own origin) calls it.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    render_template,
    request,
    send_from_directory,
    stream_with_context,
)
from flask_babel import gettext as _

from channels.webchat import hours, identity, idporten, limits, services
from inbox import ROOT
from inbox.db import writes
from inbox.extensions import csrf, db
from inbox.models import ChannelAccount, Direction, Message, Tenant
from inbox.models.base import utcnow
from inbox.services import account_cache, events
from inbox.services import logo as logos
from inbox.services.account_cache import AccountRef

bp = Blueprint("webchat", __name__)
# Open event streams in this process: each holds a server thread, so they are capped and the
# widget polls instead when the cap is reached (WEBCHAT_MAX_STREAMS).
_open_streams = 0
_streams_lock = threading.Lock()
csrf.exempt(bp)  # the JSON API authenticates with the visitor token, not a cookie

IDENTITY_ERRORS = {
    "identity_invalid": lambda: _("The site's sign-in details for the chat are malformed."),
    "identity_signature": lambda: _("The site's sign-in signature for the chat is not valid."),
    "identity_expired": lambda: _("The site's sign-in signature for the chat has expired."),
    "identity_not_configured": lambda: _("Signed-in chat is not set up for this municipality."),
}
CHAT_INPUT_ERRORS = {
    "json": lambda: _("The request must be a JSON object."),
    "fields": lambda: _("The request has unknown fields."),
    "empty": lambda: _("Write a message first."),
    "too_long": lambda: _("The message is too long."),
    "invalid": lambda: _("The message contains characters that cannot be sent."),
    "client_id": lambda: _("Invalid message id."),
}
PREFERENCE_ERRORS = {
    "method": lambda: _("Choose how you want to be answered."),
    "sms": lambda: _("Write a valid mobile number, for example 912 34 567 or +47 912 34 567."),
    "email": lambda: _("Write a valid e-mail address, for example navn@example.no."),
}


def _error(status: int, code: str, message: str):  # type: ignore[no-untyped-def]
    resp = jsonify(error=code, message=message)
    resp.status_code = status
    return resp


def _account(widget_key: str) -> ChannelAccount:
    account = services.account_for_key(widget_key)
    if account is None:
        abort(404)
    return account


def _cached_account(widget_key: str) -> AccountRef:
    """The widget's account for posting a message (the hot path): id and tenant from the
    per-process account cache (inbox/services/account_cache.py), no query."""
    ref = account_cache.cached(("webchat", widget_key), partial(_load_ref, widget_key))
    if ref is None:
        abort(404)
    return ref


def _load_ref(widget_key: str) -> AccountRef | None:
    account = services.account_for_key(widget_key)
    return account_cache.snapshot(account) if account is not None else None


def _token() -> str | None:
    token = request.headers.get("X-Chat-Token", "")
    return token if services.TOKEN_RE.match(token) else None


def _json_object() -> dict[str, Any] | None:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else None


def _availability(account: ChannelAccount | AccountRef) -> hours.Availability:
    tenant = db.session.get(Tenant, account.tenant_id)
    assert tenant is not None
    return hours.availability(tenant, utcnow(), current_app.config["WEBCHAT_ONLINE_WINDOW_SECONDS"])


def _availability_json(av: hours.Availability) -> dict[str, Any]:
    return {
        "available": av.available,
        "open": av.open,
        "staff_online": av.staff_online,
        "reason": av.reason,
        "today": av.today,
    }


@bp.before_request
def _limits() -> Any:
    g.max_chars = current_app.config["MAX_MESSAGE_CHARS"]
    size = request.content_length or 0
    if request.path.startswith("/api/") and size > current_app.config["WEBCHAT_MAX_REQUEST_BYTES"]:
        return _error(413, "too_large", _("The request is too large."))
    return None


@bp.errorhandler(429)
def _too_many(exc: Exception):  # type: ignore[no-untyped-def]
    resp = _error(429, "rate_limited", _("You are sending too fast. Wait a minute and try again."))
    retry = getattr(exc, "retry_after", None) or 60
    resp.headers["Retry-After"] = str(retry)
    return resp


@bp.get("/widget.js")
def widget_script():  # type: ignore[no-untyped-def]
    resp = send_from_directory(ROOT / "static" / "widget", "widget.js", max_age=300)
    resp.headers["Access-Control-Allow-Origin"] = "*"
    resp.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return resp


@bp.get("/chat/<widget_key>")
def chat_frame(widget_key: str):  # type: ignore[no-untyped-def]
    account = _account(widget_key)
    g.allow_framing = True  # embedded in the municipality's own pages
    resp = current_app.make_response(
        render_template(
            "webchat/chat.html",
            account=account,
            widget_key=widget_key,
            privacy_url=(account.config or {}).get("privacy_url"),
            idporten=idporten.settings(account),
            logo=logos.of(account.tenant_id),
            logo_slug=db.session.get(Tenant, account.tenant_id).slug,
        )
    )
    # Only the municipality's own sites may frame the chat, when it has listed them.
    origins = (account.config or {}).get("allowed_origins") or []
    ancestors = " ".join(o for o in origins if isinstance(o, str) and " " not in o and ";" not in o)
    resp.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; object-src 'none'; "
        f"base-uri 'none'; form-action 'self'; frame-ancestors {ancestors or '*'}"
    )
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/api/chat/<widget_key>/status")
def status(widget_key: str):  # type: ignore[no-untyped-def]
    return jsonify(_availability_json(_availability(_account(widget_key))))


@bp.post("/api/chat/<widget_key>/visitor")
@limits.new_visitor_per_ip
def new_visitor(widget_key: str):  # type: ignore[no-untyped-def]
    account = _account(widget_key)
    data = _json_object()
    if data is None:
        if request.get_data(cache=True):
            return _error(400, "json", _("The request must be a JSON object."))
        data = {}
    if not any(k in data for k in ("user_id", "ts", "sig")):
        return jsonify(token=services.new_visitor_token(), identified=False), 201
    tenant = db.session.get(Tenant, account.tenant_id)
    assert tenant is not None
    try:
        user_id = identity.verify(
            tenant,
            data.get("user_id"),
            data.get("ts"),
            data.get("sig"),
            max_age=current_app.config["WEBCHAT_IDENTITY_MAX_AGE_SECONDS"],
        )
    except identity.IdentityError as exc:
        current_app.logger.warning("web chat identity refused for %s: %s", tenant.slug, exc.code)
        status_code = 400 if exc.code == "identity_invalid" else 403
        return _error(status_code, exc.code, IDENTITY_ERRORS[exc.code]())
    token = services.identified_visitor_token(account, user_id)
    db.session.commit()
    return jsonify(token=token, identified=True), 201


@bp.post("/api/chat/<widget_key>/messages")
@writes
@limits.post_per_ip
@limits.post_per_token
def post_message(widget_key: str):  # type: ignore[no-untyped-def]
    account = _cached_account(widget_key)
    token = _token()
    if token is None:
        return _error(401, "token", _("Missing or invalid chat token."))
    id_settings = idporten.settings(account)
    if (
        id_settings is not None
        and id_settings.required
        and not idporten.token_identified(account, services.visitor_identity(token))
    ):
        message = _("Log in with ID-porten before you write.")
        return _error(403, "identification_required", message)
    try:
        body, client_id = services.parse_visitor_message(_json_object(), g.max_chars)
    except services.ChatInputError as exc:
        return _error(exc.status, exc.code, CHAT_INPUT_ERRORS[exc.reason]())
    av = _availability(account)
    offline = not av.available
    # Checked here, so the visitor hears what is wrong; stored by the inbound worker. The
    # widget shows the message as on its way and finds it by its client id in the stream.
    events.append(
        account,
        "webchat",
        services.event_key(token, client_id),
        services.event_body(token, client_id, body, offline=offline),
        url=request.url,
        headers=request.headers,
    )
    conv = services.current_conversation(account, token)
    meta = (conv.meta if conv is not None else None) or {}
    asked = offline or bool(meta.get("left_while_unavailable"))
    has_pref = bool(meta.get("reply_preference"))
    sent_at = utcnow().isoformat()
    db.session.commit()  # stored before the visitor hears 202
    pending = {"client_id": client_id, "from": "citizen", "body": body, "sent_at": sent_at}
    return jsonify(
        message={**pending, "status": "pending", "pending": True, "read": False},
        availability=_availability_json(av),
        ask_reply_preference=asked and not has_pref,
    ), 202


@bp.get("/api/chat/<widget_key>/messages")
@limits.read_per_token
def list_messages(widget_key: str):  # type: ignore[no-untyped-def]
    account = _account(widget_key)
    token = _token()
    if token is None:
        return _error(401, "token", _("Missing or invalid chat token."))
    after = request.args.get("after", "0")
    after_id = int(after) if after.isdigit() else 0
    msgs = services.visitor_messages(account, token, after_id)
    state = services.visitor_state(account, token, after_id, utcnow())
    db.session.commit()
    return jsonify(messages=[_public(m) for m in msgs], **state)


@bp.get("/api/chat/<widget_key>/stream")
@limits.read_per_token
def stream(widget_key: str):  # type: ignore[no-untyped-def]
    """Server-sent events: new messages, read receipts, typing and availability, for a
    bounded time (the widget reconnects with ?after=<last id>)."""
    account = _account(widget_key)
    token = _token()
    if token is None:
        return _error(401, "token", _("Missing or invalid chat token."))
    after = request.args.get("after", "0")
    cfg = current_app.config
    account_id = account.id
    duration, interval = cfg["WEBCHAT_STREAM_SECONDS"], cfg["WEBCHAT_STREAM_POLL_SECONDS"]
    if not _claim_stream(cfg["WEBCHAT_MAX_STREAMS"]):
        resp = _error(503, "busy", _("Live updates are busy; the chat checks for news instead."))
        resp.headers["Retry-After"] = "30"
        return resp

    def events():  # type: ignore[no-untyped-def]
        last_id = int(after) if after.isdigit() else 0
        sent: dict[str, Any] = {}
        deadline = time.monotonic() + duration
        ticks = 0
        yield "retry: 2000\n\n"
        contact_id: int | None = None
        while True:
            acc = db.session.get(ChannelAccount, account_id)
            if acc is None or not acc.enabled:
                yield _event("end", {"reason": "gone"})
                return
            # The token's contact: looked up until the visitor has written, then re-checked
            # now and then (ending the chat forgets the token).
            if contact_id is None or ticks % 10 == 0:
                contact_id = services.visitor_contact_id(acc, token)
            if contact_id is None:
                news: dict[str, Any] = {"read_up_to": 0, "typing": False}
            else:
                for m in services.visitor_messages(acc, token, last_id, contact_id=contact_id):
                    last_id = max(last_id, m.id)
                    yield _event("message", _public(m), m.id)
                news = services.visitor_state(acc, token, last_id, utcnow(), contact_id=contact_id)
            if ticks % 10 == 0:
                news["availability"] = _availability_json(_availability(acc))
            db.session.commit()
            db.session.close()  # hand the connection back while we wait
            for name, value in news.items():
                if sent.get(name) != value:
                    sent[name] = value
                    yield _event(name, value)
            if ticks % 15 == 0:
                yield ": keep-alive\n\n"
            if time.monotonic() >= deadline:
                yield _event("end", {"reason": "timeout"})
                return
            ticks += 1
            time.sleep(interval)

    resp = Response(
        stream_with_context(events()),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
    resp.call_on_close(_release_stream)
    return resp


def _claim_stream(limit: int) -> bool:
    global _open_streams
    with _streams_lock:
        if _open_streams >= limit:
            return False
        _open_streams += 1
        return True


def _release_stream() -> None:
    global _open_streams
    with _streams_lock:
        _open_streams = max(0, _open_streams - 1)


def _event(name: str, data: Any, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@bp.post("/api/chat/<widget_key>/reply-preference")
@limits.post_per_ip
@limits.post_per_token
def reply_preference(widget_key: str):  # type: ignore[no-untyped-def]
    account = _account(widget_key)
    token = _token()
    if token is None:
        return _error(401, "token", _("Missing or invalid chat token."))
    data = _json_object()
    if data is None or set(data) - {"method", "value"}:
        return _error(400, "json", _("The request must be a JSON object."))
    conv = services.current_conversation(account, token)
    if conv is None:
        return _error(409, "no_conversation", _("Write your message first."))
    try:
        pref = services.normalise_reply_preference(data.get("method"), data.get("value"))
    except services.PreferenceError as exc:
        return _error(400, f"invalid_{exc.code}", PREFERENCE_ERRORS[exc.code]())
    services.set_reply_preference(conv, pref)
    db.session.commit()
    return jsonify(reply_preference=pref)


@bp.get("/api/chat/<widget_key>/transcript")
@limits.read_per_token
def transcript(widget_key: str):  # type: ignore[no-untyped-def]
    """The visitor's conversation as a plain-text file (never HTML: nothing to inject)."""
    account = _account(widget_key)
    token = _token()
    if token is None:
        return _error(401, "token", _("Missing or invalid chat token."))
    tenant = db.session.get(Tenant, account.tenant_id)
    assert tenant is not None
    try:
        zone = ZoneInfo(tenant.timezone)
    except (ValueError, KeyError):
        zone = ZoneInfo("Europe/Oslo")
    msgs = services.visitor_messages(account, token, 0)
    db.session.commit()
    now = utcnow().astimezone(zone)
    lines = [_("Chat with %(name)s", name=account.name), now.strftime("%Y-%m-%d %H:%M"), ""]
    for m in msgs:
        who = _("You") if m.direction is Direction.INBOUND else _("Service desk")
        when: datetime = m.sent_at.astimezone(zone)
        lines.append(f"[{when:%Y-%m-%d %H:%M}] {who}:")
        lines.extend("  " + line for line in m.body.splitlines() or [""])
        lines.append("")
    resp = Response("\n".join(lines), mimetype="text/plain")
    resp.charset = "utf-8"
    resp.headers["Content-Disposition"] = f'attachment; filename="chat-{now:%Y%m%d-%H%M}.txt"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/api/chat/<widget_key>/end")
@limits.post_per_ip
@limits.post_per_token
def end(widget_key: str):  # type: ignore[no-untyped-def]
    account = _account(widget_key)
    token = _token()
    if token is None:
        return _error(401, "token", _("Missing or invalid chat token."))
    ended = services.end_chat(account, token)
    db.session.commit()
    return jsonify(ended=ended)


def _public(m: Message) -> dict[str, object]:
    """What the citizen may see of a message: no staff names, no internal ids beyond ours."""
    public: dict[str, object] = {
        "id": m.id,
        "from": "citizen" if m.direction is Direction.INBOUND else "staff",
        "body": m.body,
        "sent_at": m.sent_at.isoformat(),
        "status": str(m.delivery_status),
        "read": m.read_at is not None,
    }
    client_id = services.client_id_of(m)
    if client_id is not None:  # the widget replaces its pending bubble with this message
        public["client_id"] = client_id
    return public
