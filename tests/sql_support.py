"""Counting the SQL statements requests send (query ceilings in tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import has_request_context
from sqlalchemy import event

from inbox.extensions import db

# The pool's liveness check on a connection that sat idle (inbox/db.py `_ping_if_idle`): when
# it runs depends on the test's pace, not on what the request does.
PING = "SELECT 1"


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL statements requests send while the block runs (the test's own reads, made
    outside a request, are not counted). On PostgreSQL they are counted where they reach the
    driver, so statements the app sends on a pooled driver connection directly (the webhook's
    insert) are seen as well as those SQLAlchemy executes."""
    seen: list[str] = []

    def note(statement: Any) -> None:
        text = " ".join(str(statement).split())
        if has_request_context() and text != PING:
            seen.append(text)

    if db.engine.dialect.name == "postgresql":
        import psycopg

        execute, executemany = psycopg.Cursor.execute, psycopg.Cursor.executemany

        def counted_execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            note(query)
            return execute(self, query, *args, **kwargs)

        def counted_executemany(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            note(query)
            return executemany(self, query, *args, **kwargs)

        psycopg.Cursor.execute = counted_execute  # type: ignore[method-assign]
        psycopg.Cursor.executemany = counted_executemany  # type: ignore[method-assign]
        try:
            yield seen
        finally:
            psycopg.Cursor.execute = execute  # type: ignore[method-assign]
            psycopg.Cursor.executemany = executemany  # type: ignore[method-assign]
        return

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        note(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
