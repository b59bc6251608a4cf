"""Database engine tweaks and the after-commit task queue.

Tasks queued during a transaction are sent only after it commits, so a worker never looks for
a row that is not there yet, and a rolled-back request sends nothing.
"""

from __future__ import annotations

from typing import Any

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


def enqueue(task_name: str, *args: Any, **kwargs: Any) -> None:
    """Queue a Celery task (by name, with plain arguments) to be sent after the commit."""
    db.session.info.setdefault(_PENDING, []).append((task_name, args, kwargs))


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
