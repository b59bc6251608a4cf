"""Real-time change notices: new messages, assignments, status changes and typing.

Changes are detected by SQLAlchemy session events (nobody has to call us): after each flush we
note new messages and changed conversations; when the transaction commits we publish them,
scoped to their tenant. With REDIS_URL set they go through Redis pub/sub (so every web process
sees them); without Redis (embedded mode) they are written to the `realtime_event` table in the
same transaction and the SSE stream polls it. A rolled-back transaction publishes nothing.

Redis going away degrades to the database: events that cannot be published are written to
`realtime_event` (publishing never fails the request, whose data is committed), and a stream
whose Redis fails polls that table from where it started.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import delete, event, func, inspect, select
from sqlalchemy.orm import Session, SessionTransaction

from inbox.extensions import db
from inbox.models import Conversation, Direction, Message, RealtimeEvent
from inbox.models.base import utcnow

log = logging.getLogger(__name__)
_PENDING = "servicetorg.realtime.pending"
_installed = False
KEEP_EVENTS = timedelta(minutes=5)


def install_listeners() -> None:
    global _installed
    if _installed:
        return
    event.listen(Session, "after_flush", _collect)
    event.listen(Session, "before_commit", _store_in_database)
    event.listen(Session, "after_commit", _publish)
    event.listen(Session, "after_soft_rollback", _drop)
    _installed = True


def emit(tenant_id: int, payload: dict[str, Any]) -> None:
    """Queue an event of our own (typing) to go out with the current transaction."""
    db.session.info.setdefault(_PENDING, []).append((tenant_id, payload))


# -- detecting changes ------------------------------------------------------------------------


def _changed(obj: Any, *names: str) -> bool:
    attrs = inspect(obj).attrs
    return any(attrs[n].history.has_changes() for n in names)


def _collect(session: Session, flush_context: Any) -> None:
    found: list[tuple[int, dict[str, Any]]] = []
    for obj in session.new:
        if isinstance(obj, Message):
            found.append(
                (
                    obj.tenant_id,
                    {
                        "type": "message",
                        "conversation_id": obj.conversation_id,
                        "message_id": obj.id,
                        "direction": Direction(obj.direction).value,
                        "is_note": bool(obj.is_note),
                    },
                )
            )
        elif isinstance(obj, Conversation):
            found.append((obj.tenant_id, {"type": "conversation", "conversation_id": obj.id}))
    for obj in session.dirty:
        if isinstance(obj, Conversation):
            if _changed(obj, "assignee_id", "team_id"):
                found.append((obj.tenant_id, _conv_event("assignment", obj)))
            if _changed(obj, "status"):
                found.append((obj.tenant_id, _conv_event("status", obj)))
        elif isinstance(obj, Message) and _changed(obj, "delivery_status", "body"):
            payload = {"type": "delivery", "conversation_id": obj.conversation_id}
            found.append((obj.tenant_id, payload | {"message_id": obj.id}))
    if found:
        session.info.setdefault(_PENDING, []).extend(found)


def _conv_event(kind: str, conv: Conversation) -> dict[str, Any]:
    return {
        "type": kind,
        "conversation_id": conv.id,
        "status": conv.status.value,
        "assignee_id": conv.assignee_id,
        "team_id": conv.team_id,
    }


def _uses_redis() -> bool:
    return has_app_context() and bool(current_app.config.get("REDIS_URL"))


def _store_in_database(session: Session) -> None:
    # Savepoints fire the commit events too; only the real commit counts.
    if session.in_nested_transaction() or not has_app_context() or _uses_redis():
        return
    session.flush()  # changes made just before commit() are only seen by this flush
    pending = session.info.pop(_PENDING, None)
    if pending:
        # One executemany for a whole batch of messages, not an INSERT … RETURNING per event.
        session.execute(
            RealtimeEvent.__table__.insert(),
            [{"tenant_id": t, "payload": p, "created_at": utcnow()} for t, p in pending],
        )


def _publish(session: Session) -> None:
    if session.in_nested_transaction():
        return
    pending = session.info.pop(_PENDING, None)
    if not pending or not _uses_redis():
        return
    try:
        if time.monotonic() < current_app.extensions.get(_DOWN_UNTIL, 0.0):
            raise ConnectionError("Redis failed moments ago; not tried")
        client = redis_client()
        while pending:
            # A batch of messages publishes hundreds of events: one round trip per chunk.
            chunk = pending[:PUBLISH_CHUNK]
            pipe = client.pipeline(transaction=False)
            for tenant_id, payload in chunk:
                pipe.publish(channel_name(tenant_id), json.dumps(payload))
            pipe.execute()
            del pending[: len(chunk)]
    except Exception as exc:  # noqa: BLE001 (the data is committed: degrade, never fail)
        current_app.extensions[_DOWN_UNTIL] = time.monotonic() + REDIS_PAUSE_SECONDS
        log.warning(
            "realtime: Redis unavailable (%s); %d events kept for polling", exc, len(pending)
        )
        _store_unpublished(pending)


def _store_unpublished(pending: list[tuple[int, dict[str, Any]]]) -> None:
    """Events Redis did not take, written where polling streams find them (own transaction:
    the request's has committed)."""
    try:
        with db.engine.begin() as conn:
            conn.execute(
                RealtimeEvent.__table__.insert(),
                [{"tenant_id": t, "payload": p, "created_at": utcnow()} for t, p in pending],
            )
    except Exception as exc:  # noqa: BLE001 (a notice lost; pages still reload on their own)
        log.warning("realtime: %d events lost: %s", len(pending), exc)


def _drop(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)


# -- Redis --------------------------------------------------------------------------------------


def namespace() -> str:
    """Events belong to a database: installations (and test runs) sharing a Redis stay apart."""
    url = str(current_app.config["SQLALCHEMY_DATABASE_URI"])
    return hashlib.sha256(url.encode()).hexdigest()[:12]


def channel_name(tenant_id: int) -> str:
    return f"servicetorg:{namespace()}:events:{tenant_id}"


_DOWN_UNTIL = "servicetorg.redis.down_until"
REDIS_PAUSE_SECONDS = 2.0  # after a failure, publishing skips Redis this long
PUBLISH_CHUNK = 500  # events per Redis pipeline
# A dead Redis must cost milliseconds per request, not the client's default of no timeout.
REDIS_CONNECT_TIMEOUT = 0.5
REDIS_TIMEOUT = 2.0


def redis_client() -> Any:
    import redis

    ext = current_app.extensions
    if "servicetorg.redis" not in ext:
        ext["servicetorg.redis"] = redis.Redis.from_url(
            current_app.config["REDIS_URL"],
            decode_responses=True,
            socket_connect_timeout=REDIS_CONNECT_TIMEOUT,
            socket_timeout=REDIS_TIMEOUT,
            health_check_interval=30,
        )
    return ext["servicetorg.redis"]


# -- the stream ---------------------------------------------------------------------------------


Events = Iterator[tuple[str | None, dict[str, Any] | None]]


def events_for(
    tenant_ids: list[int], last_event_id: str | None, seconds: float, poll: float
) -> Events:
    """Subscribe now (so nothing committed after this call is missed) and return an iterator
    of (event id, payload) for these tenants for `seconds`; (None, None) is a heartbeat,
    roughly every `poll` seconds, so the caller can write a keep-alive."""
    # Short-lived connections of its own: a stream never holds one between polls, and never
    # touches the request's session.
    with db.engine.begin() as conn:
        conn.execute(delete(RealtimeEvent).where(RealtimeEvent.created_at < utcnow() - KEEP_EVENTS))
        if last_event_id and last_event_id.isdigit():
            last = int(last_event_id)
        else:
            last = conn.scalar(select(func.max(RealtimeEvent.id))) or 0
    if _uses_redis():
        pubsub = redis_client().pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(*(channel_name(t) for t in tenant_ids))
        except Exception as exc:  # noqa: BLE001 (degrade to polling)
            log.warning("realtime: Redis unavailable (%s); the stream polls the database", exc)
            pubsub.close()
        else:
            return _from_redis(pubsub, tenant_ids, last, seconds, poll)
    return _from_database(tenant_ids, last, seconds, poll)


def _from_redis(
    pubsub: Any, tenant_ids: list[int], last: int, seconds: float, poll: float
) -> Events:
    """Redis's events; should Redis fail, the database's from `last` (where publishers that
    could not reach Redis wrote theirs)."""
    deadline = time.monotonic() + seconds
    try:
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = pubsub.get_message(timeout=min(poll, left))
            except Exception as exc:  # noqa: BLE001 (degrade to polling)
                log.warning("realtime: Redis lost (%s); the stream polls the database", exc)
                break
            if msg is None:
                yield None, None
            elif msg.get("type") == "message":
                yield None, json.loads(msg["data"])
    finally:
        with contextlib.suppress(Exception):  # a dead connection needs no goodbye
            pubsub.close()
    if (left := deadline - time.monotonic()) > 0:
        yield from _from_database(tenant_ids, last, left, poll)


def _from_database(tenant_ids: list[int], last: int, seconds: float, poll: float) -> Events:
    deadline = time.monotonic() + seconds
    while deadline - time.monotonic() > 0:
        with db.engine.connect() as conn:
            rows = conn.execute(
                select(RealtimeEvent.id, RealtimeEvent.payload)
                .where(RealtimeEvent.tenant_id.in_(tenant_ids), RealtimeEvent.id > last)
                .order_by(RealtimeEvent.id)
                .limit(200)
            ).all()
        for event_id, payload in rows:
            last = event_id
            yield str(event_id), payload
        if not rows:
            yield None, None
            time.sleep(min(poll, max(0.0, deadline - time.monotonic())))
