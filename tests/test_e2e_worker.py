"""The pipeline through a real Celery worker process (embedded broker locally; Redis and
PostgreSQL when the environment names them)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from archiving.models import ArchiveItem, ArchiveState
from inbox.extensions import db
from inbox.models import ChannelKind, Conversation, DeliveryStatus, Message, Role
from tests.live import celery_worker, wait_for
from workers.celery_app import CeleryDispatcher

pytestmark = pytest.mark.worker
TOKEN = {"X-Chat-Token": "w" * 43}


def test_reply_and_journal_through_real_worker(app, client, factory, login, base_config):
    app.extensions["servicetorg.dispatcher"] = CeleryDispatcher(app.extensions["celery"])
    tenant = factory.tenant()
    account = factory.channel(tenant, ChannelKind.WEBCHAT)
    caseworker = factory.user(tenant, Role.CASEWORKER)
    archivist = factory.user(tenant, Role.RECORDS_OFFICER)
    api = f"/api/chat/{account.external_id}/messages"

    with celery_worker(base_config):
        resp = client.post(
            api, json={"body": "Når stenger bassenget?", "client_id": "e2e-000001"}, headers=TOKEN
        )
        assert resp.status_code == 202  # accepted; the worker's inbound batch stores it

        def stored():
            db.session.rollback()
            return db.session.scalars(select(Conversation)).one_or_none()

        conv = wait_for(stored)
        mine = client.get(api, headers=TOKEN).json["messages"]
        assert [(m["body"], m["client_id"]) for m in mine] == [
            ("Når stenger bassenget?", "e2e-000001")
        ]
        login(caseworker)
        client.post(f"/c/{conv.id}/reply", data={"body": "Klokka 21.", "kind": "reply"})

        def reply_visible():
            msgs = client.get(api, headers=TOKEN).json["messages"]
            return [m["body"] for m in msgs if m["from"] == "staff"]

        assert wait_for(reply_visible) == ["Klokka 21."]
        db.session.expire_all()
        out = db.session.scalars(select(Message).where(Message.direction == "out")).one()
        assert out.delivery_status is DeliveryStatus.DELIVERED

        client.post(
            f"/c/{conv.id}/archive/flag",
            data={
                "case_choice": "new",
                "new_case_title": "Bad",
                "title": "Spørsmål",
                "anonymous": "on",
            },
        )
        client.post("/logout")
        login(archivist)
        item_id = db.session.scalars(select(ArchiveItem.id)).one()
        client.post(f"/records/items/{item_id}/approve")

        def journalled():
            db.session.expire_all()
            item = db.session.get(ArchiveItem, item_id)
            return item.state is ArchiveState.JOURNALLED and item.receipts

        receipts = sorted(wait_for(journalled), key=lambda r: r.part)
        # The citizen's question (I) and our answer (U) are two entries in one new case.
        case = receipts[0].case_number
        assert [r.journalpostnummer for r in receipts] == [f"{case}-1", f"{case}-2"]
