"""Pull: what the webhooks missed, read through the Graph API since a saved cursor.

The same provider ids as push (Messenger "m_..." message ids, "<post>_<comment>" comment ids),
so ingest() never stores a twin. The cursor only moves after a complete, successful pass.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from flask import current_app

from channels.facebook.events import CommentEvent, MessageEvent
from channels.facebook.graph import GraphClient
from channels.facebook.services import apply_comment, store_message, to_datetime
from inbox.models import ChannelAccount, ChannelKind
from inbox.models.base import utcnow

# Re-read a little before the cursor: clocks differ, and ingest deduplicates anyway.
OVERLAP = timedelta(minutes=10)
MESSAGE_FIELDS = "message,from,created_time"
COMMENT_FIELDS = "id,message,from,created_time"


def poll(account: ChannelAccount, graph: GraphClient) -> int:
    cursor = account.poll_cursor or {}
    since = _since(cursor)
    if account.kind is ChannelKind.MESSENGER:
        stored, newest = _poll_messenger(account, graph, since)
    else:
        stored, newest = _poll_feed(account, graph, since)
    mark = max(newest or since + OVERLAP, since + OVERLAP)
    account.poll_cursor = {**cursor, "since": int(mark.timestamp())}
    return stored


def _since(cursor: dict[str, Any]) -> datetime:
    value = cursor.get("since")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, utcnow().tzinfo) - OVERLAP
    days = current_app.config["FACEBOOK_POLL_FIRST_DAYS"]
    return utcnow() - timedelta(days=days)


def _max_pages() -> int:
    return int(current_app.config["FACEBOOK_POLL_MAX_PAGES"])


def _poll_messenger(
    account: ChannelAccount, graph: GraphClient, since: datetime
) -> tuple[int, datetime | None]:
    page_id, stored, newest = account.external_id, 0, None
    fields = f"participants,messages{{{MESSAGE_FIELDS}}}"
    path = f"{page_id}/conversations"
    for n, page in enumerate(graph.pages(path, platform="messenger", fields=fields)):
        fresh = False
        for conv in _data(page):
            citizen = next(
                (p for p in _data(conv.get("participants")) if str(p.get("id")) != page_id), None
            )
            if citizen is None:
                continue
            for msg in _messages(graph, conv, since):
                sent = to_datetime(msg.get("created_time"))
                sender = str((msg.get("from") or {}).get("id", ""))
                if sent is None or sent < since or sender == page_id or not msg.get("id"):
                    continue
                fresh = True
                newest = max(newest or sent, sent)
                ev = MessageEvent(
                    page_id, str(citizen["id"]), str(msg["id"]), str(msg.get("message") or ""), sent
                )
                _m, created = store_message(account, ev, name=citizen.get("name"))
                stored += created
        # Conversations come most recently updated first: stop at a page with nothing new.
        if not fresh or n + 1 >= _max_pages():
            break
    return stored, newest


def _messages(graph: GraphClient, conv: dict[str, Any], since: datetime):  # type: ignore[no-untyped-def]
    """A conversation's messages (newest first), following paging while they are recent."""
    first = conv.get("messages") or {}
    for n, page in enumerate(
        graph.pages(f"{conv.get('id')}/messages", first, fields=MESSAGE_FIELDS)
    ):
        rows = _data(page)
        yield from rows
        oldest = min(
            (to_datetime(r.get("created_time")) for r in rows),
            default=None,
            key=lambda d: d or since,
        )
        if oldest is None or oldest < since or n + 1 >= _max_pages():
            return


def _poll_feed(
    account: ChannelAccount, graph: GraphClient, since: datetime
) -> tuple[int, datetime | None]:
    page_id, stored, newest = account.external_id, 0, None
    post_days = current_app.config["FACEBOOK_POLL_POST_DAYS"]
    posts_since = int((since - timedelta(days=post_days)).timestamp())
    fields = f"id,message,created_time,comments{{{COMMENT_FIELDS}}}"
    for n, page in enumerate(graph.pages(f"{page_id}/feed", fields=fields, since=posts_since)):
        for post in _data(page):
            post_id = str(post.get("id") or "")
            first = post.get("comments") or {}
            cpages = graph.pages(f"{post_id}/comments", first, fields=COMMENT_FIELDS)
            for cpage in islice(cpages, _max_pages()):
                for c in _data(cpage):
                    created = to_datetime(c.get("created_time"))
                    sender = c.get("from") or {}
                    if created is None or created < since or not c.get("id"):
                        continue
                    newest = max(newest or created, created)
                    ev = CommentEvent(
                        page_id,
                        "add",
                        str(c["id"]),
                        post_id,
                        post_id,
                        str(sender["id"]) if sender.get("id") is not None else None,
                        sender.get("name"),
                        str(c.get("message") or ""),
                        created,
                        None,
                    )
                    stored += apply_comment(account, ev)[1]
        if n + 1 >= _max_pages():
            break
    return stored, newest


def _data(obj: Any) -> list[dict[str, Any]]:
    rows = (obj or {}).get("data") if isinstance(obj, dict) else None
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
