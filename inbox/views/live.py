"""Real-time endpoints: the Server-Sent Events stream, typing presence, the shortcut help.

gunicorn runs gthread workers, so an open stream holds a thread: every stream ends after
REALTIME_STREAM_SECONDS with a retry hint and the browser reconnects (EventSource does so by
itself, sending Last-Event-ID so the database-polling mode resumes where it stopped).
"""

from __future__ import annotations

import json

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    render_template,
    request,
    stream_with_context,
)
from flask_login import login_required

from inbox.extensions import db
from inbox.models import ChannelKind, Role
from inbox.services import presence, realtime
from inbox.services.access import Audience, conversation_for_user, current, require_role

bp = Blueprint("live", __name__, url_prefix="/live")


@bp.get("/events")
def events():  # type: ignore[no-untyped-def]
    user = current()  # 401 for a stream without a session: EventSource gives up, page polls
    audience = Audience(user)
    db.session.commit()  # end the request's transaction: the stream must not hold it open
    cfg = current_app.config
    seconds = float(cfg["REALTIME_STREAM_SECONDS"])
    poll = float(cfg["REALTIME_POLL_SECONDS"])
    last_id = request.headers.get("Last-Event-ID") or request.args.get("last_id")
    source = realtime.events_for(audience.tenant_ids, last_id, seconds, poll)

    def generate():  # type: ignore[no-untyped-def]
        yield f"retry: {int(cfg['REALTIME_RETRY_MS'])}\n: connected\n\n"
        for event_id, payload in source:
            if payload is None:
                yield ": keep-alive\n\n"
                continue
            head = f"id: {event_id}\n" if event_id else ""
            if not audience.admits(payload.get("conversation_id")):
                # Another team's conversation: not even its id goes out. An id-only block
                # moves the browser's Last-Event-ID on without dispatching anything.
                if head:
                    yield head + "\n"
                continue
            yield f"{head}event: {payload['type']}\ndata: {json.dumps(payload)}\n\n"

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return Response(stream_with_context(generate()), mimetype="text/event-stream", headers=headers)


@bp.post("/typing/<int:conversation_id>")
@login_required
def typing(conversation_id: int):  # type: ignore[no-untyped-def]
    conv = conversation_for_user(conversation_id)
    user = require_role(conv.tenant_id, Role.CASEWORKER, Role.RECORDS_OFFICER)
    presence.report_typing(conv, user)
    if conv.channel_account.kind is ChannelKind.WEBCHAT:
        # The citizen's widget shows "writing…" too.
        from channels.webchat.services import set_staff_typing

        set_staff_typing(conv, True, current_app.config["WEBCHAT_TYPING_SECONDS"])
    db.session.commit()
    return jsonify(ok=True, seconds=presence.TYPING_SECONDS)


@bp.get("/typing/<int:conversation_id>")
@login_required
def who_is_typing(conversation_id: int):  # type: ignore[no-untyped-def]
    conv = conversation_for_user(conversation_id)
    names = presence.typing_now(conv, exclude_user_id=current().id)
    db.session.commit()
    return jsonify(typing=names)


@bp.get("/shortcuts")
@login_required
def shortcuts():  # type: ignore[no-untyped-def]
    return render_template("inbox/_shortcuts.html")
