"""The queue of conversations: views, filters, sort orders, keyset pages and counts.

Pages are keyset-paginated: the cursor is the sort key of the last row shown, so every page is
one index range scan however deep it is (no OFFSET). Ties in the timestamp are broken by id, so
paging is stable and never repeats or skips a row.

"Waiting" order shows conversations whose citizen waits for an answer first (longest wait
first), then the rest by last activity; the cursor records which of the two parts it is in.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from flask import g, has_request_context
from sqlalchemy import ColumnElement, Select, and_, bindparam, func, or_, select, text, true
from sqlalchemy.orm import defaultload, load_only, selectinload

from inbox.extensions import db
from inbox.models import (
    ChannelAccount,
    ChannelKind,
    Contact,
    Conversation,
    ConversationStatus,
    ConversationTag,
    Tag,
    TeamMember,
    User,
)
from inbox.services.access import visible_conversations_clause

# With extra filters: contacts and channels in their own small queries, after the page is
# chosen; joined into the page query they would be fetched for every candidate row before the
# sort and limit. Without, the joins follow the index order and one query is cheaper.
LIST_LOADING = (selectinload(Conversation.contact), selectinload(Conversation.channel_account))
# Only what a queue row shows (the rest, JSON included, is skipped when building objects).
LIST_COLUMNS = (
    load_only(
        Conversation.tenant_id,
        Conversation.contact_id,
        Conversation.channel_account_id,
        Conversation.status,
        Conversation.assignee_id,
        Conversation.team_id,
        Conversation.last_activity_at,
        Conversation.waiting_since,
        Conversation.snoozed_until,
        Conversation.has_unread,
        Conversation.flagged_for_archive,
        Conversation.created_at,
    ),
    defaultload(Conversation.channel_account).load_only(ChannelAccount.name, ChannelAccount.kind),
    # The rows read the first phone number and e-mail address themselves (rows.build).
    defaultload(Conversation.contact).lazyload(Contact.identities),
)
PAGE_SIZE = 25  # like Chatwoot/Zendesk views; a short page also renders fast


class View(enum.StrEnum):
    UNASSIGNED = "unassigned"
    MINE = "mine"
    TEAM = "team"
    ALL = "all"


class Sort(enum.StrEnum):
    ACTIVITY = "activity"  # last activity, newest first
    WAITING = "waiting"  # waiting longest first, then the rest by last activity


class BadQuery(ValueError):
    """A filter or cursor that cannot be understood (shown to the user as 400)."""


@dataclass(frozen=True)
class QueueQuery:
    view: View = View.ALL
    status: ConversationStatus = ConversationStatus.OPEN
    channel: ChannelKind | None = None
    team_id: int | None = None
    flagged: bool = False
    unread: bool = False
    sort: Sort = Sort.ACTIVITY
    assignee_id: int | None = None  # one person's conversations (the API's filter)
    tag: str | None = None  # conversations with this tag

    @classmethod
    def from_args(cls, args: Any) -> QueueQuery:
        """Parse request arguments; unknown values raise BadQuery rather than being ignored."""
        try:
            team = args.get("team") or None
            return cls(
                view=View(args.get("view") or View.ALL),
                status=ConversationStatus(args.get("status") or ConversationStatus.OPEN),
                channel=ChannelKind(args["channel"]) if args.get("channel") else None,
                team_id=int(team) if team is not None else None,
                flagged=args.get("flagged") == "1",
                unread=args.get("unread") == "1",
                sort=Sort(args.get("sort") or Sort.ACTIVITY),
                tag=_tag_arg(args.get("tag")),
            )
        except ValueError as exc:
            raise BadQuery(str(exc)) from exc

    def as_args(self, **changes: Any) -> dict[str, str]:
        """Query-string arguments for links (only the non-default ones)."""
        q = replace(self, **changes)
        args = {"view": q.view.value, "status": q.status.value, "sort": q.sort.value}
        if q.channel:
            args["channel"] = q.channel.value
        if q.team_id:
            args["team"] = str(q.team_id)
        if q.flagged:
            args["flagged"] = "1"
        if q.unread:
            args["unread"] = "1"
        if q.tag:
            args["tag"] = q.tag
        return args


def _tag_arg(raw: str | None) -> str | None:
    if not raw:
        return None
    if len(raw) > 64:
        raise ValueError("tag too long")
    return raw.strip().lower() or None


@dataclass
class Page:
    conversations: list[Conversation]
    next_cursor: str | None
    query: QueueQuery
    counts: dict[str, dict[str, int]] = field(default_factory=dict)


# -- who may see what -----------------------------------------------------------------------


def visible_to(user: User) -> ColumnElement[bool]:
    """Conversations this user may see: the one place the queue and search ask. Caseworkers
    see their teams' conversations and those with no team; records staff and admins the whole
    municipality (inbox/services/access.py)."""
    return visible_conversations_clause(user)


def team_ids(user: User) -> list[int]:
    """The user's teams (remembered for the rest of the request: several queries need them)."""
    cache = g.setdefault("servicetorg_team_ids", {}) if has_request_context() else {}
    if user.id not in cache:
        cache[user.id] = list(
            db.session.scalars(select(TeamMember.team_id).where(TeamMember.user_id == user.id))
        )
    return cache[user.id]


def view_clause(view: View, user: User, teams: list[int]) -> ColumnElement[bool]:
    if view is View.UNASSIGNED:
        return Conversation.assignee_id.is_(None)
    if view is View.MINE:
        return Conversation.assignee_id == user.id
    if view is View.TEAM:
        return Conversation.team_id.in_(teams)
    return true()


STATUS_TYPE = Conversation.__table__.c.status.type


def filter_clauses(q: QueueQuery, user: User, teams: list[int]) -> list[ColumnElement[bool]]:
    """The WHERE clauses shared by the queue and search."""
    clauses = [
        visible_to(user),
        view_clause(q.view, user, teams),
        # Inlined, not a bind parameter: statuses are very unevenly common, and a prepared
        # statement's generic plan would not know which one it is looking for.
        Conversation.status == bindparam("status", q.status, STATUS_TYPE, literal_execute=True),
        Conversation.merged_into_id.is_(None),
    ]
    if q.channel is not None:
        # Looked up first (a handful of rows), so the planner sees plain ids.
        accounts = db.session.scalars(
            select(ChannelAccount.id).where(
                ChannelAccount.kind == q.channel, ChannelAccount.tenant_id.in_(user.tenant_ids())
            )
        ).all()
        clauses.append(Conversation.channel_account_id.in_(accounts))
    if q.team_id is not None:
        clauses.append(Conversation.team_id == q.team_id)
    if q.assignee_id is not None:
        clauses.append(Conversation.assignee_id == q.assignee_id)
    if q.flagged:
        clauses.append(Conversation.flagged_for_archive.is_(True))
    if q.unread:
        clauses.append(Conversation.has_unread.is_(True))
    if q.tag:
        clauses.append(
            Conversation.id.in_(
                select(ConversationTag.conversation_id)
                .join(Tag, Tag.id == ConversationTag.tag_id)
                .where(Tag.name == q.tag, Tag.tenant_id.in_(user.tenant_ids()))
            )
        )
    return clauses


# -- cursors ----------------------------------------------------------------------------------


def encode_cursor(part: str, at: datetime, conv_id: int) -> str:
    raw = json.dumps([part, at.isoformat(), conv_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        part, at, conv_id = json.loads(raw)
        parsed = datetime.fromisoformat(at)
        if part not in ("w", "a") or not isinstance(conv_id, int) or parsed.tzinfo is None:
            raise ValueError(part)
        return part, parsed, conv_id
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
        raise BadQuery("invalid cursor") from exc


# -- the page ---------------------------------------------------------------------------------


def _by_activity(base: Select[Any], after: tuple[datetime, int] | None) -> Select[Any]:
    c = Conversation
    if after is not None:
        at, cid = after
        base = base.where(or_(c.last_activity_at < at, and_(c.last_activity_at == at, c.id < cid)))
    return base.order_by(c.last_activity_at.desc(), c.id.desc())


def _by_waiting(base: Select[Any], after: tuple[datetime, int] | None) -> Select[Any]:
    c = Conversation
    base = base.where(c.waiting_since.is_not(None))
    if after is not None:
        at, cid = after
        base = base.where(or_(c.waiting_since > at, and_(c.waiting_since == at, c.id > cid)))
    return base.order_by(c.waiting_since.asc(), c.id.asc())


def queue_page(
    user: User, q: QueueQuery, cursor: str | None = None, limit: int = PAGE_SIZE
) -> Page:
    """One page of the queue for this user, after `cursor` (from an earlier page)."""
    teams = team_ids(user)
    base = select(Conversation).options(*LIST_COLUMNS).where(*filter_clauses(q, user, teams))
    if q.channel or q.unread or q.flagged or q.team_id or q.assignee_id or q.tag:
        # The index no longer gives the order by itself: keep the joins out of the sort.
        base = base.options(*LIST_LOADING)
    part, after = "a", None
    if cursor:
        part, at, cid = decode_cursor(cursor)
        after = (at, cid)
    elif q.sort is Sort.WAITING:
        part = "w"
    rows: list[Conversation] = []
    if part == "w":
        rows = list(db.session.scalars(_by_waiting(base, after).limit(limit + 1)).unique())
        if len(rows) > limit:
            last = rows[limit - 1]
            assert last.waiting_since is not None
            return Page(rows[:limit], encode_cursor("w", last.waiting_since, last.id), q)
        # The waiting part is used up: fill the page from the not-waiting part.
        part, after = "a", None
    if part == "a":
        rest = base.where(Conversation.waiting_since.is_(None)) if q.sort is Sort.WAITING else base
        more = list(
            db.session.scalars(_by_activity(rest, after).limit(limit + 1 - len(rows))).unique()
        )
        rows += more
    if len(rows) > limit:
        last = rows[limit - 1]
        return Page(rows[:limit], encode_cursor("a", last.last_activity_at, last.id), q)
    return Page(rows, None, q)


OPEN_AND_NOT_MERGED = text("conversation.status = 'open' AND conversation.merged_into_id IS NULL")


def counts(user: User) -> dict[str, dict[str, int]]:
    """Open conversations per view: how many, how many unread, how many waiting for an answer."""
    c = Conversation
    teams = team_ids(user)
    columns = []
    for view in View:
        in_view = view_clause(view, user, teams)
        columns += [
            func.count().filter(in_view),
            func.count().filter(in_view, c.has_unread.is_(True)),
            func.count().filter(in_view, c.waiting_since.is_not(None)),
        ]
    row = db.session.execute(
        # Literal conditions, so even a generic (prepared) plan uses the partial index.
        select(*columns).where(visible_to(user), OPEN_AND_NOT_MERGED)
    ).one()
    return {
        view.value: {"total": row[3 * i], "unread": row[3 * i + 1], "waiting": row[3 * i + 2]}
        for i, view in enumerate(View)
    }
