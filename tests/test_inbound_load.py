"""Signed webhooks fired concurrently at a real threaded server while the inbound worker's
batch runs: on SQLite (one writer: BEGIN IMMEDIATE, busy_timeout) and on PostgreSQL alike,
no request is answered 5xx and every message is stored exactly once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import requests
from sqlalchemy import func, select

from inbox.extensions import db
from inbox.models import Message
from tests.conftest import make_app
from tests.fakes.twilio import new_sid
from tests.live import live_server
from tests.sms_support import PUBLIC, sign, sms_setup

SENDERS = 30
PER_SENDER = 8  # 240 distinct messages, each delivered twice (Twilio retries)


def test_concurrent_signed_webhooks_no_5xx_and_each_message_once(
    app, factory, monkeypatch, base_config
):
    with sms_setup(app, factory, monkeypatch) as sms:
        server_app = make_app(base_config)  # the real broker: kicks go to it after commits
        server_app.config["PUBLIC_BASE_URL"] = PUBLIC
        path = sms.path()
        deliveries = []
        for s in range(SENDERS):
            for i in range(PER_SENDER):
                sid = new_sid("SM")
                params = {
                    "MessageSid": sid,
                    "SmsMessageSid": sid,
                    "AccountSid": sms.fake.account_sid,
                    "From": f"+47912{s:05d}",
                    "To": sms.account.external_id,
                    "Body": f"melding {i} fra {s}",
                    "NumMedia": "0",
                }
                body = urlencode(params)
                headers = {
                    "X-Twilio-Signature": sign(PUBLIC + path, params, sms.token),
                    "Content-Type": "application/x-www-form-urlencoded",
                }
                deliveries += [(body, headers), (body, headers)]
        stop = threading.Event()
        drained: list[int] = []

        def worker() -> None:  # the inbound worker, batching while the webhooks arrive
            task = server_app.extensions["celery"].tasks["servicetorg.inbound.process_events"]
            while not stop.is_set():
                drained.append(task.apply().get())

        server_app.extensions["celery"].loader.import_default_modules()
        with live_server(server_app) as base:
            batcher = threading.Thread(target=worker)
            batcher.start()
            session = requests.Session()

            def deliver(item: tuple[str, dict[str, str]]) -> int:
                return session.post(
                    base + path, data=item[0], headers=item[1], timeout=60
                ).status_code

            try:
                with ThreadPoolExecutor(max_workers=16) as pool:
                    statuses = list(pool.map(deliver, deliveries))
            finally:
                stop.set()
                batcher.join(60)
        assert sorted(set(statuses)) == [200], {s: statuses.count(s) for s in set(statuses)}
        task = app.extensions["celery"].tasks["servicetorg.inbound.process_events"]
        task.apply().get()  # whatever arrived after the last batch
        db.session.expire_all()
        total = db.session.scalar(select(func.count()).select_from(Message))
        distinct = db.session.scalar(select(func.count(func.distinct(Message.provider_message_id))))
        assert (total, distinct) == (SENDERS * PER_SENDER, SENDERS * PER_SENDER)
        assert sum(drained) > 0  # the batch really ran during the load
