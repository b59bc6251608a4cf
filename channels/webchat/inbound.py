"""Stored visitor messages of the chat widget, read back by the inbound worker.

The widget's POST appends the checked message (with the hash of the visitor token, never the
token) keyed by the visitor and the widget's client id; this handler stores it with the same
code the request used to, and the widget finds it, by its client id, in its stream or poll.
"""

from __future__ import annotations

import re

from flask import current_app

from channels.inbound import Batch
from channels.interfaces import InvalidPayload
from channels.webchat import services
from inbox.models import ChannelAccount, InboundEvent
from inbox.untrusted import loads

VISITOR_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


def handle(event: InboundEvent, account: ChannelAccount, batch: Batch) -> None:
    try:
        data = loads(event.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidPayload(f"invalid chat message: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidPayload("invalid chat message: not an object")
    visitor, offline = data.get("visitor"), data.get("offline", False)
    if not isinstance(visitor, str) or not VISITOR_RE.match(visitor):
        raise InvalidPayload("invalid chat message: visitor")
    if not isinstance(offline, bool):
        raise InvalidPayload("invalid chat message: offline")
    # The same checks as the request (ChatInputError is an InvalidPayload: parked).
    body, client_id = services.parse_visitor_message(
        {"body": data.get("body"), "client_id": data.get("client_id")},
        current_app.config["MAX_MESSAGE_CHARS"],
    )
    batch.store(
        account,
        services.visitor_inbound(visitor, client_id, body, offline=offline),
        lambda stored: services.visitor_message_stored(
            stored.message, stored.created, offline=offline
        ),
    )
