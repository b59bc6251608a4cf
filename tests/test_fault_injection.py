"""Fault injection against the real services: Redis killed and restarted, the database cut
behind a TCP proxy, a worker SIGKILLed mid-send, during a burst of signed Twilio webhooks and
caseworker replies. Nothing is lost, nothing doubled, and the web tier recovers by itself.

Asserted on behaviour only (HTTP answers, what ends up in the database and at the fake
Twilio), so it holds however the webhooks store what they accept.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.engine import make_url

from inbox.extensions import db
from inbox.models import Conversation, Direction, Message, Role
from tests.conftest import make_app
from tests.factories import PASSWORD
from tests.fakes.twilio import new_sid
from tests.faultkit import RedisServer, TcpProxy
from tests.live import celery_worker, live_server, wait_for
from tests.sms_support import CITIZEN, Sms, sms_setup

pytestmark = pytest.mark.worker

BACK_WITHIN = 5  # seconds: the web tier answers /healthz this soon after a service returns


class Http:
    """What Sms needs of a client, over real HTTP to the live server."""

    def __init__(self, base: str) -> None:
        self.base, self.session = base, requests.Session()

    def post(self, path: str, data: Any = None, headers: Any = None) -> requests.Response:
        return self.session.post(
            self.base + path, data=data, headers=headers, timeout=10, allow_redirects=False
        )

    def get(self, path: str) -> requests.Response:
        return self.session.get(self.base + path, timeout=10, allow_redirects=False)


def healthy_within(http: Http, seconds: float) -> bool:
    def ok() -> bool:
        try:
            return http.get("/healthz").status_code == 200
        except requests.RequestException:
            return False

    return bool(wait_for(ok, timeout=seconds, interval=0.1))


@pytest.fixture
def services(app, base_config, database_url, tmp_path) -> Iterator[dict[str, Any]]:
    if not database_url.startswith("postgresql"):
        pytest.skip(
            "fault injection cuts PostgreSQL behind a proxy: it runs in the PostgreSQL/Redis "
            "run (SERVICETORG_TEST_DATABASE_URL); embedded-mode faults are in test_faults.py"
        )
    try:
        redis = RedisServer(tmp_path)
    except RuntimeError as exc:
        pytest.skip(str(exc))
    redis.start()
    url = make_url(database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    through_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    prefix = f"{base_config['CELERY_QUEUE_PREFIX']}faults."
    config = base_config | {
        "DATABASE_URL": through_proxy,
        "BROKER_URL": redis.url,
        "REDIS_URL": redis.url,
        "CELERY_QUEUE_PREFIX": prefix,
        "PUBLIC_BASE_URL": "https://innboks.example.kommune.no",
        "WORKER_ENV": {
            "SERVICETORG_SWEEP_INTERVAL_SECONDS": "1",
            "SERVICETORG_SWEEP_STALE_SECONDS": "2",
            "SERVICETORG_SEND_LEASE_SECONDS": "4",
            "SERVICETORG_PUBLIC_BASE_URL": "https://innboks.example.kommune.no",
        },
    }
    web = make_app(config)
    try:
        with live_server(web) as base:
            yield {"redis": redis, "proxy": proxy, "config": config, "http": Http(base)}
    finally:
        with web.app_context():
            db.engine.dispose()
        proxy.close()
        redis.kill()


def test_redis_killed_database_cut_worker_killed_nothing_lost_or_doubled(
    services, app, factory, monkeypatch, tmp_path
):
    redis, proxy, http = services["redis"], services["proxy"], services["http"]
    config = services["config"]
    beat = ("--beat", "--schedule", str(tmp_path / "beat-schedule"))
    sids: list[str] = []
    replies: list[str] = []

    with sms_setup(app, factory, monkeypatch) as local:
        sms = Sms(local.fake, local.tenant, local.account, local.token, http)
        caseworker = factory.user(local.tenant, Role.CASEWORKER)

        def webhook(text: str, sid: str | None = None) -> int:
            sid = sid or new_sid("SM")
            # The real worker (below) turns the stored events into messages.
            status = sms.inbound(text, sid=sid, process=False).status_code
            if status == 200:
                sids.append(sid)
            return status

        def reply(conv_id: int, text: str) -> int:
            status = http.post(f"/c/{conv_id}/reply", data={"body": text}).status_code
            if status == 303:
                replies.append(text)
            return status

        worker = celery_worker(config, "faults", beat)
        proc = worker.__enter__()
        try:
            # Normal operation: the citizen writes, the caseworker signs in.
            assert [webhook(f"Melding {i}") for i in range(5)] == [200] * 5
            login = {"email": caseworker.email, "password": PASSWORD}
            assert http.post("/login", data=login).status_code == 302
            conv_id = wait_for(lambda: db.session.scalar(select(Conversation.id)), timeout=15)
            db.session.rollback()

            # 1. Redis dies mid-burst: webhooks and replies are still accepted.
            redis.kill()
            assert [webhook(f"Uten Redis {i}") for i in range(20)] == [200] * 20
            assert [reply(conv_id, f"Svar uten Redis {i}") for i in range(3)] == [303] * 3
            redis.start()
            assert healthy_within(http, BACK_WITHIN)

            # 2. The database goes away: 503 with Retry-After, and the provider retries later.
            proxy.cut()
            refused = []
            for i in range(5):
                sid = new_sid("SM")
                resp = sms.inbound(f"Uten database {i}", sid=sid, process=False)
                assert resp.status_code == 503 and int(resp.headers["Retry-After"]) > 0
                refused.append((f"Uten database {i}", sid))
            health = http.get("/healthz")
            assert (health.status_code, health.json()["database"]) == (503, "unavailable")
            proxy.restore()
            assert healthy_within(http, BACK_WITHIN)
            assert [webhook(text, sid) for text, sid in refused] == [200] * 5  # the retries

            # 3. The worker is SIGKILLed while Twilio holds the answer to a reply it created.
            created, release = threading.Event(), threading.Event()

            def hold(record: dict[str, Any]) -> None:
                if record["body"] == "Svar mens arbeideren dør":
                    created.set()
                    release.wait(20)

            local.fake.on_create = hold
            assert reply(conv_id, "Svar mens arbeideren dør") == 303
            assert created.wait(20)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
            release.set()
        finally:
            worker.__exit__(None, None, None)

        # A new worker (and beat) starts; what the dead one held comes back when its lease
        # runs out, and is settled with Twilio instead of being sent twice.
        with celery_worker(config, "faults2", beat):
            assert [reply(conv_id, f"Svar etter {i}") for i in range(2)] == [303] * 2

            def all_out() -> bool:
                db.session.rollback()
                ours = db.session.scalars(
                    select(Message).where(Message.direction == Direction.OUTBOUND)
                ).all()
                return len(ours) == len(replies) and all(m.provider_message_id for m in ours)

            wait_for(all_out, timeout=40, interval=0.3)

        db.session.rollback()
        stored = db.session.scalars(
            select(Message.provider_message_id).where(Message.direction == Direction.INBOUND)
        ).all()
        assert len(sids) == 30 and len(set(sids)) == 30  # 5 + 20 without Redis + 5 retried
        assert Counter(stored) == Counter(sids)  # exactly N stored, none doubled
        sent = Counter(m["body"] for m in local.fake.sent() if m["to"] == CITIZEN)
        assert sent == Counter(replies) and len(replies) == 6  # exactly N sent, 0 doubled
