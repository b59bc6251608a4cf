"""Database engine tweaks and the after-commit task queue.

Tasks queued during a transaction are sent only after it commits, so a worker never looks for
a row that is not there yet, and a rolled-back request sends nothing. Sending happens after the
data is committed, so it can never fail the request: a task that could not be sent (broker
down) is logged and written to the `unsent_task` table, which the sweeper
(workers/housekeeping.py) sends again.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, SessionTransaction

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
    unsent = []
    for name, args, kwargs in pending:
        try:
            dispatcher.send(name, args, kwargs)
        except Exception as exc:  # noqa: BLE001 (the data is committed; the sweeper resends)
            log.warning("task %s%r not sent, left to the sweeper: %s", name, args, exc)
            unsent.append({"name": name, "args": list(args), "kwargs": kwargs})
    if unsent:
        _keep_unsent(unsent)


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
