"""Faults degrade the service, never wedge it: Redis gone, the database gone, a full disk.

Redis "down" here is a real client talking to a loopback port nobody listens on (connection
refused, as after a crash); the database "down" likewise. The after-commit work that could not
be sent is already in the database and is picked up by the sweeper.
"""

from __future__ import annotations

import logging
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, func, select

from inbox.extensions import db
from inbox.models import Contact, Conversation, DeliveryStatus, InboundEvent, Message, Role
from inbox.services.events import PROCESS_TASK
from tests import sms_support
from tests.conftest import RecordingDispatcher, make_app
from tests.factories import PASSWORD
from tests.sms_support import sms_setup


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def other_app(base_config: dict[str, Any], **overrides: Any) -> Iterator[Flask]:
    """An app like the suite's, with some settings changed, in its own app context."""
    app = make_app(base_config | overrides)
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def redis_down(app, base_config) -> Iterator[Flask]:
    """The same database, but the broker and Redis refuse connections (real clients)."""
    dead = f"redis://127.0.0.1:{closed_port()}/0"
    # The suite's app (and its clean-up) stays; this one is pushed on top of it.
    with other_app(base_config, BROKER_URL=dead, REDIS_URL=dead) as dead_app:
        yield dead_app


def count(model: Any) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model)) or 0


# -- Redis down ---------------------------------------------------------------------------------


def test_webhooks_are_accepted_and_the_web_tier_stays_up_while_redis_is_down(
    redis_down, factory, monkeypatch
):
    with sms_setup(redis_down, factory, monkeypatch) as sms:
        # More requests than the connection pool holds: none may keep its connection.
        answers = [sms.inbound(f"Vannet er brunt i Storgata {i}").status_code for i in range(40)]
        assert answers == [200] * 40
        assert count(Message) == 40
        assert sms.client.get("/healthz").status_code == 200


def test_replies_are_accepted_while_redis_is_down_and_sent_by_the_sweeper(
    redis_down, factory, monkeypatch
):
    with sms_setup(redis_down, factory, monkeypatch) as sms:
        assert sms.inbound("Når kommer vannet tilbake?").status_code == 200
        conv = db.session.scalars(select(Conversation)).one()
        caseworker = factory.user(sms.tenant, Role.CASEWORKER)
        resp = sms.client.post("/login", data={"email": caseworker.email, "password": PASSWORD})
        assert resp.status_code == 302
        for i in range(3):
            resp = sms.client.post(f"/c/{conv.id}/reply", data={"body": f"Svar {i}"})
            assert resp.status_code == 303, resp.status_code
        replies = db.session.scalars(select(Message).where(Message.author_id.is_not(None))).all()
        assert [r.delivery_status for r in replies] == [DeliveryStatus.QUEUED] * 3
        assert sms.fake.sent() == []

        # Redis is back: the sweeper finds the replies whose task never reached the broker.
        redis_down.config["SWEEP_STALE_SECONDS"] = 0
        tasks = redis_down.extensions["servicetorg.dispatcher"] = RecordingDispatcher(redis_down)
        celery = redis_down.extensions["celery"]
        celery.loader.import_default_modules()
        assert celery.tasks["servicetorg.housekeeping.sweep"].apply().get()["messages"] == 3
        tasks.run_all()
        assert sorted(m["body"] for m in sms.fake.sent()) == ["Svar 0", "Svar 1", "Svar 2"]


def test_chat_rate_limit_falls_back_when_redis_is_down(redis_down, factory):
    tenant = factory.tenant()
    account = factory.channel(tenant)
    client = redis_down.test_client()
    base = f"/api/chat/{account.external_id}"
    resp = client.post(f"{base}/visitor", json={})
    assert resp.status_code == 201, resp.status_code
    token = resp.json["token"]
    resp = client.post(
        f"{base}/messages",
        json={"body": "Hei, er det stengt vann?", "client_id": secrets.token_hex(8)},
        headers={"X-Chat-Token": token},
    )
    assert resp.status_code == 202, resp.status_code
    assert count(InboundEvent) == 1  # accepted; the kick is lost with the broker
    celery = redis_down.extensions["celery"]
    celery.loader.import_default_modules()
    assert celery.tasks[PROCESS_TASK].apply().get() == 1  # the worker, once Redis is back
    assert count(Message) == 1


def test_realtime_stream_polls_the_database_while_redis_is_down(redis_down, factory):
    tenant = factory.tenant()
    caseworker = factory.user(tenant, Role.CASEWORKER)
    client = redis_down.test_client()
    assert (
        client.post("/login", data={"email": caseworker.email, "password": PASSWORD}).status_code
        == 302
    )
    redis_down.config["REALTIME_STREAM_SECONDS"] = 1.5
    redis_down.config["REALTIME_POLL_SECONDS"] = 0.1
    resp = client.get("/live/events", buffered=False)
    assert resp.status_code == 200
    chunks = resp.response
    assert b"connected" in next(chunks)
    # A citizen writes (another request, another process perhaps) while the stream is open.
    msg = factory.inbound(factory.channel(tenant), body="Er det vann i Storgata?")
    body = b"".join(chunks).decode()
    assert f'"message_id": {msg.id}' in body


# -- the database down --------------------------------------------------------------------------


def test_database_down_answers_503_with_retry_after(app, base_config, factory, monkeypatch):
    with sms_setup(app, factory, monkeypatch) as sms:
        path = sms.path()
        url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/servicetorg"
        with other_app(base_config, DATABASE_URL=url, PUBLIC_BASE_URL=sms_support.PUBLIC) as down:
            client = down.test_client()
            params = {"From": "+4791234567", "Body": "Hei", "MessageSid": "SM1"}
            signature = sms_support.sign(sms_support.PUBLIC + path, params, sms.token)
            resp = client.post(path, data=params, headers={"X-Twilio-Signature": signature})
            assert resp.status_code == 503
            assert int(resp.headers["Retry-After"]) > 0
            page = client.get("/chat/nokkel")  # a person gets a page saying so, in Norwegian
            assert page.status_code == 503 and "Retry-After" in page.headers
            assert "Midlertidig utilgjengelig" in page.get_data(as_text=True)
            health = client.get("/healthz")
            assert health.status_code == 503
            assert health.json["database"] == "unavailable"


# -- embedded mode: a full or read-only disk ----------------------------------------------------


def _sqlite_only(app: Flask) -> None:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("a full or read-only disk is an embedded-mode (SQLite) fault")


@contextmanager
def sqlite_fault(pragma: str) -> Iterator[None]:
    """Every new connection of the app's engine gets `pragma` (SQLite's own limits)."""

    def apply(dbapi_connection: Any, _record: Any) -> None:
        cur = dbapi_connection.cursor()
        if pragma == "full":
            pages = cur.execute("PRAGMA page_count").fetchone()[0]
            cur.execute(f"PRAGMA max_page_count = {pages}")
        else:
            cur.execute("PRAGMA query_only = 1")
        cur.close()

    db.session.commit()
    if pragma == "full":
        raw = db.engine.raw_connection()
        try:
            raw.execute("VACUUM")  # no free pages left for new rows to reuse
        finally:
            raw.close()
    db.engine.dispose()
    event.listen(db.engine, "connect", apply)
    try:
        yield
    finally:
        event.remove(db.engine, "connect", apply)
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize(("fault", "cause"), [("full", "disk_full"), ("readonly", "read_only")])
def test_full_or_read_only_disk_answers_503_naming_it_and_stores_nothing_half(
    app, factory, monkeypatch, caplog, fault, cause
):
    _sqlite_only(app)
    with sms_setup(app, factory, monkeypatch) as sms:
        before = (count(Message), count(Conversation), count(Contact))
        # A long text on a full disk needs new pages; a read-only one refuses any write.
        with sqlite_fault(fault), caplog.at_level(logging.ERROR):
            resp = sms.inbound("Kloakken renner over. " * 200)
        assert resp.status_code == 503
        assert resp.json["error"] == cause
        assert "Retry-After" in resp.headers
        assert any(cause in r.getMessage() for r in caplog.records)
        assert (count(Message), count(Conversation), count(Contact)) == before


def test_every_task_lost_to_a_redis_outage_is_sent_by_the_sweeper(redis_down, factory, monkeypatch):
    # Not only replies and archive items: any task queued after a commit (here an MMS picture
    # to download) is sent at the next sweep, without waiting for the work to look stale.
    from channels.twilio_sms.services import MEDIA_TASK
    from inbox.services.events import PROCESS_TASK

    with sms_setup(redis_down, factory, monkeypatch) as sms:
        media = {
            "NumMedia": "1",
            "MediaUrl0": f"{sms.fake.url}/media/1",
            "MediaContentType0": "image/jpeg",
        }
        assert sms.inbound("Bilde av lekkasjen", **media).status_code == 200
        message_id, contact_id = db.session.execute(select(Message.id, Message.contact_id)).one()
        tasks = redis_down.extensions["servicetorg.dispatcher"] = RecordingDispatcher(redis_down)
        celery = redis_down.extensions["celery"]
        celery.loader.import_default_modules()
        # The webhook's kick of the inbound worker, the picture's download and the new
        # contact's matching: all refused by the broker, all sent by the sweeper.
        assert celery.tasks["servicetorg.housekeeping.sweep"].apply().get()["unsent_tasks"] == 3
        assert sorted(tasks.sent) == sorted(
            [
                (PROCESS_TASK, (), {}),
                (MEDIA_TASK, (message_id,), {}),
                ("servicetorg.default.match_contacts", ([contact_id],), {}),
            ]
        )
        tasks.sent.clear()
        celery.tasks["servicetorg.housekeeping.sweep"].apply().get()
        assert tasks.sent == []  # sent once, then forgotten
