"""Search over message text, contact names and identities, with the queue's filters.

PostgreSQL: the stored `message.search_tsv` column (Norwegian configuration, GIN index) and
ts_headline for snippets; contact names by a `simple` tsvector index; phone numbers and other
identities by a trigram index. SQLite (embedded mode): the FTS5 table `message_fts` with its
snippet() function; contacts by LIKE.

Snippets are built by the database with two private-use characters as highlight markers; the
text is HTML-escaped first and only then are the markers turned into <mark> tags, so citizen
text can never become markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import column, func, literal_column, or_, select, table

from inbox.extensions import db
from inbox.models import Contact, ContactIdentity, Conversation, Message, User
from inbox.services import idnumbers
from inbox.services.queue import LIST_COLUMNS, QueueQuery, filter_clauses, team_ids

START, STOP = "\ue000", "\ue001"
MAX_QUERY_CHARS = 200
RESULT_LIMIT = 30
_WORD = re.compile(r"\w+", re.UNICODE)
_PHONE = re.compile(r"^\+?[\d\s().-]{5,}$")
# Literal SQL (not bound parameters) so PostgreSQL matches the expression indexes.
NORWEGIAN = literal_column("'norwegian'::regconfig")
SIMPLE = literal_column("'simple'::regconfig")
_FTS = table("message_fts", column("rowid"))


@dataclass
class Hit:
    conversation: Conversation
    snippet: Markup
    message_id: int | None = None


@dataclass
class Results:
    query: str
    contacts: list[Hit]
    messages: list[Hit]


def highlight(raw: str) -> Markup:
    """Escape citizen text, then turn our markers (and only them) into <mark> tags. Identity
    and account numbers are masked (a search for one finds the message, not the number)."""
    cleaned = str(escape(idnumbers.mask_ignoring(raw, START + STOP)))
    cleaned += STOP * (cleaned.count(START) - cleaned.count(STOP))  # a mark cut by masking
    return Markup(cleaned.replace(START, "<mark>").replace(STOP, "</mark>"))  # noqa: S704


def mark_plain(value: str, needle: str) -> Markup:
    """Highlight `needle` in a short field (a name, a phone number), case-insensitively."""
    idx = value.lower().find(needle.lower()) if needle else -1
    if idx < 0:
        return escape(value)
    end = idx + len(needle)
    return highlight(value[:idx] + START + value[idx:end] + STOP + value[end:])


def search(user: User, text_query: str, q: QueueQuery, limit: int = RESULT_LIMIT) -> Results:
    text_query = " ".join(text_query.split())[:MAX_QUERY_CHARS]
    words = _WORD.findall(text_query)
    if not words:
        return Results(text_query, [], [])
    clauses = filter_clauses(q, user, team_ids(user))
    return Results(
        text_query,
        _contact_hits(text_query, words, clauses, user.tenant_ids(), limit),
        _message_hits(words, text_query, clauses, limit),
    )


def _is_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


# -- messages ---------------------------------------------------------------------------------


def _message_hits(words: list[str], raw: str, clauses: list[Any], limit: int) -> list[Hit]:
    if _is_postgres():
        tsquery = func.websearch_to_tsquery(NORWEGIAN, raw)
        snippet = func.ts_headline(
            NORWEGIAN,
            func.translate(Message.body, START + STOP, ""),
            tsquery,
            f"StartSel={START}, StopSel={STOP}, MaxWords=30, MinWords=12, MaxFragments=2",
        )
        stmt = select(Message.id, Message.conversation_id, snippet).where(
            literal_column("message.search_tsv").op("@@")(tsquery)
        )
    else:
        fts = " ".join(f'"{w}"*' for w in words)  # each word quoted: no FTS syntax injection
        table = literal_column("message_fts")
        snippet = func.snippet(table, 0, START, STOP, "…", 16)
        stmt = (
            select(Message.id, Message.conversation_id, snippet)
            .select_from(_FTS)
            .join(Message, Message.id == _FTS.c.rowid)
            .where(table.op("MATCH")(fts))
        )
    stmt = (
        stmt.join(Conversation, Conversation.id == Message.conversation_id)
        .where(*clauses, Message.tenant_id == Conversation.tenant_id)
        .order_by(Message.id.desc())
        .limit(limit)
    )
    rows = db.session.execute(stmt).all()
    convs = _conversations({r[1] for r in rows})
    return [Hit(convs[cid], highlight(snip or ""), mid) for mid, cid, snip in rows]


# -- contacts ---------------------------------------------------------------------------------


def _contact_hits(
    raw: str, words: list[str], clauses: list[Any], tenants: list[int], limit: int
) -> list[Hit]:
    matches: dict[int, Markup] = {}
    if _PHONE.match(raw):
        digits = re.sub(r"\D", "", raw)
        for contact_id, value in _identity_matches(digits, tenants, limit):
            matches.setdefault(contact_id, mark_plain(value, digits))
    else:
        for contact_id, value in _identity_matches(raw, tenants, limit):
            matches.setdefault(contact_id, mark_plain(value, raw))
        for contact_id, name in _name_matches(words, tenants, limit):
            matches.setdefault(contact_id, mark_plain(name, words[0]))
    if not matches:
        return []
    stmt = (
        select(Conversation)
        .options(*LIST_COLUMNS)
        .where(Conversation.contact_id.in_(matches), *clauses)
        .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
        .limit(limit)
    )
    return [Hit(c, matches[c.contact_id]) for c in db.session.scalars(stmt).unique()]


def _identity_matches(needle: str, tenants: list[int], limit: int) -> list[tuple[int, str]]:
    if len(needle) < 3:
        return []
    pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    stmt = (
        select(ContactIdentity.contact_id, ContactIdentity.value)
        .where(
            ContactIdentity.tenant_id.in_(tenants),
            ContactIdentity.value.ilike(pattern, escape="\\"),
        )
        .limit(limit)
    )
    return [(r[0], r[1]) for r in db.session.execute(stmt)]


def _name_matches(words: list[str], tenants: list[int], limit: int) -> list[tuple[int, str]]:
    if _is_postgres():
        prefix = " & ".join(f"{w}:*" for w in words)  # \\w+ words: safe in tsquery syntax
        name = func.coalesce(Contact.name, literal_column("''"))
        match = func.to_tsvector(SIMPLE, name).op("@@")(func.to_tsquery(SIMPLE, prefix))
    else:
        match = or_(*(Contact.name.ilike(f"%{w}%") for w in words))
    stmt = select(Contact.id, Contact.name).where(Contact.tenant_id.in_(tenants), match)
    stmt = stmt.limit(limit)
    return [(r[0], r[1] or "") for r in db.session.execute(stmt)]


def _conversations(ids: set[int]) -> dict[int, Conversation]:
    if not ids:
        return {}
    rows = db.session.scalars(
        select(Conversation).options(*LIST_COLUMNS).where(Conversation.id.in_(ids))
    ).unique()
    return {c.id: c for c in rows}
