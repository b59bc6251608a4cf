"""The inbound event log: append in the webhook, claim and settle in the worker, park for an
admin. See docs/inbound.md.

A webhook calls `append(...)` and commits: one INSERT that does nothing when the provider
delivers the same event again (its key is unique per account and kind), plus one coalesced
"kick" for the worker, sent after the commit.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import psycopg
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from inbox.db import coalesce, enqueue, queued, send_now
from inbox.extensions import db
from inbox.models import ChannelAccount, EventState, InboundEvent
from inbox.models.base import utcnow
from inbox.services.account_cache import AccountRef

PROCESS_TASK = "servicetorg.inbound.process_events"
# Kicks are coalesced per process (INBOUND_KICK_INTERVAL_MS, inbox/db.py).
coalesce(PROCESS_TASK, "INBOUND_KICK_INTERVAL_MS")
# An event that failed this many times for a reason other than its shape is parked.
MAX_ATTEMPTS = 3
# Headers kept with an event: what re-verifying its signature or replaying it needs.
KEPT_HEADERS = (
    "Content-Type",
    "X-Twilio-Signature",
    "X-Twilio-Webhooks-Signature-Settings",
    "X-Hub-Signature-256",
    "X-Servicetorg-Signature",
    "User-Agent",
)


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: headers[name] for name in KEPT_HEADERS if headers.get(name)}


def _values(
    account: ChannelAccount | AccountRef,
    kind: str,
    provider_key: str,
    body: bytes,
    url: str,
    headers: Mapping[str, str] | None,
) -> dict[str, Any]:
    return {
        "tenant_id": account.tenant_id,
        "channel_account_id": account.id,
        "kind": kind,
        "provider_key": provider_key[:255],
        "body": body,
        "url": url,
        "headers": kept_headers(headers or {}),
        "received_at": utcnow(),
        "state": EventState.PENDING.value,
        "attempts": 0,
    }


def append(
    account: ChannelAccount | AccountRef,
    kind: str,
    provider_key: str,
    body: bytes,
    *,
    url: str = "",
    headers: Mapping[str, str] | None = None,
) -> bool:
    """Store a raw event once, in the caller's transaction; True if it is new. Queues one
    kick per transaction. A webhook that stores one event and nothing else uses `record`."""
    values = _values(account, kind, provider_key, body, url, headers)
    # Core, on the session's connection: no unit of work, and a statement built once per
    # dialect (its compiled form is cached).
    conn = db.session.connection()
    created = conn.execute(_append_statement(conn.dialect.name), values).first() is not None
    if created:
        kick()
    return created


def record(
    account: ChannelAccount | AccountRef,
    kind: str,
    provider_key: str,
    body: bytes,
    *,
    url: str = "",
    headers: Mapping[str, str] | None = None,
) -> bool:
    """Store one raw event, committed when this returns (the provider may hear 2xx); True if
    it is new. The webhook's whole database work: one statement on a pooled connection in
    autocommit mode (no BEGIN and COMMIT round trips, no session), then the worker's kick.
    On SQLite the statement is its own write transaction, waiting for the lock up to
    busy_timeout like BEGIN IMMEDIATE. The statement does nothing for an event already
    stored, so it is repeated once on a fresh connection if the pooled one turns out dead."""
    values = _values(account, kind, provider_key, body, url, headers)
    # With the account from the cache the request has no session at all: none is made here.
    if db.session.registry.has():
        session = db.session()
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("record() commits on its own; use append() in a transaction")
        # What the request read before (an account or a secret the cache did not hold) ends
        # here, and its connection goes back to the pool before this one is taken: threads
        # that each held one while waiting for a second would exhaust the pool in a burst.
        session.rollback()
    insert = _insert_postgresql if db.engine.dialect.name == "postgresql" else _insert_core
    created = insert(db.engine, values)
    if created:
        send_now([(PROCESS_TASK, (), {})])
    return created


def _insert_core(engine: Engine, values: dict[str, Any]) -> bool:
    autocommit = _autocommit(engine)
    for attempt in (1, 2):
        try:
            with autocommit.connect() as conn:
                return (
                    conn.execute(_append_statement(conn.dialect.name), values).first() is not None
                )
        except sa_exc.DBAPIError as error:
            if attempt == 2 or not error.connection_invalidated:
                raise
    raise AssertionError("unreachable")


_PG_APPEND = (
    "INSERT INTO inbound_event (tenant_id, channel_account_id, kind, provider_key, body, url, "
    "headers, received_at, state, attempts) VALUES {} "
    "ON CONFLICT (channel_account_id, kind, provider_key) DO NOTHING "
    "RETURNING channel_account_id, kind, provider_key"
)
_PG_ROW = "(%s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s)"


@cache
def _append_rows(count: int) -> str:
    """The insert of `count` events. A list of rows rather than one array per column: with
    the few rows a group has, the driver turns scalars into parameters for about half the CPU
    of arrays; each length is one statement, prepared on a connection once it recurs."""
    return _PG_APPEND.format(", ".join([_PG_ROW] * count))


# At most this many webhooks share one statement (a web process has fewer threads anyway).
GROUP_MAX = 64


def _insert_postgresql(engine: Engine, values: dict[str, Any]) -> bool:
    """Stored and committed when this returns: in one statement with the other webhooks of
    this process waiting at the same moment (`_GroupCommit`)."""
    row = (
        values["tenant_id"],
        values["channel_account_id"],
        values["kind"],
        values["provider_key"],
        values["body"],
        values["url"],
        json.dumps(values["headers"]),
        values["received_at"],
        values["state"],
        values["attempts"],
    )
    return _group(engine).insert(row)


class _Waiter:
    """One webhook's event on its way into a group's statement, and how it went. Its thread
    waits on a lock of its own that is released when the row is settled or the lead is
    handed to it (a bare lock: an Event's condition variable cost the web tier more CPU)."""

    __slots__ = ("row", "_signal", "lead", "created", "error")

    def __init__(self, row: tuple[Any, ...]) -> None:
        self.row = row
        self._signal = threading.Lock()
        self._signal.acquire()
        self.lead = False  # set (and signalled) when this thread is to run the next statement
        self.created: bool | None = None
        self.error: BaseException | None = None

    def wait(self) -> None:
        self._signal.acquire()

    def promote(self) -> None:
        self.lead = True
        self._signal.release()

    def settle(self, created: bool | None = None, error: BaseException | None = None) -> None:
        self.created, self.error = created, error
        if not self.lead:  # a promoted leader was signalled already and waits no more
            self._signal.release()

    def outcome(self) -> bool:
        if self.error is not None:
            raise self.error
        assert self.created is not None
        return self.created


class _GroupCommit:
    """Group commit for one process's webhooks. Under a storm every webhook thread would
    otherwise send its own INSERT and wait for its own commit's WAL flush, which is most of
    the time a webhook spends in the database. Here one thread at a time (the leader) inserts
    what has queued up meanwhile in one statement and one commit; the others wait on their
    own signal and hear how their row went. When the leader's own row is stored it hands the
    lead to the first thread still waiting and returns, so no request waits for more than the
    statement it queued behind and its own. A webhook alone (a quiet hour) is a group of
    one: one statement, as before.

    Each row keeps its own outcome: a repeated delivery is "not new" for the webhook that
    sent it again, even in the same group as the first; a row the database refuses (a value
    it cannot hold) costs only its own webhook (the group is stored row by row instead); a
    lost database fails each webhook of the group with its own copy of the error (503)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._waiting: list[_Waiter] = []
        self._busy = False

    def insert(self, row: tuple[Any, ...]) -> bool:
        me = _Waiter(row)
        with self._lock:
            self._waiting.append(me)
            lead, self._busy = not self._busy, True
        if not lead:
            me.wait()
            if not me.lead:
                return me.outcome()  # stored (or refused) in the leader's statement
        self._lead()
        return me.outcome()

    def _lead(self) -> None:
        with self._lock:
            group, self._waiting = self._waiting[:GROUP_MAX], self._waiting[GROUP_MAX:]
        try:
            _store_group(self.engine, group)
        finally:
            with self._lock:
                if self._waiting:
                    self._waiting[0].promote()
                else:
                    self._busy = False


def _store_group(engine: Engine, group: list[_Waiter]) -> None:
    """Insert the group's rows and settle every waiter, whatever happens."""
    try:
        try:
            created = _insert_rows(engine, [w.row for w in group])
        except sa_exc.DBAPIError as error:
            if len(group) == 1 or _database_away(error):
                for waiter in group:
                    waiter.settle(error=_copy(error))
                return
            created = []  # one row refused: each on its own, so it costs only its webhook
            for waiter in group:
                try:
                    waiter.settle(created=_insert_rows(engine, [waiter.row])[0])
                except sa_exc.DBAPIError as own:
                    waiter.settle(error=own)
            return
        for waiter, new in zip(group, created, strict=True):
            waiter.settle(created=new)
    except BaseException as error:
        for waiter in group:
            if waiter.created is None and waiter.error is None:
                waiter.settle(error=error)
        raise


def _database_away(error: sa_exc.DBAPIError) -> bool:
    return error.connection_invalidated or isinstance(
        error, (sa_exc.OperationalError, sa_exc.InterfaceError)
    )


def _copy(error: sa_exc.DBAPIError) -> BaseException:
    """An error of its own for each waiting thread (one raised object would carry the
    tracebacks of all of them)."""
    return sa_exc.DBAPIError.instance(
        _append_rows(1),
        None,
        error.orig,
        psycopg.Error,
        hide_parameters=True,
        connection_invalidated=error.connection_invalidated,
    )


def _insert_rows(engine: Engine, rows: list[tuple[Any, ...]]) -> list[bool]:
    """Insert rows in one statement on a pooled driver connection in autocommit mode (one
    round trip, no BEGIN and COMMIT, no SQLAlchemy execution layer, which cost as much CPU
    as the rest of the webhook); which of them were new. The pool's rules apply (size, the
    liveness check on checkout). Errors come out as SQLAlchemy's (a lost database answers
    503, as everywhere); a connection found dead is thrown away and the statement, which
    does nothing for an event already stored, repeated once on a fresh one."""
    params = [value for row in rows for value in row]
    for attempt in (1, 2):
        try:
            pooled = engine.raw_connection()
        except psycopg.Error as error:  # no connection to be had: the database is away
            raise _sqlalchemy_error(error, dead=True) from error
        conn = pooled.driver_connection
        try:
            conn.autocommit = True
            try:
                stored = {tuple(r) for r in conn.execute(_append_rows(len(rows)), params)}
            finally:
                _back_to_transactions(pooled, conn)
            created = []
            for row in rows:  # the first of twins in one group is the new one
                key = (row[1], row[2], row[3])
                created.append(key in stored)
                stored.discard(key)
            return created
        except psycopg.Error as error:
            dead = engine.dialect.is_disconnect(error, conn, None) or conn.closed
            if dead:
                # As SQLAlchemy does on a disconnect: every connection of the pool made
                # before this one is replaced at its next checkout (after a restart of the
                # database they are all dead), not only this one.
                engine.pool._invalidate(pooled, error)
            if attempt == 2 or not dead:
                raise _sqlalchemy_error(error, dead) from error
        finally:
            pooled.close()
    raise AssertionError("unreachable")


def _sqlalchemy_error(error: psycopg.Error, dead: bool) -> sa_exc.DBAPIError:
    """The driver's error as SQLAlchemy raises it (OperationalError for a lost database)."""
    return sa_exc.DBAPIError.instance(
        _append_rows(1),
        None,
        error,
        psycopg.Error,
        hide_parameters=True,
        connection_invalidated=dead,
    )


_groups: weakref.WeakKeyDictionary[Engine, _GroupCommit] = weakref.WeakKeyDictionary()
_groups_lock = threading.Lock()


def _group(engine: Engine) -> _GroupCommit:
    group = _groups.get(engine)
    if group is None:
        with _groups_lock:
            group = _groups.setdefault(engine, _GroupCommit(engine))
    return group


def _back_to_transactions(pooled: Any, conn: Any) -> None:
    """Autocommit off again, as the pool hands connections to everyone else (whatever the
    insert did); a connection where that fails (a broken one) is discarded instead."""
    try:
        conn.autocommit = False
    except Exception as error:  # noqa: BLE001 (never back into the pool in autocommit)
        pooled.invalidate(error)


_autocommit_engines: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def _autocommit(engine: Engine) -> Engine:
    """The engine with its connections in autocommit mode (the same pool)."""
    if engine not in _autocommit_engines:
        _autocommit_engines[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    return _autocommit_engines[engine]


@cache
def _append_statement(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(InboundEvent.__table__)
        .on_conflict_do_nothing(index_elements=["channel_account_id", "kind", "provider_key"])
        .returning(InboundEvent.__table__.c.id)
    )


def kick() -> None:
    """Ask a worker to process pending events, at most once per transaction."""
    if not queued(PROCESS_TASK):
        enqueue(PROCESS_TASK)


def stragglers(older_than: timedelta, now: datetime | None = None) -> int:
    """How many events are still pending after `older_than` (their kick was lost)."""
    cutoff = (now or utcnow()) - older_than
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(InboundEvent)
            .where(InboundEvent.state == EventState.PENDING, InboundEvent.received_at < cutoff)
        )
        or 0
    )


def purge_processed(keep: timedelta, now: datetime | None = None, chunk: int = 5000) -> int:
    """Delete events processed longer than `keep` ago; returns how many. A processed event
    holds a raw copy of what a citizen sent (text, number, name): kept past its use it would
    outlive the message's retention and a subject's erasure. Within `keep` it still answers a
    provider's late retry as "already stored" and can be replayed; after that a retry is
    recognised by the message's own provider id (no twin either way). Parked events stay
    until an admin retries them. Commits after each chunk, so no lock is held for long."""
    cutoff = (now or utcnow()) - keep
    t = InboundEvent.__table__
    oldest = (
        select(t.c.id)
        .where(t.c.state == EventState.DONE, t.c.processed_at < cutoff)
        .order_by(t.c.id)
        .limit(chunk)
        .scalar_subquery()
    )
    removed = 0
    while True:
        count = int(db.session.execute(t.delete().where(t.c.id.in_(oldest))).rowcount or 0)
        db.session.commit()
        removed += count
        if count < chunk:
            return removed


def parked(limit: int = 100, tenant_id: int | None = None) -> list[InboundEvent]:
    q = select(InboundEvent).where(InboundEvent.state == EventState.PARKED)
    if tenant_id is not None:
        q = q.where(InboundEvent.tenant_id == tenant_id)
    return list(db.session.scalars(q.order_by(InboundEvent.id).limit(limit)))


def retry(event_ids: list[int], tenant_id: int | None = None) -> int:
    """Put parked events back in line (after a fix); returns how many. Flushes, never commits."""
    q = (
        update(InboundEvent)
        .where(InboundEvent.id.in_(event_ids), InboundEvent.state == EventState.PARKED)
        .values(state=EventState.PENDING, attempts=0)
    )
    if tenant_id is not None:
        q = q.where(InboundEvent.tenant_id == tenant_id)
    count = db.session.execute(q).rowcount
    if count:
        kick()
    return int(count or 0)
