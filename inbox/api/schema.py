"""The OpenAPI 3.1 document of /api/v1, written by hand. tests/test_api_schema.py runs
Schemathesis over every operation against the app, so the document and the code stay in step.
"""

from __future__ import annotations

from typing import Any

from inbox.api import PREFIX
from inbox.models import ChannelKind, ConversationStatus, DeliveryStatus, IdentityKind
from inbox.services.handover import MAX_LINES

ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
TIME = {"type": "string", "format": "date-time"}
NULL_TIME = {"type": ["string", "null"], "format": "date-time"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(props: dict[str, Any], required: list[str] | None = None, **kw: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": props,
        "required": list(props) if required is None else required,
        **kw,
    }


SCHEMAS: dict[str, Any] = {
    "Problem": _obj(
        {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "errors": {
                "type": "array",
                "items": _obj({"field": {"type": "string"}, "message": {"type": "string"}}),
            },
        },
        ["type", "title", "status", "detail"],
    ),
    "Channel": _obj(
        {
            "id": ID,
            "kind": {"type": "string", "enum": [k.value for k in ChannelKind]},
            "name": {"type": "string"},
        }
    ),
    "Conversation": _obj(
        {
            "id": ID,
            "status": {"type": "string", "enum": [s.value for s in ConversationStatus]},
            "channel": _ref("Channel"),
            "contact": _obj({"id": ID, "name": {"type": ["string", "null"]}}),
            "team_id": {"type": ["integer", "null"]},
            "assignee_id": {"type": ["integer", "null"]},
            "last_activity_at": TIME,
            "waiting_since": NULL_TIME,
            "snoozed_until": NULL_TIME,
            "has_unread": {"type": "boolean"},
            "flagged_for_archive": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
        }
    ),
    "ConversationDetail": {
        "allOf": [
            _ref("Conversation"),
            _obj(
                {
                    "subject": {"type": ["string", "null"]},
                    "created_at": TIME,
                    "closed_at": NULL_TIME,
                    "merged_into_id": {"type": ["integer", "null"]},
                }
            ),
        ]
    },
    "Message": _obj(
        {
            "id": ID,
            "conversation_id": ID,
            "direction": {"type": "string", "enum": ["in", "out"]},
            "kind": {"type": "string", "enum": ["message", "note"]},
            "author": _obj(
                {
                    "type": {
                        "type": "string",
                        "enum": ["citizen", "staff", "bot", "api", "system"],
                    },
                    "name": {"type": ["string", "null"]},
                }
            ),
            "body": {"type": "string"},
            "sent_at": TIME,
            "delivery_status": {"type": "string", "enum": [d.value for d in DeliveryStatus]},
            "attachments": {
                "type": "array",
                "items": _obj(
                    {
                        "id": ID,
                        "filename": {"type": "string"},
                        "content_type": {"type": "string"},
                        "size": {"type": "integer"},
                    }
                ),
            },
        }
    ),
    "ConversationPage": _obj(
        {
            "conversations": {"type": "array", "items": _ref("Conversation")},
            "next_cursor": {"type": ["string", "null"]},
        }
    ),
    "Thread": _obj(
        {
            "conversation": _ref("ConversationDetail"),
            "messages": {"type": "array", "items": _ref("Message")},
        }
    ),
    "ConversationResult": _obj({"conversation": _ref("ConversationDetail")}),
    "MessageResult": _obj({"message": _ref("Message")}),
    "ArchiveItemResult": _obj(
        {
            "archive_item": _obj(
                {
                    "id": ID,
                    "conversation_id": ID,
                    "state": {"type": "string"},
                    "title": {"type": "string"},
                    "case_number": {"type": ["string", "null"]},
                    "new_case_title": {"type": ["string", "null"]},
                    "message_ids": {"type": "array", "items": ID},
                }
            )
        }
    ),
    "HandoverResult": _obj(
        {"conversation": _ref("ConversationDetail"), "handover_id": {"type": "string"}}
    ),
    "Directory": _obj(
        {
            "staff": {"type": "array", "items": _obj({"id": ID, "name": {"type": "string"}})},
            "teams": {"type": "array", "items": _obj({"id": ID, "name": {"type": "string"}})},
            "channels": {"type": "array", "items": _ref("Channel")},
        }
    ),
    "NewMessage": _obj(
        {
            "kind": {"type": "string", "enum": ["reply", "note"], "default": "reply"},
            "body": {"type": "string", "minLength": 1, "pattern": r"\S"},
        },
        ["body"],
        additionalProperties=False,
    ),
    "NewStatus": _obj(
        {
            "status": {"type": "string", "enum": [s.value for s in ConversationStatus]},
            "snoozed_until": {
                **TIME,
                "description": "Required with status snoozed (a future time with a zone).",
            },
        },
        ["status"],
        additionalProperties=False,
    ),
    "Assignment": _obj(
        {
            "assignee_id": {**ID, "type": ["integer", "null"]},
            "team_id": {**ID, "type": ["integer", "null"]},
        },
        [],
        additionalProperties=False,
        minProperties=1,
    ),
    "NewTag": _obj(
        {"tag": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"\S"}},
        additionalProperties=False,
    ),
    "ArchiveFlag": _obj(
        {
            "case_number": {"type": "string", "description": "An existing case: 2026/1234"},
            "new_case_title": {"type": "string", "description": "Or the title of a new case"},
            "title": {"type": "string", "description": "The journal entry's title"},
            "correspondent_name": {"type": "string"},
            "correspondent_address": {"type": "string"},
            "anonymous": {"type": "boolean"},
            "screening_code": {"type": "string"},
            "screening_basis": {"type": "string"},
            "screening_fields": {"type": "array", "items": {"type": "string"}},
            "note": {"type": "string"},
            "message_ids": {"type": "array", "items": ID, "minItems": 1},
            "types": {
                "type": "object",
                "propertyNames": {"pattern": "^[0-9]{1,10}$"},
                "additionalProperties": {"type": "string", "enum": ["I", "U", "N", "X"]},
            },
        },
        [],
        additionalProperties=False,
    ),
    "Handover": _obj(
        {
            "channel_id": ID,
            "contact": _obj(
                {
                    "identity_kind": {
                        "type": "string",
                        "enum": [
                            IdentityKind.CHAT_VISITOR.value,
                            IdentityKind.CHAT_USER.value,
                            IdentityKind.PHONE.value,
                            IdentityKind.FACEBOOK_PSID.value,
                        ],
                    },
                    "identity_value": {"type": "string", "minLength": 1, "maxLength": 254},
                    "name": {"type": "string", "maxLength": 200},
                },
                ["identity_kind", "identity_value"],
                additionalProperties=False,
            ),
            "transcript": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_LINES,
                "items": _obj(
                    {
                        "from": {"type": "string", "enum": ["citizen", "bot"]},
                        "body": {"type": "string", "minLength": 1, "pattern": r"\S"},
                        "sent_at": TIME,
                    },
                    ["from", "body"],
                    additionalProperties=False,
                ),
            },
            "summary": {"type": "string", "description": "Saved as an internal note"},
            "handover_id": {
                "type": "string",
                "pattern": "^[A-Za-z0-9._-]{1,64}$",
                "description": "Your id for the handover: a retry with it stores nothing twice",
            },
            "bot_name": {"type": "string", "maxLength": 80},
        },
        ["channel_id", "contact", "transcript"],
        additionalProperties=False,
    ),
}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": _ref("Problem")}},
    }


RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}
COMMON = {
    "401": _problem("No token, or a token that is unknown or revoked"),
    "403": _problem("The token does not have the scope the operation needs"),
    "429": {**_problem("Too many requests with this token"), "headers": RETRY_AFTER},
}
NOT_FOUND = {"404": _problem("No such conversation in the token's municipality")}
BODY_ERRORS = {
    "400": _problem("The body is not valid JSON"),
    "413": _problem("The body is larger than allowed"),
    "415": _problem("The body is not application/json"),
    "422": _problem("The body is valid JSON but not a valid request"),
}
CONV_ID = {
    "name": "conversation_id",
    "in": "path",
    "required": True,
    "schema": ID,
}


def _ok(schema: str, description: str, status: str = "200") -> dict[str, Any]:
    return {
        status: {
            "description": description,
            "content": {"application/json": {"schema": _ref(schema)}},
        }
    }


def _body(schema: str) -> dict[str, Any]:
    return {
        "required": True,
        "content": {"application/json": {"schema": _ref(schema)}},
    }


def _write(op_id: str, summary: str, body: str, ok: dict[str, Any], **extra: Any) -> Any:
    return {
        "operationId": op_id,
        "summary": summary,
        "security": [{"bearer": ["write"]}],
        "parameters": [CONV_ID],
        "requestBody": _body(body),
        "responses": {**ok, **COMMON, **NOT_FOUND, **BODY_ERRORS, **extra},
    }


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}  # fmt: skip


PATHS: dict[str, Any] = {
    "/conversations": {
        "get": {
            "operationId": "listConversations",
            "summary": "List or search the municipality's conversations",
            "security": [{"bearer": ["read"]}],
            "parameters": [
                _query(
                    "status",
                    {"type": "string", "enum": [s.value for s in ConversationStatus]},
                    "Default open",
                ),
                _query("team", ID, "Only this team's conversations"),
                _query(
                    "assignee",
                    {
                        "oneOf": [
                            {"type": "string", "enum": ["none"]},
                            {"type": "string", "pattern": "^[0-9]{1,9}$"},
                        ]
                    },
                    "A staff member's id, or none for unassigned",
                ),  # fmt: skip
                _query("channel", {"type": "string", "enum": [k.value for k in ChannelKind]}, ""),
                _query(
                    "q",
                    {"type": "string", "maxLength": 200},
                    "Text to search for in messages, names and identities (no cursor)",
                ),
                _query("cursor", {"type": "string", "maxLength": 200}, "next_cursor of a page"),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 100}, "Default 25"),
            ],
            "responses": {
                **_ok("ConversationPage", "A page of conversations, most recent activity first"),
                **COMMON,
                "422": _problem("A filter or cursor that is not valid"),
            },
        },
        "post": {
            "operationId": "handOver",
            "summary": "Create a conversation on behalf of a channel, with the transcript so far",
            "security": [{"bearer": ["handover"]}],
            "requestBody": _body("Handover"),
            "responses": {
                **_ok("HandoverResult", "Stored", "201"),
                **_ok("HandoverResult", "Already stored by an earlier request with this id"),
                **COMMON,
                **BODY_ERRORS,
            },
        },
    },
    "/conversations/{conversation_id}": {
        "get": {
            "operationId": "getConversation",
            "summary": "A conversation and the citizen's thread",
            "security": [{"bearer": ["read"]}],
            "parameters": [CONV_ID],
            "responses": {**_ok("Thread", "The thread, oldest first"), **COMMON, **NOT_FOUND},
        }
    },
    "/conversations/{conversation_id}/messages": {
        "post": _write(
            "postMessage",
            "Reply to the citizen through the channel, or add an internal note",
            "NewMessage",
            _ok("MessageResult", "Queued for sending (reply) or saved (note)", "201"),
            **{"409": _problem("The channel cannot take a reply now")},
        )
    },
    "/conversations/{conversation_id}/status": {
        "post": _write(
            "setStatus",
            "Set the status",
            "NewStatus",
            _ok("ConversationResult", "Changed"),
        )
    },
    "/conversations/{conversation_id}/assign": {
        "post": _write(
            "assign",
            "Assign to a member of staff and/or move to a team",
            "Assignment",
            _ok("ConversationResult", "Changed"),
        )
    },
    "/conversations/{conversation_id}/tags": {
        "post": _write("addTag", "Add a tag", "NewTag", _ok("ConversationResult", "Tagged"))
    },
    "/conversations/{conversation_id}/tags/{tag}": {
        "delete": {
            "operationId": "removeTag",
            "summary": "Remove a tag",
            "security": [{"bearer": ["write"]}],
            "parameters": [
                CONV_ID,
                {
                    "name": "tag",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 64},
                },
            ],
            "responses": {
                **_ok("ConversationResult", "Removed (or it was not there)"),
                **COMMON,
                **NOT_FOUND,
                "422": _problem("Not a tag"),
            },
        }
    },
    "/conversations/{conversation_id}/archive-flags": {
        "post": _write(
            "flagForArchive",
            "Flag the conversation, or some of its messages, for the archive",
            "ArchiveFlag",
            _ok("ArchiveItemResult", "Flagged; records staff review it", "201"),
            **{
                "409": _problem("A chosen message is already flagged"),
                "503": _problem(
                    "The records system did not answer, so the case number could not be checked"
                ),
            },
        )
    },
    "/directory": {
        "get": {
            "operationId": "directory",
            "summary": "Staff, teams and channels of the municipality (their ids)",
            "security": [{"bearer": []}],
            "responses": {**_ok("Directory", "The directory"), **COMMON},
        }
    },
}


def document(server: str | None = None) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Servicetorg API",
            "version": "1.0.0",
            "description": "Conversations of one municipality, for its other systems. "
            "Authenticate with 'Authorization: Bearer st_…' (an admin creates tokens on "
            "the API tokens page). Errors are application/problem+json (RFC 9457).",
        },
        "servers": [{"url": (server or "").rstrip("/") + PREFIX}],
        "security": [{"bearer": []}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token: st_<id>_<secret>",
                }
            },
        },
    }
