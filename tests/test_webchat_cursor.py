"""The widget's `after` cursor never skips a reply that was still on its way."""

from __future__ import annotations

from sqlalchemy import select

from inbox.extensions import db
from inbox.models import ChannelKind, Conversation, Role
from inbox.services import conversations

TOKEN = {"X-Chat-Token": "c" * 43}


def test_reply_in_flight_is_not_skipped_by_a_later_citizen_message(app, client, factory, tasks):
    tenant = factory.tenant()
    account = factory.channel(tenant, ChannelKind.WEBCHAT)
    caseworker = factory.user(tenant, Role.CASEWORKER)
    api = f"/api/chat/{account.external_id}/messages"
    client.post(api, json={"body": "Spørsmål", "client_id": "cursor-0001"}, headers=TOKEN)
    tasks.run_inbound()
    conv = db.session.scalars(select(Conversation)).one()
    conversations.reply(conv, caseworker, "Svar")
    db.session.commit()
    # The citizen writes again while the reply waits for the worker.
    client.post(api, json={"body": "Er dere der?", "client_id": "cursor-0002"}, headers=TOKEN)
    tasks.run_inbound()
    first = client.get(api, headers=TOKEN).json["messages"]
    assert [m["body"] for m in first] == ["Spørsmål"]
    last_seen = first[-1]["id"]

    tasks.run_all()  # the worker sends the reply
    later = client.get(f"{api}?after={last_seen}", headers=TOKEN).json["messages"]
    assert [m["body"] for m in later] == ["Svar", "Er dere der?"]
