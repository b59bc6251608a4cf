"""The OpenAPI document is true: Schemathesis drives every operation of /api/v1 in-process
(through the WSGI app, no server) with generated valid and invalid requests, and checks that
no answer is a 5xx and that every answer matches the document (status code, content type,
headers, body schema), and that requests the document calls invalid are refused."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from inbox.extensions import db
from inbox.models import ChannelKind, Role
from inbox.services import conversations
from tests.api_support import make_token

EXAMPLES = 25  # per operation and mode: 20 runs of about a second each
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture
def api_seed(app, factory):  # type: ignore[no-untyped-def]
    """A municipality with a conversation in each of two channels, staff, a team and a token
    with every scope; about half of the generated requests are pointed at these real ids."""
    app.config["API_LIMIT_PER_TOKEN"] = "1000000/minute"
    tenant = factory.tenant()
    factory.team(tenant)
    chat = factory.channel(tenant)
    conv = factory.conversation(chat, body="Hei, når er søppeltømming? Fnr 01019000083")
    caseworker = factory.user(tenant, Role.CASEWORKER)
    conversations.reply(conv, caseworker, "Tirsdag.")
    db.session.commit()
    factory.conversation(factory.channel(tenant, ChannelKind.SMS), body="Hallo")
    token = make_token(factory, tenant, "read", "write", "handover")
    return {"token": token, "conversation_id": conv.id, "channel_id": chat.id}


def valid_id(value: object) -> bool:
    return type(value) is int and 1 <= value <= 2**31 - 1


OPERATIONS = [
    "listConversations",
    "handOver",
    "getConversation",
    "postMessage",
    "setStatus",
    "assign",
    "addTag",
    "removeTag",
    "flagForArchive",
    "directory",
]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("operation_id", OPERATIONS)
def test_every_operation_keeps_to_the_document(app, api_seed, operation_id, mode):  # type: ignore[no-untyped-def]
    # The document the app serves, loaded through the app itself (no server, no network).
    operation = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app).find_operation_by_id(
        operation_id
    )
    headers = {"Authorization": f"Bearer {api_seed['token']}"}

    @given(case=operation.as_strategy(generation_mode=mode), real=st.booleans())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case, real):  # type: ignore[no-untyped-def]
        # Half the valid ids are pointed at real rows, so operations get past the lookup
        # (an id the negative mode made invalid stays as it is).
        if real and valid_id((case.path_parameters or {}).get("conversation_id")):
            case.path_parameters["conversation_id"] = api_seed["conversation_id"]
        if real and isinstance(case.body, dict) and valid_id(case.body.get("channel_id")):
            case.body["channel_id"] = api_seed["channel_id"]
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


def test_the_document_is_served_and_is_openapi_3_1(client):  # type: ignore[no-untyped-def]
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    doc = resp.get_json()
    assert doc["openapi"] == "3.1.0"
    operations = {op["operationId"] for path in doc["paths"].values() for op in path.values()}
    assert operations == set(OPERATIONS)  # each is driven by the test above
