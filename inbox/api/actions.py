"""/api/v1 write operations: each validates the JSON, calls the same service as the inbox's
own form, commits, and answers with the changed resource. The services write the audit log;
the actor is the token (inbox/services/api_tokens.TokenActor), so entries name it."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_babel import force_locale

from archiving import triage
from channels.registry import reply_limits
from inbox.api import auth, serialise
from inbox.api.problems import ApiProblem, invalid
from inbox.api.views import MAX_ID, answer, bp, conversation_or_404, json_body
from inbox.extensions import db
from inbox.models import ApiScope, ChannelAccount, ConversationStatus, IdentityKind
from inbox.models.base import utcnow
from inbox.services import conversations, handover, tags, workflow
from inbox.views.actions import ERRORS as WORKFLOW_ERRORS

REPLY_ERRORS = {
    "empty": "Write a reply first.",
    "too_long": "The text is too long.",
    "invalid": "The text contains characters that cannot be sent.",
}


def _english(text: Any) -> str:
    with force_locale("en"):
        return str(text())


def _detail(conv_id: int) -> Response:
    conv = conversation_or_404(conv_id)
    names = tags.names_for([conv.id]).get(conv.id, [])
    return answer({"conversation": serialise.conversation_detail(conv, names)})


def _optional_id(data: dict[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_ID:
        raise invalid(name, "must be a positive integer or null")
    return value


@bp.post("/conversations/<int:conversation_id>/messages")
@auth.requires(ApiScope.WRITE)
def post_message(conversation_id: int) -> Response:
    """A reply to the citizen (sent through the channel after the commit) or an internal note."""
    conv = conversation_or_404(conversation_id)
    data = json_body({"kind", "body"}, {"body"})
    kind, body = data.get("kind", "reply"), data["body"]
    if kind not in ("reply", "note"):
        raise invalid("kind", "must be reply or note")
    if not isinstance(body, str):
        raise invalid("body", "must be a string")
    actor = auth.actor()
    try:
        if kind == "note":
            msg = conversations.add_note(conv, actor, body)  # type: ignore[arg-type]
        else:
            limits = reply_limits(conv)
            if limits.get("blocked"):
                raise ApiProblem(
                    409,
                    f"The channel cannot take a reply now ({limits['blocked']}).",
                    code="cannot-reply",
                )
            if len(body.replace("\r\n", "\n").strip()) > limits["max_chars"]:
                raise invalid("body", f"at most {limits['max_chars']} characters in this channel")
            msg = conversations.reply(conv, actor, body)  # type: ignore[arg-type]
    except conversations.InvalidReply as exc:
        reason = str(exc)
        if reason in REPLY_ERRORS:
            raise invalid("body", REPLY_ERRORS[reason]) from None
        raise ApiProblem(
            409, f"The channel cannot take a reply now ({reason}).", code="cannot-reply"
        ) from None
    msg.meta = {**(msg.meta or {}), "api_token": actor.name}
    db.session.commit()
    return answer({"message": serialise.message(msg)}, 201)


@bp.post("/conversations/<int:conversation_id>/status")
@auth.requires(ApiScope.WRITE)
def set_status(conversation_id: int) -> Response:
    conv = conversation_or_404(conversation_id)
    data = json_body({"status", "snoozed_until"}, {"status"})
    status, until = data["status"], data.get("snoozed_until")
    if status not in {s.value for s in ConversationStatus}:
        raise invalid("status", "must be one of open, pending, snoozed, closed")
    actor = auth.actor()
    try:
        if status == ConversationStatus.SNOOZED.value:
            if until is None:
                raise invalid("snoozed_until", "is required to snooze")
            when = handover.parse_time(until, "snoozed_until")
            assert when is not None
            workflow.snooze(conv, actor, when)  # type: ignore[arg-type]
        else:
            if until is not None:
                raise invalid("snoozed_until", "only with status snoozed")
            workflow.change_status(conv, actor, status)  # type: ignore[arg-type]
    except handover.HandoverError:
        raise invalid("snoozed_until", "must be a date and time with a time zone") from None
    except workflow.WorkflowError as exc:
        field = "snoozed_until" if str(exc).startswith("snooze") else "status"
        raise invalid(field, _english(WORKFLOW_ERRORS[str(exc)])) from None
    db.session.commit()
    return _detail(conv.id)


@bp.post("/conversations/<int:conversation_id>/assign")
@auth.requires(ApiScope.WRITE)
def assign(conversation_id: int) -> Response:
    """Assign to a member of the municipality (null: nobody); with team_id, move it to that
    team first (null: no team)."""
    conv = conversation_or_404(conversation_id)
    data = json_body({"assignee_id", "team_id"})
    if not data:
        raise invalid("assignee_id", "give assignee_id, team_id or both")
    actor = auth.actor()
    try:
        if "team_id" in data:
            workflow.transfer(conv, actor, _optional_id(data, "team_id"))  # type: ignore[arg-type]
        if "assignee_id" in data:
            workflow.assign(conv, actor, _optional_id(data, "assignee_id"))  # type: ignore[arg-type]
    except workflow.WorkflowError as exc:
        field = "team_id" if str(exc) == "unknown_team" else "assignee_id"
        raise invalid(field, _english(WORKFLOW_ERRORS[str(exc)])) from None
    db.session.commit()
    return _detail(conv.id)


@bp.post("/conversations/<int:conversation_id>/tags")
@auth.requires(ApiScope.WRITE)
def add_tag(conversation_id: int) -> Response:
    conv = conversation_or_404(conversation_id)
    data = json_body({"tag"}, {"tag"})
    try:
        tags.add(conv, auth.actor(), data["tag"])
    except tags.InvalidTag:
        raise invalid("tag", f"must be text of 1 to {tags.MAX_CHARS} characters") from None
    db.session.commit()
    return _detail(conv.id)


@bp.delete("/conversations/<int:conversation_id>/tags/<path:tag>")
@auth.requires(ApiScope.WRITE)
def remove_tag(conversation_id: int, tag: str) -> Response:
    conv = conversation_or_404(conversation_id)
    try:
        tags.remove(conv, auth.actor(), tag)
    except tags.InvalidTag:
        raise invalid("tag", f"must be text of 1 to {tags.MAX_CHARS} characters") from None
    db.session.commit()
    return _detail(conv.id)


# Where the flag form's rules (archiving/triage.py) find what is wrong.
FLAG_FIELDS = {
    "case": "case_number",
    "case_both": "case_number",
    "case_format": "case_number",
    "title": "title",
    "correspondent": "correspondent_name",
    "screening_code": "screening_code",
    "screening_fields": "screening_fields",
    "screening_basis": "screening_basis",
    "type": "types",
    "messages": "message_ids",
    "nothing": "message_ids",
    "case_unknown": "case_number",
    "case_closed": "case_number",
}
FLAG_TEXT = (
    "case_number",
    "new_case_title",
    "title",
    "correspondent_name",
    "correspondent_address",
    "screening_code",
    "screening_basis",
    "note",
)


def _flag_details(
    conv: Any, data: dict[str, Any], ids: list[int] | None = None
) -> triage.FlagDetails:
    """The flag form's fields, starting from what the form shows pre-filled (the author of
    the chosen messages as correspondent)."""
    details = triage.default_details(conv, ids)
    for name in FLAG_TEXT:
        if name in data:
            if not isinstance(data[name], str):
                raise invalid(name, "must be a string")
            setattr(details, name, data[name])
    if "anonymous" in data:
        if not isinstance(data["anonymous"], bool):
            raise invalid("anonymous", "must be true or false")
        details.anonymous = data["anonymous"]
    fields = data.get("screening_fields", [])
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise invalid("screening_fields", "must be a list of codes")
    details.screening_fields = ",".join(fields)
    types = data.get("types", {})
    if not isinstance(types, dict) or not all(
        k.isascii() and k.isdigit() and len(k) <= 10 and isinstance(v, str)
        for k, v in types.items()
    ):
        raise invalid("types", "must map message ids to I, U, N or X")
    details.types = {int(k): v.strip().upper() for k, v in types.items()}
    return details


@bp.post("/conversations/<int:conversation_id>/archive-flags")
@auth.requires(ApiScope.WRITE)
def flag_for_archive(conversation_id: int) -> Response:
    """Flag the conversation (or the chosen messages) for the archive, as the flag form does."""
    conv = conversation_or_404(conversation_id)
    data = json_body({*FLAG_TEXT, "anonymous", "screening_fields", "types", "message_ids"})
    ids = data.get("message_ids")
    if ids is not None and (
        not isinstance(ids, list)
        or not all(isinstance(i, int) and not isinstance(i, bool) and 1 <= i <= MAX_ID for i in ids)
    ):
        raise invalid("message_ids", "must be a list of message ids")
    details = _flag_details(conv, data, ids)
    try:
        item = triage.flag_conversation(conv, auth.actor(), message_ids=ids, details=details)  # type: ignore[arg-type]
        triage.check_case(conv, details)
    except triage.TriageError as exc:
        db.session.rollback()
        with force_locale("en"):
            message = exc.user_message()
        if str(exc) == "case_unreachable":
            raise ApiProblem(503, message, code="records-unavailable") from None
        if str(exc) == "already":
            raise ApiProblem(409, message, code="already-flagged") from None
        raise invalid(FLAG_FIELDS.get(str(exc), "body"), message) from None
    db.session.commit()
    body = {
        "archive_item": {
            "id": item.id,
            "conversation_id": conv.id,
            "state": item.state.value,
            "title": item.title,
            "case_number": item.case_number,
            "new_case_title": item.new_case_title,
            "message_ids": sorted(m.message_id for m in item.messages),
        }
    }
    return answer(body, 201)


@bp.post("/conversations")
@auth.requires(ApiScope.HANDOVER)
def create_conversation() -> Response:
    """A chatbot (or another system) hands a citizen over to a person, with the transcript."""
    data = json_body(
        {"channel_id", "contact", "transcript", "summary", "handover_id", "bot_name"},
        {"channel_id", "contact", "transcript"},
    )
    token = auth.token()
    channel_id = data["channel_id"]
    account = None
    if (
        isinstance(channel_id, int)
        and not isinstance(channel_id, bool)
        and 1 <= channel_id <= MAX_ID
    ):
        account = db.session.get(ChannelAccount, channel_id)
    if account is None or account.tenant_id != token.tenant_id or not account.enabled:
        raise invalid("channel_id", "no such channel in this municipality")
    contact = data["contact"]
    if not isinstance(contact, dict) or set(contact) - {"identity_kind", "identity_value", "name"}:
        raise invalid("contact", "must be an object with identity_kind, identity_value and name")
    try:
        kind = IdentityKind(contact.get("identity_kind"))
    except ValueError:
        raise invalid("contact.identity_kind", "not an identity kind") from None
    raw_value = contact.get("identity_value")
    if not isinstance(raw_value, str):
        raise invalid("contact.identity_value", "must be a string")
    now = utcnow()
    try:
        h = handover.Handover(
            handover_id=handover.new_id(data.get("handover_id")),
            identity_kind=kind,
            identity_value=handover.identity_value(account, kind, raw_value),
            contact_name=handover.name(contact.get("name"), "contact.name"),
            lines=handover.parse_lines(data["transcript"], now),
            summary=handover.name(data.get("summary"), "summary", 4000),
            bot_name=handover.name(data.get("bot_name"), "bot_name", 80),
        )
    except handover.HandoverError as exc:
        raise invalid(exc.field or "body", HANDOVER_ERRORS.get(str(exc), str(exc))) from None
    conv, created = handover.store(account, auth.actor(), h)
    db.session.commit()
    names = tags.names_for([conv.id]).get(conv.id, [])
    body = {
        "conversation": serialise.conversation_detail(conv, names),
        "handover_id": h.handover_id,
    }
    return answer(body, 201 if created else 200)


HANDOVER_ERRORS = {
    "identity_kind": "this channel has no such identity (web chat: chat_visitor or chat_user; "
    "SMS: phone; Messenger: facebook_psid)",
    "identity_value": "not a valid identity for this kind",
    "transcript": "must be a non-empty list of lines",
    "transcript_long": f"at most {handover.MAX_LINES} lines",
    "line": "must be an object with from, body and sent_at",
    "line_from": "must be citizen or bot",
    "line_body": "must be non-empty text",
    "time": "must be a date and time with a time zone (ISO 8601)",
    "time_future": "lies in the future",
    "no_citizen": "needs at least one line from the citizen",
    "handover_id": "1 to 64 letters, digits, '-', '_' or '.'",
    "text": "must be a string",
}
