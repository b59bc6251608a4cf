"""Pull through the Graph API since a saved cursor: what the webhooks missed.

A pass reads edges page by page (cursor paging, `paging.next`), at most
FACEBOOK_POLL_MAX_PAGES pages per edge. The cursor (poll_cursor["since"], unix seconds) moves
to the start of the pass only after a complete, successful pass; a failure (an exception) or a
pass cut short leaves it in place, and each pass re-reads a little before it (OVERLAP). Pull
and push use the same provider ids, so ingest() never stores a twin.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from flask import current_app

from channels.meta.graph import GraphClient
from inbox.models import ChannelAccount
from inbox.models.base import utcnow

log = logging.getLogger(__name__)
# Re-read a little before the cursor: clocks differ, and ingest deduplicates anyway.
OVERLAP = timedelta(minutes=10)


class Pass:
    def __init__(self, account: ChannelAccount, graph: GraphClient, since: datetime) -> None:
        self.account, self.graph, self.since = account, graph, since
        self.stored = 0
        self.complete = True
        self.started = utcnow()
        self.max_pages = int(current_app.config["FACEBOOK_POLL_MAX_PAGES"])

    def pages(self, path: str, first: dict[str, Any] | None = None, **params: Any) -> Iterator:  # type: ignore[type-arg]
        """Result pages of an edge, at most max_pages; a pass cut short is not complete."""
        for n, page in enumerate(self.graph.pages(path, first, **params)):
            yield page
            if n + 1 >= self.max_pages and (page.get("paging") or {}).get("next"):
                self.complete = False
                return

    def edge(
        self, path: str, first: dict[str, Any] | None = None, **params: Any
    ) -> tuple[list[dict[str, Any]], bool]:
        """The rows of one edge, and whether every page of it was read."""
        rows: list[dict[str, Any]] = []
        for n, page in enumerate(self.graph.pages(path, first, **params)):
            rows.extend(data(page))
            if n + 1 >= self.max_pages and (page.get("paging") or {}).get("next"):
                self.complete = False
                return rows, False
        return rows, True


def run(account: ChannelAccount, graph: GraphClient, body: Callable[[Pass], None]) -> int:
    """One pass from the saved cursor; the cursor moves only if the pass was complete."""
    cursor = account.poll_cursor or {}
    run_ = Pass(account, graph, since(cursor))
    body(run_)
    if run_.complete:
        account.poll_cursor = {**cursor, "since": int(run_.started.timestamp())}
    else:
        log.warning("meta poll of account %s cut short; cursor kept", account.id)
    return run_.stored


# store(run, citizen participant, message row, sent time) for each recent message of a citizen
StoreMessage = Callable[[Pass, dict[str, Any], dict[str, Any], datetime], None]


def conversations(
    run: Pass, page_id: str, own_id: str, platform: str, fields: str, store: StoreMessage
) -> None:
    """GET /{page-id}/conversations?platform=messenger|instagram and each conversation's
    messages newer than the cursor; our own messages (from.id == own_id) are passed over."""
    listing = f"participants,messages{{{fields}}}"
    for page in run.pages(f"{page_id}/conversations", platform=platform, fields=listing):
        fresh = False
        for conv in data(page):
            citizen = next(
                (p for p in data(conv.get("participants")) if str(p.get("id")) != own_id),
                None,
            )
            if citizen is not None and citizen.get("id") is not None:
                fresh = _conversation(run, conv, citizen, own_id, fields, store) or fresh
        # Conversations come most recently updated first: a page with nothing new ends it.
        if not fresh:
            return


def _conversation(
    run: Pass,
    conv: dict[str, Any],
    citizen: dict[str, Any],
    own_id: str,
    fields: str,
    store: StoreMessage,
) -> bool:
    """Store a conversation's recent messages (listed newest first); True if any was recent."""
    fresh = False
    first = conv.get("messages") or {}
    for page in run.pages(f"{conv.get('id')}/messages", first, fields=fields):
        older = False
        for msg in data(page):
            sent = to_datetime(msg.get("created_time"))
            if sent is None or sent < run.since:
                older = True
                continue
            fresh = True
            sender = str((msg.get("from") or {}).get("id", ""))
            if sender == own_id or not msg.get("id"):
                continue  # our own message
            store(run, citizen, msg, sent)
        if older:
            break
    return fresh


def since(cursor: dict[str, Any]) -> datetime:
    value = cursor.get("since")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, utcnow().tzinfo) - OVERLAP
    return utcnow() - timedelta(days=current_app.config["FACEBOOK_POLL_FIRST_DAYS"])


def data(obj: Any) -> list[dict[str, Any]]:
    rows = (obj or {}).get("data") if isinstance(obj, dict) else None
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


def to_datetime(value: Any) -> datetime | None:
    """Graph API times look like 2026-11-22T03:00:00+0000."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None
