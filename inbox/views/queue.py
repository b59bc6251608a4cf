"""The queue of conversations and search; the real-time endpoints live in inbox/views/live.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from flask import Blueprint, abort, current_app, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_required
from markupsafe import Markup
from sqlalchemy import Integer, bindparam, cast, literal_column, null, select, union_all

from inbox.extensions import db
from inbox.models import ChannelKind, ConversationStatus, Tag, Team
from inbox.services import queue as svc
from inbox.services import realtime, rows
from inbox.services import search as search_svc
from inbox.services.access import current
from inbox.views.live import bp as live_bp

bp = Blueprint("queue", __name__)
bp.register_blueprint(live_bp)
# Change notices are collected by session events, in web processes and workers alike.
bp.record_once(lambda _state: realtime.install_listeners())


def _query() -> svc.QueueQuery:
    try:
        return svc.QueueQuery.from_args(request.args)
    except svc.BadQuery:
        abort(400, _("The filter or page link is not valid."))


def channel_badges() -> Callable[[str, str], Markup]:
    """A channel's icon with its name (inbox/_channel_icon.html), rendered once per channel
    and name on a page rather than once per row."""
    template = current_app.jinja_env.get_template("inbox/_channel_icon.html")
    made: dict[tuple[str, str], Markup] = {}

    def badge(kind: str, label: str) -> Markup:
        key = (kind, label)
        if key not in made:
            # An autoescaped template: the label is escaped in it.
            made[key] = Markup(template.render(kind=kind, label=label))  # noqa: S704
        return made[key]

    return badge


def row_context() -> dict:  # type: ignore[type-arg]
    """Per-row constants of a queue list (templates/inbox/_conversation_item.html), computed
    once per page."""
    return {
        "conv_base": url_for("conversation.show", conversation_id=0).rsplit("/", 1)[0],
        "channel_badge": channel_badges(),
        "label_unread": _("Unread"),
        "label_flagged": _("Flagged for archive"),
        "label_assigned": _("Assigned to"),
        "label_unassigned": _("Not assigned"),
        "label_tags": _("Tags"),
        "label_from_us": _("We:"),
    }


QUEUE_ARGS = "queue_args"


def remembered_query() -> svc.QueueQuery:
    """The queue the user last looked at (its filters), for the list beside a conversation."""
    try:
        return svc.QueueQuery.from_args(session.get(QUEUE_ARGS) or {})
    except svc.BadQuery:
        return svc.QueueQuery()


def list_context(user, open_id: int | None = None) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """The workspace's queue list: the remembered queue's first page, with its rows."""
    q = remembered_query()
    page = svc.queue_page(user, q)
    return {
        "ws_query": q,
        "ws_page": page,
        "rows": {r.conv.id: r for r in rows.build(page.conversations)},
        "open_id": open_id,
        **row_context(),
    }


# The filters' choices of team and tag in one statement built once (each statement costs this
# page about half a millisecond): the teams first, then the tags, each by name.
_TENANTS = bindparam("tenants", expanding=True)
FILTER_CHOICES_SQL = union_all(
    select(literal_column("0").label("is_tag"), Team.id.label("id"), Team.name.label("name")).where(
        Team.tenant_id.in_(_TENANTS)
    ),
    select(literal_column("1"), cast(null(), Integer), Tag.name)
    .where(Tag.tenant_id.in_(_TENANTS))
    .distinct(),
).order_by("is_tag", "name")


class TeamChoice(NamedTuple):
    id: int
    name: str


def _filter_context(q: svc.QueueQuery) -> dict:  # type: ignore[type-arg]
    teams: list[TeamChoice] = []
    tag_names: list[str] = []
    for is_tag, team_id, name in db.session.execute(
        FILTER_CHOICES_SQL, {"tenants": current().tenant_ids()}
    ):
        if is_tag:
            tag_names.append(name)
        else:
            teams.append(TeamChoice(team_id, name))
    return {
        "q": q,
        "teams": teams,
        "tag_names": tag_names,
        "views": list(svc.View),
        "statuses": list(ConversationStatus),
        "channels": list(ChannelKind),
        "sorts": list(svc.Sort),
        **row_context(),
    }


@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    user = current()
    q = _query()
    try:
        page = svc.queue_page(user, q, request.args.get("cursor") or None)
    except svc.BadQuery:
        abort(400, _("The filter or page link is not valid."))
    if session.get(QUEUE_ARGS) != q.as_args():
        session[QUEUE_ARGS] = q.as_args()
    return render_template(
        "inbox/queue.html",
        page=page,
        counts=svc.counts(user),
        rows={r.conv.id: r for r in rows.build(page.conversations)},
        ws_query=q,
        **_filter_context(q),
    )


@bp.get("/search")
@login_required
def search():  # type: ignore[no-untyped-def]
    user = current()
    q = _query()
    text = request.args.get("q", "")
    if len(text) > search_svc.MAX_QUERY_CHARS:
        abort(400, _("The search is too long."))
    results = search_svc.search(user, text, q) if text.strip() else None
    found = [h.conversation for h in [*results.contacts, *results.messages]] if results else []
    unique = list({c.id: c for c in found}.values())
    return render_template(
        "inbox/search.html",
        results=results,
        text=text,
        rows={r.conv.id: r for r in rows.build(unique)},
        **_filter_context(q),
    )
