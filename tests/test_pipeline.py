"""The thin path end to end, in-process: chat message -> queue -> reply -> flag -> journal."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from archiving.adapters.embedded_models import RecordsEntry
from archiving.models import ArchiveItem, ArchiveState
from inbox.extensions import db
from inbox.models import AuditEntry, ChannelKind, Conversation, DeliveryStatus, Message, Role
from tests.archiving_support import pdf_text
from tests.conftest import run_inbound

TOKEN_HEADERS = {"X-Chat-Token": "t" * 43}


def test_chat_message_reply_flag_and_journal(app, client, factory, login, tasks, tmp_path):
    tenant = factory.tenant()
    account = factory.channel(tenant, ChannelKind.WEBCHAT)
    caseworker = factory.user(tenant, Role.CASEWORKER)
    archivist = factory.user(tenant, Role.RECORDS_OFFICER)
    api = f"/api/chat/{account.external_id}/messages"

    # The citizen writes in the widget.
    resp = client.post(
        api,
        json={"body": "Hei! Jeg vil klage på byggesaken.", "client_id": "c-00000001"},
        headers=TOKEN_HEADERS,
    )
    assert resp.status_code == 202
    run_inbound(app)  # the inbound worker stores it

    # The caseworker sees it in the queue and answers.
    login(caseworker)
    page = client.get("/").get_data(as_text=True)
    assert "Ulest" in page or "Unread" in page
    conv = db.session.scalars(select(Conversation)).one()
    assert client.get(f"/c/{conv.id}").status_code == 200
    resp = client.post(
        f"/c/{conv.id}/reply", data={"body": "Takk, vi ser på saken.", "kind": "reply"}
    )
    assert resp.status_code == 303
    assert tasks.names() == ["servicetorg.outbound.send_message"]

    # Not visible to the citizen until the worker has handed it to the channel.
    assert [m["from"] for m in client.get(api, headers=TOKEN_HEADERS).json["messages"]] == [
        "citizen"
    ]
    tasks.run_all()
    seen = client.get(api, headers=TOKEN_HEADERS).json["messages"]
    assert [m["body"] for m in seen] == [
        "Hei! Jeg vil klage på byggesaken.",
        "Takk, vi ser på saken.",
    ]
    reply = db.session.scalars(select(Message).where(Message.direction == "out")).one()
    assert reply.delivery_status is DeliveryStatus.DELIVERED

    # Flag as part of a new case; records staff approve; the worker journals it.
    resp = client.post(
        f"/c/{conv.id}/archive/flag",
        data={
            "case_choice": "new",
            "new_case_title": "Klage på byggesak",
            "title": "Klage via chat",
            "anonymous": "on",
        },
    )
    assert resp.status_code == 303
    client.post("/logout")
    login(archivist)
    item = db.session.scalars(select(ArchiveItem)).one()
    assert client.post(f"/records/items/{item.id}/approve").status_code == 303
    assert tasks.names() == ["servicetorg.archiving.journal"]
    assert tasks.run_all() == ["journalled"]

    db.session.expire_all()
    item = db.session.get(ArchiveItem, item.id)
    assert item.state is ArchiveState.JOURNALLED
    receipts = sorted(item.receipts, key=lambda r: r.part)
    entries = db.session.scalars(select(RecordsEntry).order_by(RecordsEntry.id)).all()
    # The citizen's message is inngående (I), our reply utgående (U): two entries, one case.
    assert [e.journalposttype for e in entries] == ["I", "U"]
    assert [r.system_id for r in receipts] == [e.system_id for e in entries]
    assert entries[0].case_id == entries[1].case_id
    question, answer = (
        pdf_text((Path(app.config["RECORDS_DIR"]) / e.documents[0].path).read_bytes(), tmp_path)
        for e in entries
    )
    assert "Jeg vil klage på byggesaken." in question and "Takk, vi ser" not in question
    assert "Takk, vi ser på saken." in answer

    # The receipts show in the inbox, and every step is in the audit log.
    page = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert all(r.journalpostnummer in page for r in receipts)
    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["reply", "archive.flag", "archive.approve", "archive.journalled"]


def test_journalling_twice_makes_one_entry(app, factory, tasks):
    from archiving import triage
    from archiving.journal import journal_item

    tenant = factory.tenant()
    account = factory.channel(tenant)
    user = factory.user(tenant, Role.RECORDS_OFFICER)
    conv = factory.conversation(account)
    item = triage.flag_conversation(conv, user, case_number="", new_case_title="Sak", title="Chat")
    triage.approve(item, user)
    db.session.commit()
    assert journal_item(item.id) == "journalled"
    assert journal_item(item.id).startswith("not claimed")
    assert len(db.session.scalars(select(RecordsEntry)).all()) == 1
