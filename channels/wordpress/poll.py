"""Pulling comments from a WordPress site by id cursor, page by page.

Comments are listed `orderby=id&order=asc`, 100 a page. The cursor (per post, or "all") keeps
the highest comment id stored and the page it was on; the next poll resumes on that page. If
comments before it were deleted, the page shifts: we step back until the first item is one we
have seen. We never use `after` (it compares the site's local time). Everything is deduplicated
by comment id, and each page is committed with its cursor, so an outage mid-way loses nothing.
Every `rescan_every` polls we pass over everything once more, to pick up comments a moderator
approved late (they have low ids behind the cursor).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from sqlalchemy import select

from channels.interfaces import InvalidPayload
from channels.wordpress.client import PER_PAGE, WordPressClient, WordPressError
from channels.wordpress.items import Item, parse_item
from channels.wordpress.services import WORDPRESS, Comment, store_comment
from inbox import secretstore
from inbox.extensions import db
from inbox.models import ChannelAccount, Conversation, Message

log = logging.getLogger(__name__)
DEFAULT_RESCAN_EVERY = 30


def client_for(account: ChannelAccount) -> WordPressClient:
    config = account.config or {}
    api_root = config.get("api_root") or f"{str(config.get('base_url') or '').rstrip('/')}/wp-json"
    user = config.get("user") or secretstore.resolve(account, "user")
    per_page = int(config.get("per_page") or PER_PAGE)
    return WordPressClient(
        api_root,
        user,
        secretstore.resolve(account, "app_password"),
        per_page,
        edit_context=bool(config.get("fetch_emails")),
    )


def poll_site(account: ChannelAccount) -> int:
    """Store new comments of every configured post (or the whole site). Commits per page."""
    client = client_for(account)
    cursor: dict[str, Any] = dict(account.poll_cursor or {})
    polls = int(cursor.get("polls", 0)) + 1
    rescan_every = int((account.config or {}).get("rescan_every") or DEFAULT_RESCAN_EVERY)
    rescan = polls % rescan_every == 0
    posts = (account.config or {}).get("posts") or [None]
    progress = {"stored": 0}  # committed page by page, so counted even if a later page fails
    try:
        if client.has_auth and "own_user_id" not in cursor:
            cursor["own_user_id"] = client.me()  # our own replies are not citizen input
        for post in posts:
            scope = None if post is None else int(post)
            _poll_scope(account, client, cursor, scope, rescan, progress)
    except WordPressError as exc:
        db.session.rollback()
        if exc.auth:
            account.alert = f"WordPress rejected the credentials for {account.name}: {exc}"
            db.session.commit()
        log.warning("polling WordPress source %s stopped: %s", account.id, exc)
        return progress["stored"]
    account.poll_cursor = {**dict(account.poll_cursor or {}), "polls": polls}
    account.alert = None
    db.session.commit()
    return progress["stored"]


def _poll_scope(
    account: ChannelAccount,
    client: WordPressClient,
    cursor: dict[str, Any],
    post: int | None,
    rescan: bool,
    progress: dict[str, int],
) -> None:
    key = "all" if post is None else f"post:{post}"
    state = dict((cursor.get("scopes") or {}).get(key) or {"last_id": 0, "page": 1})
    last_id, page = int(state["last_id"]), 1 if rescan else int(state["page"])
    titles: dict[int, tuple[str | None, str | None]] = {}
    first = True
    while True:
        try:
            batch = client.comments(post, page)
        except WordPressError as exc:
            if first and page > 1 and exc.code == "rest_comment_invalid_page_number":
                page -= 1  # so many comments were deleted that our page no longer exists
                continue
            raise
        if first and page > 1 and (not batch.items or _first_id(batch.items) > last_id):
            page -= 1  # earlier comments were deleted and the list shifted back
            continue
        first = False
        items = _valid(account, batch.items)
        stored = _store_page(account, client, items, cursor, titles)
        if items:
            last_id = max(last_id, *(item.id for item in items))
        scopes = {**(cursor.get("scopes") or {}), key: {"last_id": last_id, "page": page}}
        cursor["scopes"] = scopes
        account.poll_cursor = dict(cursor)
        db.session.commit()  # this page and the cursor after it, together
        progress["stored"] += stored
        if page >= batch.total_pages or len(batch.items) < client.per_page:
            return
        page += 1


def _valid(account: ChannelAccount, raw_items: list[Any]) -> list[Item]:
    """The items of a page that have the documented shape; the others are skipped alone."""
    items = []
    for raw in raw_items:
        try:
            items.append(parse_item(raw))
        except InvalidPayload as exc:
            log.warning("WordPress source %s: comment item skipped: %s", account.id, exc)
    return items


def _first_id(raw_items: list[Any]) -> int:
    try:
        return parse_item(raw_items[0]).id
    except InvalidPayload:
        return 0


def _store_page(
    account: ChannelAccount,
    client: WordPressClient,
    items: list[Item],
    cursor: dict[str, Any],
    titles: dict[int, tuple[str | None, str | None]],
) -> int:
    ids = [str(item.id) for item in items]
    known = set(
        db.session.scalars(
            select(Message.provider_message_id).where(
                Message.channel_account_id == account.id, Message.provider_message_id.in_(ids)
            )
        )
    )
    stored = 0
    for item in items:
        if str(item.id) in known or item.status != "approved":
            continue
        if cursor.get("own_user_id") and item.author == cursor["own_user_id"]:
            continue
        _, created = store_comment(account, _comment(account, client, item, titles), WORDPRESS)
        stored += int(created)
    return stored


def _comment(
    account: ChannelAccount,
    client: WordPressClient,
    item: Item,
    titles: dict[int, tuple[str | None, str | None]],
) -> Comment:
    comment, post = item.comment, item.comment.post_id or 0
    if post not in titles:
        exists = db.session.scalar(
            select(Conversation.id).where(
                Conversation.channel_account_id == account.id,
                Conversation.thread_key == comment.thread_key,
            )
        )
        titles[post] = (None, None) if exists else _title(client, post)
    title, post_link = titles[post]
    return replace(comment, page_url=post_link or comment.page_url, page_title=title)


def _title(client: WordPressClient, post: int) -> tuple[str | None, str | None]:
    try:
        return client.title(post)
    except WordPressError as exc:
        if exc.transient:
            raise
        return None, None
