"""Pull: what the webhooks missed, read through the Graph API since a saved cursor.

The same provider ids as push (Messenger "m_..." message ids, "<post>_<comment>" comment ids),
so ingest() never stores a twin. The cursor moves to the start of the pass only after a complete,
successful pass; a failure or a pass cut short by FACEBOOK_POLL_MAX_PAGES leaves it in place.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from flask import current_app

from channels.facebook.events import CommentEvent, MessageEvent
from channels.facebook.graph import GraphClient
from channels.facebook.services import apply_comment, store_message, to_datetime
from inbox.models import ChannelAccount, ChannelKind
from inbox.models.base import utcnow

log = logging.getLogger(__name__)
# Re-read a little before the cursor: clocks differ, and ingest deduplicates anyway.
OVERLAP = timedelta(minutes=10)
MESSAGE_FIELDS = "message,from,created_time"
COMMENT_FIELDS = "id,message,from,created_time"


class _Pass:
    def __init__(self, account: ChannelAccount, graph: GraphClient, since: datetime) -> None:
        self.account, self.graph, self.since = account, graph, since
        self.page_id = account.external_id
        self.stored = 0
        self.complete = True
        self.max_pages = int(current_app.config["FACEBOOK_POLL_MAX_PAGES"])

    def pages(self, path: str, first: dict[str, Any] | None = None, **params: Any) -> Iterator:  # type: ignore[type-arg]
        """Result pages of an edge, at most max_pages; a pass cut short is not complete."""
        for n, page in enumerate(self.graph.pages(path, first, **params)):
            yield page
            if n + 1 >= self.max_pages and (page.get("paging") or {}).get("next"):
                self.complete = False
                return


def poll(account: ChannelAccount, graph: GraphClient) -> int:
    started = utcnow()
    cursor = account.poll_cursor or {}
    since = _since(cursor)
    run = _Pass(account, graph, since)
    if account.kind is ChannelKind.MESSENGER:
        _poll_messenger(run)
    else:
        _poll_feed(run)
    if run.complete:
        account.poll_cursor = {**cursor, "since": int(started.timestamp())}
    else:
        log.warning("facebook poll of account %s cut short; cursor kept", account.id)
    return run.stored


def _since(cursor: dict[str, Any]) -> datetime:
    value = cursor.get("since")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, utcnow().tzinfo) - OVERLAP
    return utcnow() - timedelta(days=current_app.config["FACEBOOK_POLL_FIRST_DAYS"])


def _poll_messenger(run: _Pass) -> None:
    fields = f"participants,messages{{{MESSAGE_FIELDS}}}"
    for page in run.pages(f"{run.page_id}/conversations", platform="messenger", fields=fields):
        fresh = False
        for conv in _data(page):
            citizen = next(
                (p for p in _data(conv.get("participants")) if str(p.get("id")) != run.page_id),
                None,
            )
            if citizen is not None:
                fresh = _conversation(run, conv, citizen) or fresh
        # Conversations come most recently updated first: a page with nothing new ends it.
        if not fresh:
            return


def _conversation(run: _Pass, conv: dict[str, Any], citizen: dict[str, Any]) -> bool:
    """Store a conversation's recent messages (listed newest first); True if any was recent."""
    fresh = False
    first = conv.get("messages") or {}
    for page in run.pages(f"{conv.get('id')}/messages", first, fields=MESSAGE_FIELDS):
        older = False
        for msg in _data(page):
            sent = to_datetime(msg.get("created_time"))
            if sent is None or sent < run.since:
                older = True
                continue
            fresh = True
            sender = str((msg.get("from") or {}).get("id", ""))
            if sender == run.page_id or not msg.get("id"):
                continue  # our own message
            ev = MessageEvent(
                run.page_id, str(citizen["id"]), str(msg["id"]), str(msg.get("message") or ""), sent
            )
            run.stored += store_message(run.account, ev, name=citizen.get("name"))[1]
        if older:
            break
    return fresh


def _poll_feed(run: _Pass) -> None:
    post_days = current_app.config["FACEBOOK_POLL_POST_DAYS"]
    posts_since = int((run.since - timedelta(days=post_days)).timestamp())
    fields = f"id,message,created_time,comments{{{COMMENT_FIELDS}}}"
    for page in run.pages(f"{run.page_id}/feed", fields=fields, since=posts_since):
        for post in _data(page):
            post_id = str(post.get("id") or "")
            first = post.get("comments") or {}
            for cpage in run.pages(f"{post_id}/comments", first, fields=COMMENT_FIELDS):
                for c in _data(cpage):
                    _comment(run, post_id, c)


def _comment(run: _Pass, post_id: str, c: dict[str, Any]) -> None:
    created = to_datetime(c.get("created_time"))
    if created is None or created < run.since or not c.get("id"):
        return
    sender = c.get("from") if isinstance(c.get("from"), dict) else {}
    ev = CommentEvent(
        page_id=run.page_id,
        verb="add",
        comment_id=str(c["id"]),
        post_id=post_id,
        parent_id=post_id,
        from_id=str(sender["id"]) if sender.get("id") is not None else None,
        from_name=sender.get("name") if isinstance(sender.get("name"), str) else None,
        message=str(c.get("message") or ""),
        created_at=created,
        permalink=None,
    )
    run.stored += apply_comment(run.account, ev)[1]


def _data(obj: Any) -> list[dict[str, Any]]:
    rows = (obj or {}).get("data") if isinstance(obj, dict) else None
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
