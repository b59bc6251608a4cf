"""Set-based ingest: a batch of inbound messages stored in a handful of statements.

The statements do not grow with the batch: one lookup of known provider ids, one of known
identities, one insert of new contacts and one of their identities, one lookup and one insert of
conversations, one insert of messages, one of attachments, one update of the touched
conversations (once each, however many of their messages the batch holds) and one load of the
messages returned. Inserts use `INSERT … ON CONFLICT DO NOTHING` on the unique keys (identity,
thread, provider message id), so a concurrent writer storing the same thing costs a lookup, never
a failed transaction or a savepoint. No ORM object is flushed or lazily loaded on the way;
realtime events and contact matching are queued to go out after the commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Table, and_, bindparam, case, delete, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import lazyload, selectinload
from sqlalchemy.orm.util import identity_key

from inbox.db import among, among_keys
from inbox.extensions import db
from inbox.models import (
    Attachment,
    ChannelAccount,
    Contact,
    ContactIdentity,
    Conversation,
    ConversationStatus,
    DeliveryStatus,
    Direction,
    IdentityKind,
    Message,
)
from inbox.models.base import UTCDateTime, utcnow
from inbox.models.contacts import contact_norms
from inbox.normalise import identity_norm
from inbox.services import matching, realtime, routing

if TYPE_CHECKING:
    from inbox.services.ingest import InboundMessage

CHUNK = 500  # keys per lookup (SQLite allows 32,766 bound parameters per statement)
_REOPEN = (ConversationStatus.SNOOZED, ConversationStatus.PENDING)


@dataclass
class _Item:
    index: int  # arrival order
    account_id: int
    tenant_id: int
    team_id: int | None
    inbound: InboundMessage
    contact_id: int = 0
    conversation_id: int = 0
    message_id: int = 0
    created: bool = False
    sent_at: datetime | None = None
    twin: _Item | None = None  # an earlier item of the batch with the same provider id


@dataclass
class _Conv:
    id: int
    thread_key: str | None
    status: ConversationStatus
    merged_into_id: int | None
    assignee_id: int | None
    team_id: int | None
    tenant_id: int
    meta: dict[str, Any] | None = None
    new: bool = False
    items: list[_Item] = field(default_factory=list)


class Stored:
    """What became of one inbound message: its id, whether this batch created it, whether it
    opened its conversation. `message` is the ORM object, loaded on first use together with
    those of the whole batch (one query): a batch whose after-steps need no ORM object loads
    none (for a storm of SMS, the load was a third of the inbound worker's CPU)."""

    __slots__ = ("message_id", "created", "opened", "_batch")

    def __init__(self, message_id: int, created: bool, opened: bool, batch: _Loader) -> None:
        self.message_id = message_id
        self.created = created
        self.opened = opened
        self._batch = batch

    @property
    def message(self) -> Message:
        return self._batch.get(self.message_id)


class _Loader:
    def __init__(self, ids: set[int]) -> None:
        self.ids = ids
        self.loaded: dict[int, Message] | None = None

    def get(self, message_id: int) -> Message:
        if self.loaded is None:
            self.loaded = {
                m.id: m
                for m in db.session.scalars(
                    # Their conversations (with contact and account) in one more query, not
                    # one lazy load per message when an after-step reads message.conversation.
                    # A message's edits only if read (a new message has none). Conversations
                    # keep their joined contact and account: a lazy-load option would stay
                    # with them for the rest of the session (a page rendered after an ingest
                    # in the same session then loaded each contact on its own).
                    select(Message)
                    .where(among(Message.id, self.ids))
                    .options(
                        lazyload(Message.revisions),
                        selectinload(Message.conversation),
                    )
                )
            }
        return self.loaded[message_id]


def store(items: Sequence[tuple[ChannelAccount, InboundMessage]]) -> list[Stored]:
    """See inbox.services.ingest.ingest_many. Flushes pending changes first, never commits."""
    if not items:
        return []
    db.session.flush()
    batch = [_Item(i, a.id, a.tenant_id, a.team_id, m) for i, (a, m) in enumerate(items)]
    fresh = _drop_known(batch)
    for it in fresh:
        it.sent_at = it.inbound.sent_at or utcnow()
    opened: set[int] = set()
    if fresh:
        new_contacts = _contacts(fresh)
        convs = _conversations(fresh)
        routing.route_new(convs)  # rules choose new conversations' teams; auto-assignment
        created = _messages(fresh)
        _attachments(created)
        _touch(created, convs)
        _after_commit(convs, created, new_contacts)
        opened = {cid for cid, conv in convs.items() if conv.new}
    for it in batch:
        if it.twin is not None:
            it.message_id = it.twin.message_id
    loader = _Loader({it.message_id for it in batch})
    return [
        Stored(it.message_id, it.created, it.created and it.conversation_id in opened, loader)
        for it in batch
    ]


# -- provider ids already stored ---------------------------------------------------------------


def _chunks(keys: Iterable[Any]) -> Iterator[list[Any]]:
    """Keys in lots one lookup can take: on PostgreSQL all of them (one array parameter per
    key column, inbox.db.among_keys), on SQLite CHUNK at a time."""
    keys = list(keys)
    size = max(1, len(keys)) if _pg() else CHUNK
    for i in range(0, len(keys), size):
        yield keys[i : i + size]


def _stored_messages(keys: Iterable[tuple[int, str]]) -> dict[tuple[int, str], int]:
    m = Message.__table__.c
    found: dict[tuple[int, str], int] = {}
    for part in _chunks(keys):
        rows = db.session.execute(
            select(m.id, m.channel_account_id, m.provider_message_id).where(
                among_keys((m.channel_account_id, m.provider_message_id), part)
            )
        )
        found.update({(r.channel_account_id, r.provider_message_id): r.id for r in rows})
    return found


def _drop_known(batch: list[_Item]) -> list[_Item]:
    """Items whose provider id is stored already (or earlier in the batch) are answered with
    that message; the rest are returned, in arrival order."""
    keys = {_key(it) for it in batch if it.inbound.provider_message_id}
    stored = _stored_messages(keys) if keys else {}
    first: dict[tuple[int, str], _Item] = {}
    fresh = []
    for it in batch:
        if it.inbound.provider_message_id:
            key = _key(it)
            if key in stored:
                it.message_id = stored[key]
                continue
            if key in first:
                it.twin = first[key]
                continue
            first[key] = it
        fresh.append(it)
    return fresh


def _key(it: _Item) -> tuple[int, str]:
    return it.account_id, str(it.inbound.provider_message_id)


def _insert(table: Table) -> Any:
    """INSERT with the dialect's ON CONFLICT support (PostgreSQL and SQLite)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _returning(stmt: Any, *cols: Any) -> Any:
    # PostgreSQL is told to take the ids in parameter order (SQLAlchemy's sentinel form); SQLite
    # inserts the rows of one multi-row VALUES in order anyway. Either way ascending ids match
    # the order of the rows inserted, which is how the callers pair rows with items.
    return stmt.returning(*cols, sort_by_parameter_order=_pg())


def _pg() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _insert_arrays(
    table: Table, rows: list[dict[str, Any]], conflict: list[str], returning: Sequence[Column[Any]]
) -> list[Any]:
    """PostgreSQL: `INSERT … SELECT … FROM unnest(<one array per column>) ON CONFLICT DO
    NOTHING RETURNING …`, rows inserted (and ids drawn) in list order. The statement has one
    parameter per column, whatever the number of rows: SQLAlchemy's multi-row VALUES for 1,000
    messages was a 450 kB statement with 18,000 placeholders, and the driver's parsing of it
    alone cost a quarter of the inbound worker's CPU. Columns left out of `rows` get their
    Python-side defaults, as an ORM or Core insert would give them."""
    dialect = db.session.get_bind().dialect
    quote = dialect.identifier_preparer.quote
    given = rows[0].keys()
    columns, arrays = [], []
    for col in table.columns:
        default = col.default
        if col.name in given:
            column_values = [row[col.name] for row in rows]
        elif default is not None and default.is_scalar:
            column_values = [default.arg] * len(rows)  # type: ignore[attr-defined]
        elif default is not None and default.is_callable:
            column_values = [default.arg(None) for _ in rows]  # type: ignore[attr-defined]
        else:
            continue  # NULL or the server's default
        process = col.type.dialect_impl(dialect).bind_processor(dialect)
        columns.append(col)
        arrays.append([process(v) for v in column_values] if process else column_values)
    names = ", ".join(quote(c.name) for c in columns)
    casts = ", ".join(f"%s::{c.type.compile(dialect=dialect)}[]" for c in columns)
    keys = ", ".join(quote(c) for c in conflict)
    back = ", ".join(quote(c.name) for c in returning)
    # Identifiers from the table's metadata; every value is bound (one array per column).
    sql = (
        f"INSERT INTO {quote(table.name)} ({names}) "  # noqa: S608
        f"SELECT {names} FROM unnest({casts}) WITH ORDINALITY AS v({names}, _position) "
        f"ORDER BY _position ON CONFLICT ({keys}) DO NOTHING RETURNING {back}"
    )
    return list(db.session.connection().exec_driver_sql(sql, tuple(arrays)).all())


# -- contacts and identities ------------------------------------------------------------------

_IdentKey = tuple[int, IdentityKind, str]


def _identities(keys: Iterable[_IdentKey]) -> dict[_IdentKey, tuple[int, str | None]]:
    """(tenant, kind, value) -> (contact id, contact name) for identities already known."""
    ci, c = ContactIdentity.__table__.c, Contact.__table__.c
    found: dict[_IdentKey, tuple[int, str | None]] = {}
    for part in _chunks(keys):
        rows = db.session.execute(
            select(ci.tenant_id, ci.kind, ci.value, ci.contact_id, c.name)
            .join_from(ContactIdentity.__table__, Contact.__table__, c.id == ci.contact_id)
            .where(among_keys((ci.tenant_id, ci.kind, ci.value), part))
        )
        found.update({(r.tenant_id, r.kind, r.value): (r.contact_id, r.name) for r in rows})
    return found


def _contacts(items: list[_Item]) -> list[int]:
    """Set each item's contact, creating contacts for identities not seen before. Returns the
    ids of the contacts created that have something to match other contacts on."""
    by_key: dict[_IdentKey, list[_Item]] = {}
    for it in items:
        key = (it.tenant_id, it.inbound.identity_kind, it.inbound.identity_value)
        by_key.setdefault(key, []).append(it)
    known = _identities(by_key)
    missing = [k for k in by_key if k not in known]
    created: dict[_IdentKey, int] = {}
    if missing:
        created = _create_contacts(missing, by_key)
        lost = [k for k in missing if k not in created]
        if lost:  # a concurrent writer created these identities first: theirs win
            known.update(_identities(lost))
    _fill_names(by_key, known)
    for key, group in by_key.items():
        contact_id = created[key] if key in created else known[key][0]
        for it in group:
            it.contact_id = contact_id
    return [cid for key, cid in created.items() if _matchable(key, _first_name(by_key[key]))]


def _matchable(key: _IdentKey, name: str | None) -> bool:
    """Whether a new contact has anything to match on (an anonymous chat visitor has not)."""
    return bool(identity_norm(key[1].value, key[2]) or contact_norms(name, None, None)["name_norm"])


def _first_name(group: list[_Item]) -> str | None:
    return next((it.inbound.contact_name for it in group if it.inbound.contact_name), None)


def _create_contacts(
    keys: list[_IdentKey], by_key: dict[_IdentKey, list[_Item]]
) -> dict[_IdentKey, int]:
    rows = []
    for tenant_id, kind, value in keys:
        name = _first_name(by_key[(tenant_id, kind, value)])
        phone = value if kind is IdentityKind.PHONE else None
        email = value if kind is IdentityKind.EMAIL else None
        rows.append(
            {"tenant_id": tenant_id, "name": name, "phone": phone, "email": email}
            | contact_norms(name, phone, email)
        )
    table = Contact.__table__
    ids = sorted(db.session.scalars(_returning(table.insert(), table.c.id), rows))
    contact_of = dict(zip(keys, ids, strict=True))
    ci = ContactIdentity.__table__
    stmt = _insert(ci).on_conflict_do_nothing(index_elements=["tenant_id", "kind", "value"])
    inserted = db.session.execute(
        stmt.returning(ci.c.tenant_id, ci.c.kind, ci.c.value),
        [
            {
                "tenant_id": t,
                "contact_id": contact_of[(t, k, v)],
                "kind": k,
                "value": v,
                "value_norm": identity_norm(k.value, v),
            }
            for t, k, v in keys
        ],
    )
    won = {(r.tenant_id, r.kind, r.value) for r in inserted}
    orphans = [contact_of[k] for k in keys if k not in won]
    if orphans:
        db.session.execute(delete(table).where(among(table.c.id, orphans)))
    return {k: contact_of[k] for k in keys if k in won}


def _fill_names(
    by_key: dict[_IdentKey, list[_Item]], known: dict[_IdentKey, tuple[int, str | None]]
) -> None:
    """A contact known without a name takes the first name the batch gives it."""
    names: dict[int, str] = {}
    for key, (contact_id, name) in known.items():
        given = _first_name(by_key[key])
        if not name and given and contact_id not in names:
            names[contact_id] = given
    if not names:
        return
    c = Contact.__table__.c
    stmt = (
        Contact.__table__.update()
        .where(c.id == bindparam("b_id"), func.coalesce(c.name, "") == "")
        .values(name=bindparam("b_name"), name_norm=bindparam("b_norm"))
    )
    params = [
        {"b_id": cid, "b_name": name, "b_norm": contact_norms(name, None, None)["name_norm"]}
        for cid, name in names.items()
    ]
    db.session.execute(stmt, params)
    _expire(Contact, names)


def _expire(model: type, ids: Iterable[int]) -> None:
    """Objects of these rows already in the session were changed behind the ORM's back."""
    for id_ in ids:
        obj = db.session.identity_map.get(identity_key(model, id_))
        if obj is not None:
            db.session.expire(obj)


# -- conversations ----------------------------------------------------------------------------


def _conv_columns() -> list[Any]:
    c = Conversation.__table__.c
    cols = (c.thread_key, c.status, c.merged_into_id, c.assignee_id, c.team_id, c.tenant_id)
    return [c.id, c.channel_account_id, c.contact_id, *cols, c.meta]


def _conv(r: Any) -> _Conv:
    return _Conv(
        r.id, r.thread_key, r.status, r.merged_into_id, r.assignee_id, r.team_id, r.tenant_id,
        r.meta,
    )  # fmt: skip


def _conversations(items: list[_Item]) -> dict[int, _Conv]:
    """Set each item's conversation: its provider thread's (followed to the conversation a
    merged thread continues in), else the contact's latest open one on that channel account,
    else a new one. Returns the conversations by id."""
    threads: dict[tuple[int, str], list[_Item]] = {}
    plain: dict[tuple[int, int], list[_Item]] = {}
    for it in items:
        if it.inbound.thread_key:
            threads.setdefault((it.account_id, it.inbound.thread_key), []).append(it)
        else:
            plain.setdefault((it.account_id, it.contact_id), []).append(it)
    convs: dict[int, _Conv] = {}
    found_threads = _find_threads(threads, convs)
    found_plain = _find_plain(plain, convs)
    missing_t = [k for k in threads if k not in found_threads]
    missing_p = [k for k in plain if k not in found_plain]
    if missing_t or missing_p:
        made_t, made_p = _create_conversations(missing_t, threads, missing_p, plain, convs)
        found_threads |= made_t
        found_plain |= made_p
        lost = [k for k in missing_t if k not in made_t]
        if lost:  # a concurrent writer opened these threads first
            found_threads |= _find_threads({k: threads[k] for k in lost}, convs)
    _follow_merges(convs)
    for key, group in threads.items():
        _assign(group, _final(convs, found_threads[key]), convs)
    for key, group in plain.items():
        _assign(group, found_plain[key], convs)
    return convs


def _assign(group: list[_Item], conv_id: int, convs: dict[int, _Conv]) -> None:
    for it in group:
        it.conversation_id = conv_id
        convs[conv_id].items.append(it)


def _find_threads(threads: dict[tuple[int, str], Any], convs: dict[int, _Conv]) -> dict:
    c = Conversation.__table__.c
    found: dict[tuple[int, str], int] = {}
    for part in _chunks(threads):
        rows = db.session.execute(
            select(*_conv_columns()).where(among_keys((c.channel_account_id, c.thread_key), part))
        )
        for r in rows:
            convs[r.id] = _conv(r)
            found[(r.channel_account_id, r.thread_key)] = r.id
    return found


def _find_plain(plain: dict[tuple[int, int], Any], convs: dict[int, _Conv]) -> dict:
    c = Conversation.__table__.c
    found: dict[tuple[int, int], int] = {}
    for part in _chunks(plain):
        rows = db.session.execute(
            select(*_conv_columns())
            .where(
                among_keys((c.channel_account_id, c.contact_id), part),
                c.thread_key.is_(None),
                c.status != ConversationStatus.CLOSED,
                c.merged_into_id.is_(None),
            )
            .order_by(c.id)
        )
        for r in rows:  # the latest one wins
            convs[r.id] = _conv(r)
            found[(r.channel_account_id, r.contact_id)] = r.id
    return found


def _create_conversations(
    missing_t: list[tuple[int, str]],
    threads: dict[tuple[int, str], list[_Item]],
    missing_p: list[tuple[int, int]],
    plain: dict[tuple[int, int], list[_Item]],
    convs: dict[int, _Conv],
) -> tuple[dict[tuple[int, str], int], dict[tuple[int, int], int]]:
    """New conversations, each opened by its first item (in arrival order); a thread someone
    else opened meanwhile is left out of the result. A new conversation is inserted as its
    messages leave it (active now, unread, waiting since the first, last inbound the last),
    so `_touch` passes it by: an UPDATE of each new row cost PostgreSQL a second version of
    it and of its entries in every index."""
    groups = sorted(
        [threads[k] for k in missing_t] + [plain[k] for k in missing_p],
        key=lambda group: group[0].index,
    )
    firsts = [group[0] for group in groups]
    now = utcnow()
    table = Conversation.__table__
    stmt = _insert(table).on_conflict_do_nothing(
        index_elements=["channel_account_id", "thread_key"]
    )
    rows = db.session.execute(
        _returning(stmt, table.c.id, table.c.channel_account_id, table.c.thread_key),
        [
            {
                "tenant_id": it.tenant_id,
                "contact_id": it.contact_id,
                "channel_account_id": it.account_id,
                "thread_key": it.inbound.thread_key,
                "team_id": it.team_id,
                "subject": it.inbound.subject,
                "status": ConversationStatus.OPEN,
                "meta": it.inbound.conversation_meta,
                "last_activity_at": now,
                "last_inbound_at": group[-1].sent_at,
                "waiting_since": it.sent_at,
                "has_unread": True,
            }
            for group in groups
            for it in group[:1]
        ],
    ).all()
    made_t = {(r.channel_account_id, r.thread_key): r.id for r in rows if r.thread_key}
    # Rows without a thread cannot conflict: they pair with their ids in insertion order.
    plain_firsts = [it for it in firsts if not it.inbound.thread_key]
    plain_ids = sorted(r.id for r in rows if not r.thread_key)
    made_p = {_pkey(it): cid for it, cid in zip(plain_firsts, plain_ids, strict=True)}
    for it in firsts:
        cid = made_t.get(_tkey(it)) if it.inbound.thread_key else made_p[_pkey(it)]
        if cid is not None:
            convs[cid] = _Conv(
                cid, it.inbound.thread_key, ConversationStatus.OPEN, None, None, it.team_id,
                it.tenant_id, new=True,
            )  # fmt: skip
    return made_t, made_p


def _tkey(it: _Item) -> tuple[int, str]:
    return it.account_id, str(it.inbound.thread_key)


def _pkey(it: _Item) -> tuple[int, int]:
    return it.account_id, it.contact_id


def _follow_merges(convs: dict[int, _Conv]) -> None:
    """Load the conversations merged threads continue in (and theirs, and so on)."""
    c = Conversation.__table__.c
    for _ in range(10):  # merge chains are short; a cycle must not loop forever
        wanted = {v.merged_into_id for v in convs.values() if v.merged_into_id} - set(convs)
        if not wanted:
            return
        for r in db.session.execute(select(*_conv_columns()).where(among(c.id, wanted))):
            convs[r.id] = _conv(r)


def _final(convs: dict[int, _Conv], conv_id: int) -> int:
    seen = {conv_id}
    while (target := convs[conv_id].merged_into_id) and target in convs and target not in seen:
        seen.add(target)
        conv_id = target
    return conv_id


# -- messages ---------------------------------------------------------------------------------


def _messages(items: list[_Item]) -> list[_Item]:
    """Insert the messages in arrival order; returns the items whose message this batch
    created. An item whose provider id a concurrent writer stored first gets that message."""
    table = Message.__table__
    conflict = ["channel_account_id", "provider_message_id"]
    returning = (table.c.id, table.c.channel_account_id, table.c.provider_message_id)
    values = [
        {
            "tenant_id": it.tenant_id,
            "conversation_id": it.conversation_id,
            "channel_account_id": it.account_id,
            "direction": Direction.INBOUND,
            "contact_id": it.contact_id,
            "body": it.inbound.body,
            "provider_message_id": it.inbound.provider_message_id,
            "provider_parent_id": it.inbound.provider_parent_id,
            "delivery_status": DeliveryStatus.RECEIVED,
            "sent_at": it.sent_at,
            "meta": it.inbound.meta,
        }
        for it in items
    ]
    if _pg():
        rows = _insert_arrays(table, values, conflict, returning)
    else:
        stmt = _insert(table).on_conflict_do_nothing(index_elements=conflict)
        rows = db.session.execute(_returning(stmt, *returning), values).all()
    keyed = {
        (r.channel_account_id, r.provider_message_id): r.id for r in rows if r.provider_message_id
    }
    # Messages without a provider id cannot conflict: they pair with ids in insertion order.
    unkeyed = iter(sorted(r.id for r in rows if not r.provider_message_id))
    lost = []
    for it in items:
        if not it.inbound.provider_message_id:
            it.message_id, it.created = next(unkeyed), True
        elif _key(it) in keyed:
            it.message_id, it.created = keyed[_key(it)], True
        else:
            lost.append(it)
    if lost:  # a concurrent writer stored these first
        stored = _stored_messages(_key(it) for it in lost)
        for it in lost:
            it.message_id = stored[_key(it)]
    return [it for it in items if it.created]


def _attachments(created: list[_Item]) -> None:
    rows = [
        {
            "tenant_id": it.tenant_id,
            "message_id": it.message_id,
            "filename": att.filename,
            "content_type": att.content_type,
            "size": len(att.data or b""),
            "sha256": att.sha256,
            "provider_url": att.provider_url,
            "data": att.data,
        }
        for it in created
        for att in it.inbound.attachments
    ]
    if rows:
        db.session.execute(Attachment.__table__.insert(), rows)


def _touch(created: list[_Item], convs: dict[int, _Conv]) -> None:
    """Each conversation that got messages is updated once: active now, unread, its last
    inbound time, waiting since its first new message unless already waiting; snoozed and
    pending ones reopen, and so does a closed provider thread (a new comment reopens it).
    Conversations this batch opened were inserted so (`_create_conversations`)."""
    first: dict[int, _Item] = {}
    last: dict[int, _Item] = {}
    for it in created:
        if convs[it.conversation_id].new:
            continue
        first.setdefault(it.conversation_id, it)
        last[it.conversation_id] = it
    if not first:
        return
    t = Conversation.__table__
    c = t.c
    reopen = or_(*(c.status == s for s in _REOPEN))  # not IN: executemany binds no lists
    thread_closed = and_(c.status == ConversationStatus.CLOSED, c.thread_key.is_not(None))
    when = UTCDateTime()
    stmt = (
        t.update()
        .where(c.id == bindparam("b_id"))
        .values(
            last_activity_at=bindparam("b_now", type_=when),
            last_inbound_at=bindparam("b_last", type_=when),
            has_unread=True,
            waiting_since=func.coalesce(c.waiting_since, bindparam("b_first", type_=when)),
            status=case(
                (reopen, ConversationStatus.OPEN),
                (thread_closed, ConversationStatus.OPEN),
                else_=c.status,
            ),
            snoozed_until=case((reopen, None), else_=c.snoozed_until),
            closed_at=case((thread_closed, None), else_=c.closed_at),
        )
    )
    now = utcnow()
    params = [
        {"b_id": cid, "b_now": now, "b_last": last[cid].sent_at, "b_first": it.sent_at}
        for cid, it in first.items()
    ]
    db.session.execute(stmt, params)
    _take_meta(created, convs)
    _expire(Conversation, first)


def _take_meta(created: list[_Item], convs: dict[int, _Conv]) -> None:
    """An existing conversation takes on what its new messages say it has in its meta
    (InboundMessage.conversation_meta: an SMS's number, where replies go), the latest message
    winning; written only where it changes, so rarely."""
    wanted: dict[int, dict[str, Any]] = {}
    for it in created:
        if it.inbound.conversation_meta and not convs[it.conversation_id].new:
            wanted.setdefault(it.conversation_id, {}).update(it.inbound.conversation_meta)
    t = Conversation.__table__
    for cid, keys in wanted.items():
        meta = convs[cid].meta or {}
        if any(meta.get(k) != v for k, v in keys.items()):
            db.session.execute(t.update().where(t.c.id == cid).values(meta={**meta, **keys}))


# -- after the commit -------------------------------------------------------------------------


def _after_commit(convs: dict[int, _Conv], created: list[_Item], new_contacts: list[int]) -> None:
    """Realtime events for what changed and matching for new contacts, both sent only once
    the transaction commits (a rolled-back batch sends nothing)."""
    touched = {it.conversation_id for it in created}
    for conv in convs.values():
        if conv.new and conv.id in touched:
            realtime.emit(conv.tenant_id, {"type": "conversation", "conversation_id": conv.id})
    for it in created:
        payload = {"type": "message", "conversation_id": it.conversation_id}
        payload |= {"message_id": it.message_id, "direction": "in", "is_note": False}
        realtime.emit(it.tenant_id, payload)
    for conv in convs.values():
        if conv.id in touched and _reopens(conv):
            realtime.emit(
                conv.tenant_id,
                {
                    "type": "status",
                    "conversation_id": conv.id,
                    "status": ConversationStatus.OPEN.value,
                    "assignee_id": conv.assignee_id,
                    "team_id": conv.team_id,
                },
            )
    for contact_id in new_contacts:
        matching.queue_matching(contact_id)


def _reopens(conv: _Conv) -> bool:
    return conv.status in _REOPEN or (
        conv.status is ConversationStatus.CLOSED and conv.thread_key is not None
    )
