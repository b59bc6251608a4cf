"""A Messenger reply sent by a real Celery worker process to the fake Graph API."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import Conversation, DeliveryStatus, Direction, Message, Role
from tests.fakes.facebook import FakeGraph, Page, messaging_entry, text_event
from tests.live import celery_worker, wait_for
from workers.celery_app import CeleryDispatcher

pytestmark = pytest.mark.worker
PAGE = "104857600111222"


def test_messenger_reply_through_real_worker(app, client, factory, login, base_config, monkeypatch):
    app.extensions["servicetorg.dispatcher"] = CeleryDispatcher(app.extensions["celery"])
    with FakeGraph(token="live-token", app_secret="live-secret") as fake:
        # The page's secrets are env-var references; the worker inherits the environment.
        page = Page(factory, factory.tenant(), fake, monkeypatch, PAGE)
        event = text_event(
            PAGE, "8080", "m_live_in", "Hei, er bassenget åpent?", int(time.time() * 1000)
        )
        assert page.deliver(client, [messaging_entry(PAGE, event)]).status_code == 200
        conv = db.session.scalars(select(Conversation)).one()
        login(factory.user(page.tenant, Role.CASEWORKER))

        with celery_worker(base_config, name="facebook"):
            client.post(f"/c/{conv.id}/reply", data={"body": "Ja, til kl. 21.", "kind": "reply"})
            sent = wait_for(lambda: list(fake.sent))

            def stored_as_sent():
                db.session.expire_all()
                msg = db.session.scalars(
                    select(Message).where(Message.direction == Direction.OUTBOUND)
                ).one()
                return msg if msg.delivery_status is DeliveryStatus.SENT else None

            msg = wait_for(stored_as_sent)
    assert json.loads(sent[0]["recipient"]) == {"id": "8080"}
    assert json.loads(sent[0]["message"]) == {"text": "Ja, til kl. 21."}
    assert sent[0]["messaging_type"] == "RESPONSE"
    assert msg.provider_message_id == "m_out1"
