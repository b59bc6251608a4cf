"""/api/v1: the blueprint, its request checks and the read operations."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, current_app, json, request
from werkzeug.exceptions import HTTPException

from inbox.api import PREFIX, auth, problems, schema, serialise
from inbox.api.problems import ApiProblem, invalid
from inbox.extensions import csrf, db
from inbox.models import ApiScope, ChannelAccount, ChannelKind, Conversation, ConversationStatus
from inbox.ratelimit import limiter
from inbox.services import queue, search, tags, thread
from inbox.services.queue import QueueQuery, View
from inbox.untrusted import loads

bp = Blueprint("api_v1", __name__, url_prefix=PREFIX)
csrf.exempt(bp)  # bearer tokens only, never the session cookie (inbox/api/auth.py)
auth.per_token(bp)

MAX_ID = 2**31 - 1  # ids beyond this cannot exist (and would overflow an integer column)
MAX_QUERY = 200
DEFAULT_LIMIT, MAX_LIMIT = 25, 100
PUBLIC = ("api_v1.openapi",)
DIGITS = re.compile(r"^[0-9]+$")  # str.isdigit() also takes "²", which int() refuses


# The query parameters each operation takes; any other is refused rather than ignored.
QUERY = {
    "api_v1.list_conversations": {"status", "team", "assignee", "channel", "q", "cursor", "limit"}
}


@bp.before_request
def _authenticate() -> None:
    if request.endpoint in PUBLIC:
        return
    auth.authenticate()
    unknown = sorted(set(request.args) - QUERY.get(request.endpoint or "", set()))
    if unknown:
        raise invalid(unknown[0][:40] or "(empty)", "unknown query parameter")


@bp.errorhandler(ApiProblem)
def _problem(exc: ApiProblem) -> Response:
    db.session.rollback()
    return problems.response(exc)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    db.session.rollback()
    return problems.from_http_exception(exc)


def answer(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    resp = Response(json.dumps(data), status=status, mimetype="application/json")
    resp.headers.update(headers or {})
    resp.headers["Cache-Control"] = "no-store"
    return resp


def json_body(allowed: set[str], required: set[str] = frozenset()) -> dict[str, Any]:  # type: ignore[assignment]
    """The request's JSON object: 415 if not JSON, 400 if malformed, 422 for unknown or
    missing fields (the body size is bounded by MAX_CONTENT_LENGTH: 413)."""
    if request.mimetype != "application/json":
        raise ApiProblem(415, "Send the body as application/json.")
    try:
        data = loads(request.get_data(cache=False) or b"")
    except ValueError:
        raise ApiProblem(400, "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise invalid("body", "must be a JSON object")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise invalid(unknown[0], "unknown field")
    missing = sorted(required - set(data))
    if missing:
        raise invalid(missing[0], "is required")
    return data


def conversation_or_404(conversation_id: int) -> Conversation:
    """The token's municipality's conversation; 404 for unknown ids and other tenants' alike."""
    conv = db.session.get(Conversation, conversation_id) if conversation_id <= MAX_ID else None
    if conv is None or conv.tenant_id != auth.token().tenant_id:
        raise ApiProblem(404, f"No conversation {conversation_id}.")
    return conv


def id_arg(name: str) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if not DIGITS.match(raw) or len(raw) > 10 or not 1 <= int(raw) <= MAX_ID:
        raise invalid(name, "must be a positive integer")
    return int(raw)


def enum_arg(name: str, enum_cls: Any, default: Any = None) -> Any:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        return enum_cls(raw)
    except ValueError:
        choices = ", ".join(e.value for e in enum_cls)
        raise invalid(name, f"must be one of {choices}") from None


def list_query() -> tuple[QueueQuery, int]:
    team_id = id_arg("team")
    raw_assignee = request.args.get("assignee")
    view, assignee = View.ALL, None
    if raw_assignee == "none":
        view = View.UNASSIGNED
    elif raw_assignee is not None:
        assignee = id_arg("assignee")
    raw_limit = request.args.get("limit", str(DEFAULT_LIMIT))
    if not (DIGITS.match(raw_limit) and len(raw_limit) <= 3 and 1 <= int(raw_limit) <= MAX_LIMIT):
        raise invalid("limit", f"must be between 1 and {MAX_LIMIT}")
    q = QueueQuery(
        view=view,
        status=enum_arg("status", ConversationStatus, ConversationStatus.OPEN),
        channel=enum_arg("channel", ChannelKind),
        team_id=team_id,
        assignee_id=assignee,
    )
    return q, int(raw_limit)


@bp.get("/openapi.json")
@limiter.exempt
def openapi() -> Response:
    return answer(schema.document(current_app.config.get("PUBLIC_BASE_URL")))


@bp.get("/conversations")
@auth.requires(ApiScope.READ)
def list_conversations() -> Response:
    q, limit = list_query()
    actor = auth.actor()
    text = request.args.get("q")
    cursor = request.args.get("cursor")
    if text is not None and len(text) > MAX_QUERY:
        raise invalid("q", f"at most {MAX_QUERY} characters")
    if cursor is not None and (len(cursor) > 200 or text):
        raise invalid("cursor", "not valid here" if text else "not a cursor from this API")
    if text:
        found = search.search(actor, text, q, limit=limit)  # type: ignore[arg-type]
        convs: list[Conversation] = []
        for hit in [*found.contacts, *found.messages]:
            if hit.conversation.id not in {c.id for c in convs}:
                convs.append(hit.conversation)
        convs, next_cursor = convs[:limit], None
    else:
        try:
            page = queue.queue_page(actor, q, cursor, limit)  # type: ignore[arg-type]
        except queue.BadQuery:
            raise invalid("cursor", "not a cursor from this API") from None
        convs, next_cursor = page.conversations, page.next_cursor
    names = tags.names_for(c.id for c in convs)
    body = {
        "conversations": [serialise.conversation(c, names.get(c.id)) for c in convs],
        "next_cursor": next_cursor,
    }
    db.session.rollback()
    return answer(body)


@bp.get("/conversations/<int:conversation_id>")
@auth.requires(ApiScope.READ)
def get_conversation(conversation_id: int) -> Response:
    conv = conversation_or_404(conversation_id)
    items = thread.thread(conv, auth.actor())  # type: ignore[arg-type]
    body = {
        "conversation": serialise.conversation_detail(
            conv, tags.names_for([conv.id]).get(conv.id, [])
        ),
        "messages": [serialise.thread_item(i) for i in items],
    }
    db.session.rollback()
    return answer(body)


@bp.get("/directory")
@auth.requires(ApiScope.READ, ApiScope.WRITE, ApiScope.HANDOVER)
def directory() -> Response:
    """The ids an integration needs: staff and teams (to assign), channels (to hand over)."""
    tenant_id = auth.token().tenant_id
    staff, teams = thread.staff_and_teams(tenant_id)
    from sqlalchemy import select

    channels = db.session.scalars(
        select(ChannelAccount)
        .where(ChannelAccount.tenant_id == tenant_id, ChannelAccount.enabled.is_(True))
        .order_by(ChannelAccount.id)
    )
    body = {
        "staff": [{"id": s.id, "name": s.name} for s in staff],
        "teams": [{"id": t.id, "name": t.name} for t in teams],
        "channels": [{"id": c.id, "kind": c.kind.value, "name": c.name} for c in channels],
    }
    db.session.rollback()
    return answer(body)
