"""The webhook hot path (issue 11): a signed webhook costs one insert and a commit, reads its
account from the per-process cache, and kicks the worker at most once per interval; the worker
claims events safely next to another claimer."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from inbox import db as dbmod
from inbox.extensions import db
from inbox.models import (
    ChannelAccount,
    ChannelKind,
    ContactIdentity,
    Conversation,
    IdentityKind,
    InboundEvent,
)
from inbox.services import account_cache
from inbox.services.events import PROCESS_TASK
from tests.conftest import RecordingDispatcher, make_app, run_inbound
from tests.fakes.facebook import FakeGraph, Page, messaging_entry, text_event
from tests.fakes.twilio import new_sid
from tests.sms_support import sms_setup
from tests.sql_support import statements
from tests.test_comment_webhook import payload as comment_payload

PAGE = "104857600777001"


@pytest.fixture
def sms(app, factory, monkeypatch):
    with sms_setup(app, factory, monkeypatch) as s:
        yield s


def reads_accounts(seen: list[str]) -> list[str]:
    return [s for s in seen if s.upper().startswith("SELECT") and "channel_account" in s]


def kicks(tasks: Any) -> int:
    return tasks.names().count(PROCESS_TASK)


def stored_events() -> int:
    db.session.rollback()
    return int(db.session.scalar(select(func.count()).select_from(InboundEvent)) or 0)


class Clock:
    """The monotonic clock of the account cache and the kick coalescer, moved by hand."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(account_cache, "clock", c)
    monkeypatch.setattr(dbmod, "clock", c)
    return c


# -- statements per webhook ------------------------------------------------------------------


def test_signed_sms_webhook_is_one_insert_without_an_account_query(sms, tasks):
    assert sms.inbound("først", process=False).status_code == 200  # fills the cache
    with statements() as seen:
        resp = sms.inbound("Vannet er brunt i Storgata", process=False)
    assert resp.status_code == 200
    assert len(seen) <= 2, seen  # SQLite: BEGIN IMMEDIATE + INSERT; PostgreSQL: the INSERT
    assert [s for s in seen if s.upper().startswith("INSERT")] == [
        s for s in seen if "inbound_event" in s and s.upper().startswith("INSERT")
    ]
    assert len([s for s in seen if s.upper().startswith("INSERT")]) == 1
    assert "ON CONFLICT" in next(s for s in seen if s.upper().startswith("INSERT")).upper()
    assert reads_accounts(seen) == []
    assert not [s for s in seen if s.upper().startswith(("SELECT", "UPDATE", "SAVEPOINT"))]
    assert stored_events() == 2
    run_inbound(sms.client.application)
    assert [m.body for m in sms.messages()] == ["først", "Vannet er brunt i Storgata"]


def test_a_webhook_with_a_cold_cache_holds_one_connection_at_a_time(sms, base_config, tasks):
    """A webhook that reads its account first (the cache is cold after a start or a change)
    gives that connection back before it takes one for its insert. Holding both, a burst of
    threads each waiting for a second connection emptied the pool: 30 s, then 503. Here one
    connection and none spare must do."""
    tight = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 2}
    small = make_app(base_config | {"SQLALCHEMY_ENGINE_OPTIONS": tight})
    small.config["PUBLIC_BASE_URL"] = sms.client.application.config["PUBLIC_BASE_URL"]
    small.extensions["servicetorg.dispatcher"] = RecordingDispatcher(small)
    assert sms.account.external_id  # loaded here, not through the small pool below
    client, sms.client = sms.client, small.test_client()
    try:
        with small.app_context():
            for body in ("kald start", "igjen"):
                account_cache.invalidate()
                assert sms.inbound(body, process=False).status_code == 200
            db.engine.dispose()
    finally:
        sms.client = client
    assert stored_events() == 2


def test_a_webhook_on_a_pooled_connection_the_database_dropped_is_stored_once(
    sms, tasks, monkeypatch
):
    """The database restarted (or a proxy cut idle connections) while the pool held them,
    and the liveness check did not catch it (the connection was used moments ago): the
    webhook still answers 200, on a fresh connection, and the message is stored once."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("server connections only")
    assert sms.inbound("før", process=False).status_code == 200
    db.session.rollback()
    account = sms.account
    assert account.external_id  # what signing the next webhook needs, read now
    db.session.expunge(account)
    db.session.rollback()
    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as outside:  # not one of the pool's
        killed = outside.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert killed and killed[0] >= 1
    monkeypatch.setattr(dbmod, "PING_AFTER_IDLE_SECONDS", 3600.0)  # no check on checkout
    try:
        assert sms.inbound("etter", account=account, process=False).status_code == 200
    finally:
        db.engine.pool._invalidate(None)  # what the webhook did not meet, for the test's reads
        monkeypatch.setattr(dbmod, "PING_AFTER_IDLE_SECONDS", 1.0)
    assert stored_events() == 2
    run_inbound(sms.client.application)
    assert [m.body for m in sms.messages()] == ["før", "etter"]


def test_the_webhooks_connection_goes_back_to_the_pool_in_transaction_mode(sms, base_config, tasks):
    """The webhook's insert runs in autocommit mode; the connection it used must serve the
    next request's transaction as a transaction again, after a stored event and after an
    insert the database refused (here a NUL byte, which PostgreSQL text cannot hold). With
    one connection in the pool, a rolled-back write must leave nothing behind."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the autocommit insert is PostgreSQL's")
    from sqlalchemy import exc as sa_exc

    from inbox.services import events

    tight = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 2}
    small = make_app(base_config | {"SQLALCHEMY_ENGINE_OPTIONS": tight})
    small.extensions["servicetorg.dispatcher"] = RecordingDispatcher(small)
    ref = account_cache.snapshot(sms.account)
    with small.app_context():
        try:
            with small.test_request_context("/webhooks/x"):
                assert events.record(ref, "sms", new_sid("SM"), b"Body=stored")
            with small.test_request_context("/webhooks/x"), pytest.raises(sa_exc.DataError):
                events.record(ref, "sms", "SM\x00refused", b"Body=refused")
            with small.test_request_context("/"):
                db.session.add(
                    InboundEvent(
                        tenant_id=ref.tenant_id,
                        channel_account_id=ref.id,
                        kind="sms",
                        provider_key="rolled back",
                        body=b"",
                    )
                )
                db.session.flush()
                db.session.rollback()
                keys = db.session.scalars(select(InboundEvent.provider_key)).all()
        finally:
            db.engine.dispose()
    assert "rolled back" not in keys
    assert len(keys) == 1


class HeldInsert:
    """Another transaction holds an uncommitted event with the same key as the first webhook,
    so that webhook's insert waits in the database (as one does behind a slow WAL flush);
    the webhooks that come meanwhile queue up behind it in their web process."""

    def __init__(self, ref: Any, key: str) -> None:
        url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.conn = psycopg.connect(url)
        self.conn.execute(
            "INSERT INTO inbound_event (tenant_id, channel_account_id, kind, provider_key, body, "
            "url, headers, received_at, state, attempts) "
            "VALUES (%s, %s, 'sms', %s, '', '', '{}', now(), 'pending', 0)",
            (ref.tenant_id, ref.id, key),
        )

    def release(self) -> None:
        if not self.conn.closed:
            self.conn.rollback()
            self.conn.close()


def _record_in_threads(app: Any, ref: Any, keys: list[str]) -> tuple[list[Any], list[Any]]:
    """events.record for each key in a thread of its own, as concurrent webhook requests;
    what each returned (or raised), in the order of the keys."""
    import threading

    from inbox.services import events

    outcome: list[Any] = [None] * len(keys)

    def webhook(i: int, key: str) -> None:
        with app.test_request_context("/webhooks/twilio/1/sms"):
            try:
                outcome[i] = events.record(ref, "sms", key, f"Body={key}".encode())
            except Exception as error:  # noqa: BLE001 - the test looks at it
                outcome[i] = error

    threads = [threading.Thread(target=webhook, args=item) for item in enumerate(keys)]
    return outcome, threads


def _queued(app: Any) -> int:
    from inbox.services import events

    with app.app_context():
        return len(events._group(db.engine)._waiting)


def _wait_for(check: Any, what: str) -> None:
    deadline = time.monotonic() + 10
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def _behind_a_waiting_insert(
    app: Any, ref: Any, first: str, keys: list[str]
) -> tuple[Any, list[Any]]:
    """The webhook with key `first` has its insert waiting in the database (`HeldInsert`);
    webhooks with `keys` arrive meanwhile and queue up behind it in this process; then the
    held row goes away. What the first and each of the others returned (or raised)."""
    held = HeldInsert(ref, first)
    outcome, threads = _record_in_threads(app, ref, [first])
    later, more = _record_in_threads(app, ref, keys)
    try:
        threads[0].start()
        _wait_for(lambda: _queued(app) == 0 and threads[0].is_alive(), "the first insert")
        time.sleep(0.2)  # the first webhook's insert now waits for the held row
        for thread in more:
            thread.start()
        _wait_for(lambda: _queued(app) == len(keys), f"{len(keys)} webhooks waiting")
        held.release()
        for thread in threads + more:
            thread.join(10)
    finally:
        held.release()
    return outcome[0], later


def test_webhooks_waiting_together_are_stored_in_one_statement(sms, tasks):
    """Group commit: under a storm each webhook used to send its own INSERT and wait for its
    own commit's WAL flush. Five webhooks that arrive while another's insert is in the
    database go in with one statement and one commit, and each hears how its own row went:
    a provider's retry of the same delivery inside the group is still "already stored"."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer; its inserts are not grouped")
    ref = account_cache.snapshot(sms.account)
    first = new_sid("SM")
    others = [new_sid("SM") for _ in range(4)]
    with statements() as seen:
        alone, later = _behind_a_waiting_insert(
            sms.client.application, ref, first, [*others, others[-1]]
        )
    inserts = [s for s in seen if s.upper().startswith("INSERT INTO INBOUND_EVENT")]
    assert len(inserts) == 2, inserts
    assert alone is True
    assert later[:4] == [True, True, True, True]
    assert later[4] is False  # the same delivery again, in the same group
    assert stored_events() == 5
    assert set(db.session.scalars(select(InboundEvent.provider_key))) == {first, *others}


def test_a_row_the_database_refuses_costs_only_its_own_webhook_in_a_group(sms, tasks):
    """A value PostgreSQL cannot hold (a NUL byte in text) in one webhook of a group: that
    webhook fails, the others of its group are stored."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer; its inserts are not grouped")
    from sqlalchemy import exc as sa_exc

    ref = account_cache.snapshot(sms.account)
    first, bad = new_sid("SM"), "SM\x00refused"
    good = [new_sid("SM") for _ in range(3)]
    alone, later = _behind_a_waiting_insert(
        sms.client.application, ref, first, [good[0], bad, *good[1:]]
    )
    assert alone is True
    assert isinstance(later[1], sa_exc.DataError)
    assert [later[0], *later[2:]] == [True, True, True]
    assert set(db.session.scalars(select(InboundEvent.provider_key))) == {first, *good}


def test_status_callback_is_one_insert_too(sms, tasks):
    assert sms.inbound("hei", process=False).status_code == 200
    reply = SimpleNamespace(id=1, provider_message_id=new_sid("SM"))
    with statements() as seen:
        resp = sms.status(reply, "delivered", process=False)
    assert resp.status_code == 200
    assert len(seen) <= 2, seen
    assert reads_accounts(seen) == []


def test_facebook_and_comment_webhooks_do_not_query_their_account(
    app, client, factory, monkeypatch, tasks
):
    with FakeGraph(token="page-token-hp", app_secret="app-secret-hp") as fake:
        page = Page(factory, factory.tenant(), fake, monkeypatch, PAGE)
        first = [messaging_entry(PAGE, text_event(PAGE, "111", "m_hp1", "hei", 1_700_000_000))]
        assert page.deliver(client, first, process=False).status_code == 200
        second = [messaging_entry(PAGE, text_event(PAGE, "111", "m_hp2", "igjen", 1_700_000_001))]
        with statements() as seen:
            assert page.deliver(client, second, process=False).status_code == 200
        assert len(seen) <= 2, seen
        assert reads_accounts(seen) == []

    monkeypatch.setenv("HOT_PATH_COMMENT_SECRET", "comment-secret")
    source = factory.channel(
        factory.tenant(),
        ChannelKind.WEB_COMMENTS,
        config={"source": "webhook"},
        secret_refs={"webhook_secret": "HOT_PATH_COMMENT_SECRET"},
    )

    def comment(cid: str) -> Any:
        body = json.dumps(comment_payload(id=cid)).encode()
        sig = "sha256=" + hmac.new(b"comment-secret", body, hashlib.sha256).hexdigest()
        return client.post(
            f"/webhooks/comments/{source.id}",
            data=body,
            headers={"X-Servicetorg-Signature": sig, "Content-Type": "application/json"},
        )

    assert comment("c-1").status_code == 202
    with statements() as seen:
        assert comment("c-2").status_code == 202
    assert len(seen) <= 2, seen
    assert reads_accounts(seen) == []
    assert stored_events() == 4


# -- the cache: forged requests, changed secrets ------------------------------------------------


def test_forged_signature_is_refused_with_the_cache_warm(sms, tasks):
    assert sms.inbound("ekte", process=False).status_code == 200
    forged = sms.post(
        sms.path("sms"),
        {"MessageSid": new_sid("SM"), "From": "+4791234567", "Body": "falsk"},
        headers={"X-Twilio-Signature": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="},
    )
    unsigned = sms.client.post(sms.path("sms"), data={"MessageSid": new_sid("SM"), "Body": "x"})
    assert (forged.status_code, unsigned.status_code) == (403, 403)
    assert stored_events() == 1


def test_changed_auth_token_through_our_code_applies_at_once(sms, tasks, monkeypatch):
    assert sms.inbound("før", process=False).status_code == 200
    monkeypatch.setenv("SERVICETORG_TEST_TWILIO_TOKEN_NEW", "new-token-0123456789")
    account = db.session.get(ChannelAccount, sms.account.id)
    account.secret_refs = {"auth_token": "SERVICETORG_TEST_TWILIO_TOKEN_NEW"}
    db.session.commit()

    assert sms.inbound("gammel nøkkel", process=False).status_code == 403
    sms.token = "new-token-0123456789"
    assert sms.inbound("ny nøkkel", process=False).status_code == 200
    assert stored_events() == 2


def test_a_token_stored_on_the_setup_page_applies_at_once_and_stays_off_the_hot_path(sms, tasks):
    """A token entered on the admin pages (inbox/secretstore.py, encrypted) wins over the
    environment variable; storing it clears this process's cache, and once cached the webhook
    reads it with no query."""
    from inbox import secretstore

    assert sms.inbound("før", process=False).status_code == 200
    account = db.session.get(ChannelAccount, sms.account.id)
    secretstore.put(account, "auth_token", "stored-token-0123456789", None)
    db.session.commit()
    assert sms.inbound("gammel nøkkel", process=False).status_code == 403
    sms.token = "stored-token-0123456789"
    assert sms.inbound("ny nøkkel", process=False).status_code == 200
    with statements() as seen:
        assert sms.inbound("igjen", process=False).status_code == 200
    assert not [s for s in seen if "stored_secret" in s], seen
    assert stored_events() == 3


def test_changed_auth_token_elsewhere_applies_within_the_ttl(sms, tasks, monkeypatch, clock):
    """Another process (a second web worker, the CLI) changed the account: this process's cache
    keeps the old snapshot at most WEBHOOK_ACCOUNT_CACHE_SECONDS."""
    ttl = sms.client.application.config["WEBHOOK_ACCOUNT_CACHE_SECONDS"]
    assert ttl == 5
    assert sms.inbound("før", process=False).status_code == 200
    monkeypatch.setenv("SERVICETORG_TEST_TWILIO_TOKEN_NEW", "new-token-abcdef")
    with db.engine.begin() as conn:  # not through this process's ORM session
        conn.execute(
            update(ChannelAccount.__table__)
            .where(ChannelAccount.__table__.c.id == sms.account.id)
            .values(secret_refs={"auth_token": "SERVICETORG_TEST_TWILIO_TOKEN_NEW"})
        )
    db.session.expire_all()  # the test shares the requests' session; each request has its own
    old = sms.token
    clock.now += ttl + 0.01
    assert sms.inbound("gammel nøkkel", process=False).status_code == 403
    sms.token = "new-token-abcdef"
    assert sms.inbound("ny nøkkel", process=False).status_code == 200
    sms.token = old
    assert sms.inbound("gammel igjen", process=False).status_code == 403
    assert stored_events() == 2


def test_disabled_account_stops_answering_at_once(sms, tasks):
    assert sms.inbound("før", process=False).status_code == 200
    account = db.session.get(ChannelAccount, sms.account.id)
    account.enabled = False
    db.session.commit()
    assert sms.inbound("etter", process=False).status_code == 404
    assert stored_events() == 1


def test_the_cache_holds_no_other_tenants_account(sms, factory, tasks):
    """Each account id is its own entry: a webhook for tenant B's number stores B's event."""
    other_tenant = factory.tenant()
    other = ChannelAccount(
        tenant_id=other_tenant.id,
        kind=ChannelKind.SMS,
        name="B",
        external_id="+4740000099",
        config=dict(sms.account.config),
        secret_refs=dict(sms.account.secret_refs),
    )
    db.session.add(other)
    db.session.commit()
    assert sms.inbound("til A", process=False).status_code == 200
    assert sms.inbound("til B", account=other, process=False).status_code == 200
    rows = db.session.execute(select(InboundEvent.tenant_id, InboundEvent.channel_account_id))
    assert sorted(rows) == sorted([(sms.tenant.id, sms.account.id), (other_tenant.id, other.id)])


# -- coalesced kicks --------------------------------------------------------------------------


def test_a_burst_sends_few_kicks_and_every_message_is_stored_once(sms, tasks, clock):
    # A long interval, so the trailing kick's timer thread stays out of the count below.
    sms.client.application.config["INBOUND_KICK_INTERVAL_MS"] = 60_000
    sids = [new_sid("SM") for _ in range(30)]
    for i, sid in enumerate(sids):
        assert sms.inbound(f"melding {i}", sid=sid, process=False).status_code == 200
    assert sms.inbound("melding 0 igjen", sid=sids[0], process=False).status_code == 200
    assert kicks(tasks) == 1  # the first at once; the rest wait for the trailing kick
    clock.now += 60
    assert dbmod.flush_kicks() == 1  # what the timer does when the interval is over
    assert kicks(tasks) == 2
    run_inbound(sms.client.application)
    bodies = [m.body for m in sms.messages()]
    assert sorted(bodies) == sorted(f"melding {i}" for i in range(30))
    assert stored_events() == 30


def test_trailing_kick_is_sent_by_the_timer(sms, tasks):
    sms.client.application.config["INBOUND_KICK_INTERVAL_MS"] = 50
    sms.inbound("en", process=False)
    sms.inbound("to", process=False)
    assert kicks(tasks) == 1
    for _ in range(200):  # the timer thread fires 50 ms later; waited for, not timed
        if kicks(tasks) == 2:
            break
        time.sleep(0.02)
    assert kicks(tasks) == 2
    run_inbound(sms.client.application)
    assert sorted(m.body for m in sms.messages()) == ["en", "to"]


class BrokenBroker:
    def __init__(self) -> None:
        self.tries = 0

    def send(self, name: str, args: Any, kwargs: Any) -> None:
        self.tries += 1
        raise ConnectionError("broker down")


def test_a_broker_outage_never_fails_a_webhook(sms, tasks, clock):
    app = sms.client.application
    app.config["INBOUND_KICK_INTERVAL_MS"] = 60_000
    broken = BrokenBroker()
    app.extensions["servicetorg.dispatcher"] = broken
    try:
        codes = [sms.inbound(f"storm {i}", process=False).status_code for i in range(5)]
        clock.now += 60
        dbmod.flush_kicks()  # the trailing kick fails too, quietly
    finally:
        app.extensions["servicetorg.dispatcher"] = tasks
    assert codes == [200] * 5
    assert broken.tries == 2
    assert stored_events() == 5
    # The broker is back: the sweeper's kick (or the next webhook's) stores them all.
    tasks.send(PROCESS_TASK, (), {})
    run_inbound(app)
    assert sorted(m.body for m in sms.messages()) == sorted(f"storm {i}" for i in range(5))


# -- the worker's claim --------------------------------------------------------------------


def test_two_claimers_never_take_the_same_event(sms, tasks):
    from workers.events import _claim

    for i in range(10):
        sms.inbound(f"køen {i}", process=False)
    tasks.sent.clear()
    first = _claim(None, 6)
    second_session = Session(db.engine)
    try:
        second = _claim(None, 10, session=second_session)
        if db.session.get_bind().dialect.name == "postgresql":
            assert len(first) == 6 and len(second) == 4
            assert not set(first) & set(second)  # FOR UPDATE SKIP LOCKED
        else:
            # SQLite: one writer; the worker's claim runs inside BEGIN IMMEDIATE, so a second
            # worker waits for the first one's batch (tested in test_inbound_worker.py).
            assert len(first) == 6
    finally:
        second_session.rollback()
        second_session.close()
        db.session.rollback()


# -- the worker's batch --------------------------------------------------------------------


def worker_statements(sms: Any, count: int, offset: int) -> list[str]:
    for i in range(count):
        sms.inbound(f"batch {offset + i}", from_=f"+479{offset + i:07d}", process=False)
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        run_inbound(sms.client.application)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return seen


def test_a_batch_costs_the_same_statements_for_3_or_15_citizens(sms, tasks):
    """Conversations, contacts, the conversations' reply numbers and realtime events are read
    and written set-based: no lazy load or UPDATE per message."""
    small = worker_statements(sms, 3, 100)
    large = worker_statements(sms, 15, 200)
    assert len(large) == len(small)
    assert len(sms.messages()) == 18
    convs = {m.conversation_id for m in sms.messages()}
    assert len(convs) == 18
    assert all(m.conversation.meta.get("phone") == m.meta["from"] for m in sms.messages())


def test_new_citizens_conversations_start_with_their_number(sms, tasks):
    """A new SMS conversation is opened with the number replies go to: no UPDATE of each new
    conversation's meta after its insert (one statement per citizen under a storm)."""
    seen = worker_statements(sms, 4, 300)
    updates = [s for s in seen if s.startswith("UPDATE conversation SET meta")]
    assert updates == []
    assert len(sms.messages()) == 4
    assert all(m.conversation.meta.get("phone") == m.meta["from"] for m in sms.messages())


def test_new_conversations_are_not_updated_after_their_insert(sms, tasks):
    """A conversation a batch opens is inserted active, unread and waiting since its first
    message: an UPDATE of each new row right after (the same as for an existing one) cost
    PostgreSQL a second version of it and of its entries in every index. A returning citizen's
    conversation is updated once, however many of its messages the batch holds."""
    seen = worker_statements(sms, 5, 500)
    assert [s for s in seen if s.startswith("UPDATE conversation")] == []
    first = sms.messages()
    convs = {m.conversation for m in first}
    assert len(convs) == 5
    for m in first:
        conv = m.conversation
        assert conv.has_unread and conv.status.value == "open"
        assert conv.waiting_since == m.sent_at and conv.last_inbound_at == m.sent_at
        assert conv.last_activity_at is not None
    for i in range(3):  # the same citizens again: their conversations are updated, once each
        sms.inbound(f"igjen {i}", from_="+4790000500", process=False)
    seen = worker_statements(sms, 0, 0)
    assert len([s for s in seen if s.startswith("UPDATE conversation")]) == 1
    again = [m for m in sms.messages() if m.body.startswith("igjen")]
    assert len(again) == 3 and len({m.conversation_id for m in again}) == 1
    conv = again[0].conversation
    assert conv.last_inbound_at == max(m.sent_at for m in again)
    assert conv.waiting_since == min(m.sent_at for m in first if m.conversation_id == conv.id)


def test_a_storm_of_sms_loads_no_stored_message(sms, tasks):
    """What follows a new SMS (STOP/START, its files, the alert it answers) is decided from
    what was sent: the inbound worker no longer loads every message it stored, with its
    conversation, contact and identities (a third of its CPU under a storm)."""
    seen = worker_statements(sms, 6, 600)
    loads = [s for s in seen if "message.body" in s or s.startswith("SELECT attachment")]
    assert loads == []
    assert sorted(m.body for m in sms.messages()) == [f"batch {600 + i}" for i in range(6)]


def test_a_returning_citizen_on_a_new_number_is_answered_there(sms, tasks, factory):
    """A conversation takes the number of its latest SMS (where replies go), also when the
    contact writes from a second number it is known by."""
    sms.inbound("fra det gamle nummeret", from_="+4791111111")
    conv = sms.messages()[0].conversation
    db.session.add(
        ContactIdentity(
            tenant_id=conv.tenant_id, contact_id=conv.contact_id, kind=IdentityKind.PHONE,
            value="+4792222222",
        )
    )  # fmt: skip
    db.session.commit()
    sms.inbound("fra det nye", from_="+4792222222")
    sms.inbound("og en til", from_="+4792222222")
    messages = sms.messages()
    assert {m.conversation_id for m in messages} == {conv.id}
    db.session.expire_all()
    assert db.session.get(Conversation, conv.id).meta["phone"] == "+4792222222"


def test_the_worker_lookups_do_not_grow_with_the_batch(sms, tasks):
    """PostgreSQL: stored provider ids, known identities and open conversations are looked up
    with one array parameter per key column, so each lookup has the same text for 3 or 40
    messages. A row-value IN list of 500 keys cost PostgreSQL about 50 µs a key, most of it
    planning the 500-way OR, four times the array form."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps the row-value IN list")

    def selects(statements: list[str]) -> set[str]:
        return {s for s in statements if s.lstrip().upper().startswith("SELECT")}

    small = selects(worker_statements(sms, 3, 700))
    large = selects(worker_statements(sms, 40, 800))
    assert large == small
    assert len(sms.messages()) == 43


def test_under_a_storm_the_worker_gathers_its_next_batch(sms, tasks, monkeypatch):
    """A batch costs about as much for 20 events as for 200, and a worker that takes what
    arrived during its last batch at once works in small batches under a storm, taking the
    CPU the webhooks need. After a batch of 10 or more events (a storm) it waits
    INBOUND_BATCH_GATHER_MS, holding the batch lock, so what arrives meanwhile is one batch."""
    from sqlalchemy import text

    from workers import events as worker

    app = sms.client.application
    app.config["INBOUND_BATCH_GATHER_MS"] = 150
    for i in range(30):  # these arrive while the worker waits (parked until then)
        assert sms.inbound(f"midt i {i}", process=False).status_code == 200
    db.session.execute(update(InboundEvent).values(state="parked"))
    db.session.commit()
    for i in range(12):
        assert sms.inbound(f"først {i}", process=False).status_code == 200
    batches: list[int] = []
    settle = worker._settle
    monkeypatch.setattr(worker, "_settle", lambda ids: batches.append(len(ids)) or settle(ids))
    waited: list[float] = []

    def meanwhile(seconds: float) -> None:
        waited.append(seconds)
        if len(waited) == 1:  # the webhooks of the storm go on (another connection)
            with db.engine.begin() as conn:
                conn.execute(
                    text("UPDATE inbound_event SET state = 'pending' WHERE state = 'parked'")
                )

    monkeypatch.setattr(worker, "sleep", meanwhile, raising=False)
    run_inbound(app)
    assert waited[0] == 0.15
    assert batches == [12, 30]
    assert len(sms.messages()) == 42


def test_the_worker_keeps_its_prepared_statements_from_batch_to_batch(sms, tasks, monkeypatch):
    """psycopg forgets every statement it prepared when a transaction is rolled back. The
    worker ended each claim with a ROLLBACK, so PostgreSQL planned every statement of every
    batch again; transactions that only read and locked now end with a COMMIT."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("psycopg's prepared statements")
    app = sms.client.application
    app.config.update(INBOUND_BATCH_SIZE=10, INBOUND_BATCH_GATHER_MS=0)
    for i in range(25):
        assert sms.inbound(f"melding {i}", process=False).status_code == 200
    rollbacks: list[int] = []
    rollback = psycopg.Connection.rollback

    def counted(conn: Any) -> None:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            rollbacks.append(1)  # a ROLLBACK is sent (the pool's reset of an idle one is not)
        rollback(conn)

    monkeypatch.setattr(psycopg.Connection, "rollback", counted)
    settled = run_inbound(app)
    assert settled == 25  # three batches in one task
    assert len(rollbacks) <= 1, rollbacks  # at most the task's own end
    assert len(sms.messages()) == 25


def test_a_quiet_hours_message_is_stored_without_waiting(sms, tasks, monkeypatch):
    from workers import events as worker

    app = sms.client.application
    app.config["INBOUND_BATCH_GATHER_MS"] = 150
    waited: list[float] = []
    monkeypatch.setattr(worker, "sleep", waited.append, raising=False)
    for i in range(3):
        assert sms.inbound(f"hei {i}").status_code == 200  # each processed on its own
    assert waited == []
    assert len(sms.messages()) == 3


def test_the_message_insert_does_not_grow_with_the_batch(sms, tasks):
    """PostgreSQL: the batch's messages go in as one array per column, so the statement is
    the same text for 3 or 40 messages (the driver parses it once). A multi-row VALUES list
    grew by a row of placeholders per message: 450 kB for a batch of 1,000, whose parsing
    cost a quarter of the worker's CPU."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps the multi-row VALUES insert")

    def message_insert(statements: list[str]) -> str:
        inserts = [s for s in statements if s.startswith("INSERT INTO message ")]
        assert len(inserts) == 1, inserts
        return inserts[0]

    small = message_insert(worker_statements(sms, 3, 300))
    large = message_insert(worker_statements(sms, 40, 400))
    assert large == small
    stored = sms.messages()
    assert sorted(m.body for m in stored) == sorted(
        [f"batch {300 + i}" for i in range(3)] + [f"batch {400 + i}" for i in range(40)]
    )
    assert all(m.meta["from"] == f"+479{int(m.body.split()[1]):07d}" for m in stored)
    assert all(m.created_at is not None and not m.is_note and m.send_attempts == 0 for m in stored)


def test_chat_widget_message_does_not_query_its_account(app, client, factory, tasks):
    client.environ_base["REMOTE_ADDR"] = "10.9.8.7"
    account = factory.channel(factory.tenant())
    base = f"/api/chat/{account.external_id}"
    token = client.post(f"{base}/visitor", json={}).json["token"]

    def send(body: str) -> Any:
        return client.post(
            f"{base}/messages",
            json={"body": body, "client_id": f"id-{body}"},
            headers={"X-Chat-Token": token},
        )

    assert send("first").status_code == 202
    with statements() as seen:
        assert send("second").status_code == 202
    assert reads_accounts(seen) == []
    assert len([s for s in seen if s.upper().startswith("INSERT")]) == 1

    # Disabled in Servicetorg: the widget is gone at once, not after the cache's TTL.
    account.enabled = False
    db.session.commit()
    assert send("third").status_code == 404
    assert stored_events() == 2
