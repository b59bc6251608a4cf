"""Pull: Instagram direct messages and comments the webhooks missed, since a saved cursor.

- Direct messages through the linked page's Conversations API:
  GET /{page-id}/conversations?platform=instagram&fields=participants,messages{…}.
- Comments: GET /{ig-user-id}/media (newest first, the last FACEBOOK_POLL_POST_DAYS days), then
  GET /{media-id}/comments?fields=id,text,timestamp,from,username for each.
The same provider ids as push (message mids, comment ids), so nothing is stored twice. A
comment whose text changed is recorded as an edit (the earlier text kept); a comment we hold
that a complete listing of its media no longer has was removed on Instagram, and is marked so
(its text kept). Paging, the cursor and its overlap are Meta's (channels/meta/polling.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select

from channels.instagram.events import CommentEvent, MessageEvent
from channels.instagram.services import PLATFORM, apply_comment, store_dm
from channels.meta import polling
from channels.meta.comments import mark_removed
from channels.meta.graph import GraphClient
from channels.meta.payload import web_url
from channels.meta.polling import Pass, to_datetime
from inbox.extensions import db
from inbox.models import ChannelAccount, ChannelKind, Direction, Message
from inbox.models.base import utcnow
from inbox.services.ingest import find_message

MESSAGE_FIELDS = "id,message,from,to,created_time"
MEDIA_FIELDS = "id,caption,media_product_type,permalink,timestamp"
COMMENT_FIELDS = "id,text,timestamp,from,username"


def poll(account: ChannelAccount, graph: GraphClient) -> int:
    if account.kind is ChannelKind.INSTAGRAM:
        if not account.linked_page_id:
            return 0  # messages are read through the linked page (docs/instagram.md)
        return polling.run(account, graph, _poll_messages)
    return polling.run(account, graph, _poll_comments)


def _poll_messages(run: Pass) -> None:
    ig_id = run.account.external_id
    page_id = str(run.account.linked_page_id)
    polling.conversations(run, page_id, ig_id, "instagram", MESSAGE_FIELDS, _message)


def _message(run: Pass, citizen: dict[str, Any], msg: dict[str, Any], sent: datetime) -> None:
    ev = MessageEvent(
        run.account.external_id,
        str(citizen["id"]),
        str(msg["id"]),
        str(msg.get("message") or ""),
        sent,
    )
    name = citizen.get("username") if isinstance(citizen.get("username"), str) else None
    run.stored += store_dm(run.account, ev, name=name)[1]


def _poll_comments(run: Pass) -> None:
    ig_id = run.account.external_id
    oldest = run.since - timedelta(days=current_app.config["FACEBOOK_POLL_POST_DAYS"])
    for page in run.pages(f"{ig_id}/media", fields=MEDIA_FIELDS):
        media_rows = polling.data(page)
        for media in media_rows:
            posted = to_datetime(media.get("timestamp"))
            if media.get("id") and posted is not None and posted >= oldest:
                _media_comments(run, media)
        # Media come newest first: a page that reaches past the window ends it.
        if any((to_datetime(m.get("timestamp")) or oldest) < oldest for m in media_rows):
            return


def _media_comments(run: Pass, media: dict[str, Any]) -> None:
    media_id = str(media["id"])
    listed_at = utcnow()
    rows, whole = run.edge(f"{media_id}/comments", fields=COMMENT_FIELDS)
    seen: set[str] = set()
    for c in rows:
        if not c.get("id"):
            continue
        seen.add(str(c["id"]))
        _comment(run, media, c)
    if whole:
        _removed_since(run.account, media_id, seen, listed_at)


def _comment(run: Pass, media: dict[str, Any], c: dict[str, Any]) -> None:
    comment_id = str(c["id"])
    held = find_message(run.account.id, comment_id)
    created = to_datetime(c.get("timestamp"))
    if held is None and (created is None or created < run.since):
        return  # older than the cursor, and not ours to compare
    sender = c.get("from") if isinstance(c.get("from"), dict) else {}
    username = c.get("username") or sender.get("username")
    ev = CommentEvent(
        ig_id=run.account.external_id,
        comment_id=comment_id,
        media_id=str(media["id"]),
        parent_id=None,  # the comments edge lists top-level comments
        from_id=str(sender["id"]) if sender.get("id") is not None else None,
        username=username if isinstance(username, str) else None,
        text=str(c.get("text") or ""),
        media_product_type=media.get("media_product_type")
        if isinstance(media.get("media_product_type"), str)
        else None,
        created_at=created,
        permalink=web_url(media.get("permalink"), https_only=True),
        verb="edited" if held is not None else "add",
    )
    if held is not None and held.body == ev.text:
        return
    run.stored += apply_comment(run.account, ev)[1]


def _removed_since(account: ChannelAccount, media_id: str, seen: set[str], listed_at) -> None:  # type: ignore[no-untyped-def]
    """Top-level comments we hold on this media that a complete listing no longer has."""
    held = db.session.scalars(
        select(Message).where(
            Message.channel_account_id == account.id,
            Message.direction == Direction.INBOUND,
            Message.provider_parent_id == media_id,
            Message.removed_at.is_(None),
            Message.provider_message_id.is_not(None),
            Message.sent_at < listed_at,
        )
    )
    for msg in held:
        if msg.provider_message_id not in seen:
            mark_removed(msg, PLATFORM)
