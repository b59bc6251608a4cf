"""Pull: what the webhooks missed, read through the Graph API since a saved cursor.

The same provider ids as push (Messenger "m_..." message ids, "<post>_<comment>" comment ids),
so ingest() never stores a twin. The cursor handling and paging are Meta's, shared with
Instagram (channels/meta/polling.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app

from channels.facebook.events import CommentEvent, MessageEvent
from channels.facebook.services import apply_comment, store_message
from channels.meta import polling
from channels.meta.graph import GraphClient
from channels.meta.polling import Pass, data, to_datetime
from inbox.models import ChannelAccount, ChannelKind

MESSAGE_FIELDS = "message,from,created_time"
COMMENT_FIELDS = "id,message,from,created_time"


def poll(account: ChannelAccount, graph: GraphClient) -> int:
    body = _poll_messenger if account.kind is ChannelKind.MESSENGER else _poll_feed
    return polling.run(account, graph, body)


def _poll_messenger(run: Pass) -> None:
    page_id = run.account.external_id
    polling.conversations(run, page_id, page_id, "messenger", MESSAGE_FIELDS, _message)


def _message(run: Pass, citizen: dict[str, Any], msg: dict[str, Any], sent: datetime) -> None:
    ev = MessageEvent(
        run.account.external_id,
        str(citizen["id"]),
        str(msg["id"]),
        str(msg.get("message") or ""),
        sent,
    )
    run.stored += store_message(run.account, ev, name=citizen.get("name"))[1]


def _poll_feed(run: Pass) -> None:
    page_id = run.account.external_id
    post_days = current_app.config["FACEBOOK_POLL_POST_DAYS"]
    posts_since = int((run.since - timedelta(days=post_days)).timestamp())
    fields = f"id,message,created_time,comments{{{COMMENT_FIELDS}}}"
    for page in run.pages(f"{page_id}/feed", fields=fields, since=posts_since):
        for post in data(page):
            post_id = str(post.get("id") or "")
            first = post.get("comments") or {}
            for cpage in run.pages(f"{post_id}/comments", first, fields=COMMENT_FIELDS):
                for c in data(cpage):
                    _comment(run, post_id, c)


def _comment(run: Pass, post_id: str, c: dict[str, Any]) -> None:
    created = to_datetime(c.get("created_time"))
    if created is None or created < run.since or not c.get("id"):
        return
    sender = c.get("from") if isinstance(c.get("from"), dict) else {}
    ev = CommentEvent(
        page_id=run.account.external_id,
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
