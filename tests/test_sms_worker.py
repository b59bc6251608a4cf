"""An SMS reply through a real Celery worker process to the fake Twilio over HTTP."""

from __future__ import annotations

import os
import signal
import threading

import pytest
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import DeliveryStatus, Direction, Message
from tests.live import celery_worker, wait_for
from tests.sms_support import CITIZEN, PUBLIC, sms_conversation
from workers.celery_app import CeleryDispatcher
from workers.housekeeping import sweep

pytestmark = pytest.mark.worker


def reply_with_twilio_sid() -> Message | None:
    """The conversation's one reply, once it carries the SID Twilio gave it."""
    db.session.expire_all()
    out = db.session.scalars(select(Message).where(Message.direction == Direction.OUTBOUND)).one()
    return out if out.provider_message_id else None


def test_reply_sent_by_the_worker_and_confirmed_by_callback(app, factory, monkeypatch, base_config):
    app.extensions["servicetorg.dispatcher"] = CeleryDispatcher(app.extensions["celery"])
    config = {**base_config, "WORKER_ENV": {"SERVICETORG_PUBLIC_BASE_URL": PUBLIC}}
    with (
        sms_conversation(app, factory, monkeypatch, "Er det brannforbud i helga?") as sms,
        celery_worker(config, name="sms"),
    ):
        conv = sms.conv
        sms.sign_in_caseworker()
        sms.client.post(f"/c/{conv.id}/reply", data={"body": "Ja, totalforbud til mandag."})

        [sent] = wait_for(sms.fake.sent, timeout=60)
        assert (sent["to"], sent["body"]) == (CITIZEN, "Ja, totalforbud til mandag.")

        out = wait_for(reply_with_twilio_sid)
        assert out.provider_message_id == sent["sid"]
        assert sms.status(out, "delivered").status_code == 200

        def delivered() -> bool:  # the worker applies the callback it was sent
            db.session.expire_all()
            return db.session.get(Message, out.id).delivery_status is DeliveryStatus.DELIVERED

        wait_for(delivered)


def test_lost_answer_settled_by_the_workers_retry(app, factory, monkeypatch, base_config):
    # Twilio creates the SMS but the connection drops before its answer: the worker's retry
    # (Celery, after its back-off) finds it at Twilio instead of texting the citizen again.
    app.extensions["servicetorg.dispatcher"] = CeleryDispatcher(app.extensions["celery"])
    config = {**base_config, "WORKER_ENV": {"SERVICETORG_PUBLIC_BASE_URL": PUBLIC}}
    with (
        sms_conversation(app, factory, monkeypatch, "Når tømmes søpla?") as sms,
        celery_worker(config, name="sms-lost"),
    ):
        conv = sms.conv
        sms.sign_in_caseworker()
        sms.fake.lose_next_answer("drop")
        sms.client.post(f"/c/{conv.id}/reply", data={"body": "På torsdag."})

        out = wait_for(reply_with_twilio_sid, timeout=60)
        [sent] = sms.fake.sent()
        assert (sent["to"], sent["body"]) == (CITIZEN, "På torsdag.")
        assert out.provider_message_id == sent["sid"]
        assert out.send_attempts == 2
        assert len([r for r in sms.fake.requests if r.method == "POST"]) == 1


def test_worker_killed_while_twilio_holds_the_answer_sends_once(
    app, factory, monkeypatch, base_config
):
    """The worker dies after Twilio has created the SMS but before the answer arrives: the
    reply stays "sending" until the dead worker's lease runs out, then the sweeper gives it to
    another worker, which finds it at Twilio instead of texting the citizen again."""
    lease = 2
    app.extensions["servicetorg.dispatcher"] = CeleryDispatcher(app.extensions["celery"])
    app.config["SEND_LEASE_SECONDS"] = lease
    env = {"SERVICETORG_PUBLIC_BASE_URL": PUBLIC, "SERVICETORG_SEND_LEASE_SECONDS": str(lease)}
    config = {**base_config, "WORKER_ENV": env}
    with sms_conversation(app, factory, monkeypatch, "Kan jeg få hentet hageavfall?") as sms:
        conv = sms.conv
        sms.sign_in_caseworker()
        created = threading.Event()
        sms.fake.on_create = lambda record: created.set()
        sms.fake.lose_next_answer("timeout")
        with celery_worker(config, name="sms-doomed") as doomed:
            sms.client.post(f"/c/{conv.id}/reply", data={"body": "Ja, onsdag i partallsuker."})
            assert created.wait(60), "the worker never reached Twilio"
            os.kill(doomed.pid, signal.SIGKILL)
            doomed.wait(10)
        out = db.session.scalars(select(Message).where(Message.direction == Direction.OUTBOUND))
        out = out.one()
        assert out.delivery_status is DeliveryStatus.SENDING and out.provider_message_id is None

        with celery_worker(config, name="sms-heir"):
            wait_for(lambda: sweep()["abandoned"], timeout=lease + 10, interval=0.3)

            settled_msg = wait_for(reply_with_twilio_sid, timeout=60)
        [sent] = sms.fake.sent()
        assert (sent["to"], sent["body"]) == (CITIZEN, "Ja, onsdag i partallsuker.")
        assert settled_msg.provider_message_id == sent["sid"]
        assert len([r for r in sms.fake.requests if r.method == "POST"]) == 1
        assert settled_msg.next_attempt_at is None
