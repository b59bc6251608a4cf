"""Database engine tweaks and the after-commit task queue.

Tasks queued during a transaction are sent only after it commits, so a worker never looks for
a row that is not there yet, and a rolled-back request sends nothing. Sending happens after the
data is committed, so it can never fail the request: a task that could not be sent (broker
down) is logged and written to the `unsent_task` table, which the sweeper
(workers/housekeeping.py) sends again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, has_app_context
from sqlalchemy import ColumnElement, any_, bindparam, event, func, select, tuple_
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.pool import Pool

from inbox.extensions import db

log = logging.getLogger(__name__)
_PENDING = "servicetorg.pending_tasks"
_installed = False


def install_listeners() -> None:
    """Register engine and session listeners once per process."""
    global _installed
    if _installed:
        return
    event.listen(Engine, "connect", _sqlite_pragmas)
    event.listen(Engine, "savepoint", _sqlite_begin_before_savepoint)
    event.listen(Engine, "begin", _sqlite_begin)
    event.listen(Session, "after_commit", _send_pending)
    event.listen(Session, "after_soft_rollback", _drop_pending)
    event.listen(Pool, "checkin", _note_checkin)
    event.listen(Pool, "checkout", _ping_if_idle)
    _installed = True


# -- liveness of pooled connections -------------------------------------------------------------
# After the database was away, a pooled connection may be dead. SQLAlchemy's pool_pre_ping
# tests every checkout with a round trip, which is a quarter of a webhook's database work. A
# connection that was in use moments ago is as alive as the ping would find it, so only one
# that sat idle in the pool is tested; one that fails is replaced (the pool retries on
# DisconnectionError). What still fails mid-use (the server went away under load) is a
# disconnect: SQLAlchemy then discards every connection of the pool, and the request answers
# 503 (inbox/web.py).
PING_AFTER_IDLE_SECONDS = 1.0
_IDLE_SINCE = "servicetorg.idle_since"


def _note_checkin(dbapi_connection: Any, record: Any) -> None:
    record.info[_IDLE_SINCE] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        return  # a file, not a server
    idle_since = record.info.get(_IDLE_SINCE)
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
        return  # new, or in use moments ago
    try:
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True  # no transaction left open by the ping
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        dbapi_connection.autocommit = autocommit
    except Exception as error:
        raise sa_exc.DisconnectionError(f"pooled connection is dead: {error}") from error


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    cur = dbapi_connection.cursor()
    # WAL lets the web server, worker and beat share one SQLite file in the embedded mode.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin_before_savepoint(conn: Any, name: str) -> None:
    # The sqlite3 module opens a transaction only before INSERT/UPDATE/DELETE. A SAVEPOINT
    # issued first became the outermost transaction, and its RELEASE a commit: the rows of a
    # request that then failed (a full disk) stayed, half a message. BEGIN first, so the
    # savepoint nests inside the request's one transaction.
    if conn.dialect.name != "sqlite":
        return
    dbapi_connection = conn.connection.dbapi_connection
    if dbapi_connection is not None and not dbapi_connection.in_transaction:
        dbapi_connection.execute("BEGIN")


_writer: ContextVar[bool] = ContextVar("servicetorg_sqlite_writer", default=False)
F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def writer() -> Iterator[None]:
    """Code that writes (a worker's task, a webhook): its SQLite transactions begin IMMEDIATE."""
    token = _writer.set(True)
    try:
        yield
    finally:
        _writer.reset(token)


def writes(view: F) -> F:
    """A view whose one short transaction writes (a webhook): see `_sqlite_begin`."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with writer():
            return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _sqlite_begin(conn: Any) -> None:
    """One writer at a time, decided when the transaction begins: a write transaction takes
    the write lock with BEGIN IMMEDIATE, waiting for it up to busy_timeout. A deferred
    transaction that reads first and writes later fails at once with "database is locked"
    when another writer committed in between (no waiting helps it), which is what answered
    webhooks with 500 under load. Worker tasks and the webhooks (marked with @writes) are
    writers; everyone else keeps pysqlite's own behaviour (reads outside a transaction, a
    deferred BEGIN before the first write), so readers never queue behind a writer and always
    see the latest commit. SQLAlchemy's pysqlite recipe: BEGIN emitted on the "begin" event."""
    if conn.dialect.name == "sqlite" and _writer.get():
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def among(column: Any, values: Any) -> ColumnElement[bool]:
    """`column IN (values)`; on PostgreSQL `column = ANY(%s)` with one array parameter. The
    statement text is then the same for 3 values or 500, so the driver parses it once and
    PostgreSQL can keep its plan, where an IN list of a placeholder per value made a new
    statement for every length (the inbound worker's batches: a tenth of its CPU)."""
    values = sorted(set(values))
    if db.engine.dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def among_keys(columns: Sequence[Any], keys: Collection[tuple[Any, ...]]) -> ColumnElement[bool]:
    """`(col1, col2, …) IN (keys)` for composite keys. On PostgreSQL the keys go as one array
    parameter per column, `(col1, col2) IN (SELECT * FROM unnest(%s, %s))`: one statement text
    whatever the number of keys, planned as an index lookup per key. A row-value IN list of
    500 keys cost PostgreSQL about 50 µs per key, four times the unnest form, most of it
    planning the 500-way OR (the inbound worker's lookup of stored provider ids)."""
    if db.engine.dialect.name != "postgresql":
        return tuple_(*columns).in_(list(keys))
    arrays = [
        bindparam(None, [key[i] for key in keys], type_=ARRAY(col.type))
        for i, col in enumerate(columns)
    ]
    names = [f"k{i}" for i in range(len(columns))]
    given = func.unnest(*arrays).table_valued(*names).render_derived()
    return tuple_(*columns).in_(select(*(given.c[n] for n in names)))


def enqueue(task_name: str, *args: Any, **kwargs: Any) -> None:
    """Queue a Celery task (by name, with plain arguments) to be sent after the commit."""
    db.session.info.setdefault(_PENDING, []).append((task_name, args, kwargs))


def collect(task_name: str) -> list[Any]:
    """The list that is the one argument of `task_name` as queued in this transaction, queued
    now if it is not yet: what is added to it until the commit goes out in one task."""
    for name, args, kwargs in db.session.info.get(_PENDING, ()):
        if name == task_name and len(args) == 1 and isinstance(args[0], list) and not kwargs:
            return args[0]
    items: list[Any] = []
    enqueue(task_name, items)
    return items


def queued(task_name: str) -> bool:
    """Whether this transaction has already queued the task (to send it once, not per row)."""
    return any(name == task_name for name, _, _ in db.session.info.get(_PENDING, ()))


def _send_pending(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        # SQLAlchemy also reports the release of a savepoint as a commit; the outer
        # transaction is still open, so its tasks wait for the real commit.
        return
    pending = session.info.pop(_PENDING, None)
    if pending and has_app_context():
        send_now(pending)


def send_now(pending: list[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> None:
    """Send tasks whose data is committed (coalesced kicks at most once per interval); what
    the broker does not take is written down for the sweeper. Never raises for the broker."""
    dispatcher = current_app.extensions["servicetorg.dispatcher"]
    unsent = []
    for name, args, kwargs in pending:
        if name in _COALESCED and not args and not kwargs and not _kick_now(name):
            continue  # a kick went out moments ago; a trailing one follows (see `coalesce`)
        try:
            dispatcher.send(name, args, kwargs)
        except Exception as exc:  # noqa: BLE001 (the data is committed; the sweeper resends)
            log.warning("task %s%r not sent, left to the sweeper: %s", name, args, exc)
            unsent.append({"name": name, "args": list(args), "kwargs": kwargs})
    if unsent:
        _keep_unsent(unsent)


# -- coalesced kicks ---------------------------------------------------------------------------
# A kick is a task without arguments that only says "there is work" (the inbound worker's
# process_events). Under a burst every webhook would send one; the worker needs one per batch.
# So a process sends at most one per interval: the first at once, and, if more were asked for
# meanwhile, one trailing kick when the interval is over, from a timer thread. A kick that is
# lost (broker down, process killed) costs latency only: the sweeper re-kicks pending events.

_COALESCED: dict[str, str] = {}  # task name -> config key of its interval in milliseconds
_kick_lock = threading.Lock()
_next_kick: dict[str, float] = {}
_trailing: dict[str, tuple[threading.Timer, Any]] = {}
clock: Callable[[], float] = time.monotonic  # tests move it instead of sleeping


def coalesce(task_name: str, interval_config_key: str) -> None:
    """Send `task_name` (a task without arguments) at most once per interval per process."""
    _COALESCED[task_name] = interval_config_key


def _kick_now(name: str) -> bool:
    """Whether to send this kick now; if not, make sure a trailing one is scheduled."""
    interval = float(current_app.config.get(_COALESCED[name]) or 0) / 1000
    if interval <= 0:
        return True
    now = clock()
    with _kick_lock:
        if name in _trailing:
            return False
        if now >= _next_kick.get(name, 0.0):
            _next_kick[name] = now + interval
            return True
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        timer = threading.Timer(_next_kick[name] - now, _send_trailing, (name,))
        timer.daemon = True
        _trailing[name] = (timer, app)
        timer.start()
    return False


def _send_trailing(name: str) -> None:
    with _kick_lock:
        entry = _trailing.pop(name, None)
        if entry is None:
            return
        app = entry[1]
        interval = float(app.config.get(_COALESCED[name]) or 0) / 1000
        _next_kick[name] = clock() + interval
    with app.app_context():
        try:
            app.extensions["servicetorg.dispatcher"].send(name, (), {})
        except Exception as exc:  # noqa: BLE001 (nothing waits on it; the sweeper re-kicks)
            log.warning("kick %s not sent, left to the sweeper: %s", name, exc)


def flush_kicks() -> int:
    """Send the trailing kicks that are waiting now (at shutdown, and in tests)."""
    with _kick_lock:
        names = list(_trailing)
        for name in names:
            _trailing[name][0].cancel()
    for name in names:
        _send_trailing(name)
    return len(names)


def reset_kicks() -> None:
    """Forget when kicks were last sent (tests)."""
    with _kick_lock:
        for timer, _app in _trailing.values():
            timer.cancel()
        _trailing.clear()
        _next_kick.clear()


def _keep_unsent(rows: list[dict[str, Any]]) -> None:
    """Write down what the broker did not take (own transaction: the request's committed);
    the sweeper sends it again. Work the sweeper finds by itself (replies, archive items) is
    covered even if this fails too."""
    from inbox.models import UnsentTask
    from inbox.models.base import utcnow

    try:
        with db.engine.begin() as conn:
            conn.execute(
                UnsentTask.__table__.insert(), [r | {"created_at": utcnow()} for r in rows]
            )
    except Exception as exc:  # noqa: BLE001
        log.error("%d unsent tasks could not be written down: %s", len(rows), exc)


def _drop_pending(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)
