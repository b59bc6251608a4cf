"""Database engine tweaks and the after-commit task queue.

Tasks queued during a transaction are sent only after it commits, so a worker never looks for
a row that is not there yet, and a rolled-back request sends nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, SessionTransaction

from inbox.extensions import db

_PENDING = "servicetorg.pending_tasks"
_installed = False


def install_listeners() -> None:
    """Register engine and session listeners once per process."""
    global _installed
    if _installed:
        return
    event.listen(Engine, "connect", _sqlite_pragmas)
    event.listen(Engine, "begin", _sqlite_begin)
    event.listen(Session, "after_commit", _send_pending)
    event.listen(Session, "after_soft_rollback", _drop_pending)
    _installed = True


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


def enqueue(task_name: str, *args: Any, **kwargs: Any) -> None:
    """Queue a Celery task (by name, with plain arguments) to be sent after the commit."""
    db.session.info.setdefault(_PENDING, []).append((task_name, args, kwargs))


def queued(task_name: str) -> bool:
    """Whether this transaction has already queued the task (to send it once, not per row)."""
    return any(name == task_name for name, _, _ in db.session.info.get(_PENDING, ()))


def _send_pending(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        # SQLAlchemy also reports the release of a savepoint as a commit; the outer
        # transaction is still open, so its tasks wait for the real commit.
        return
    pending = session.info.pop(_PENDING, None)
    if not pending or not has_app_context():
        return
    dispatcher = current_app.extensions["servicetorg.dispatcher"]
    for name, args, kwargs in pending:
        dispatcher.send(name, args, kwargs)


def _drop_pending(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)
