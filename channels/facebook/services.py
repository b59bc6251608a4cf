"""Storing Facebook events: Messenger messages, statuses and page-post comments."""

from __future__ import annotations

import logging

from sqlalchemy import select

from channels.facebook.events import CommentEvent, MessageEvent, StatusEvent
from channels.meta import messaging
from channels.meta.comments import apply_change
from inbox.extensions import db
from inbox.models import (
    ChannelAccount,
    ChannelKind,
    DeliveryStatus,
    IdentityKind,
    Message,
)
from inbox.models.tenancy import active_tenant_ids
from inbox.services.ingest import (
    InboundAttachment,
    InboundMessage,
    ingest,
)

log = logging.getLogger(__name__)
KINDS = (ChannelKind.MESSENGER, ChannelKind.FACEBOOK_COMMENTS)


def post_permalink(post_id: str, permalink: str | None = None) -> str:
    return permalink or f"https://www.facebook.com/{post_id}"


def page_accounts(page_id: str) -> dict[ChannelKind, ChannelAccount]:
    """The page's enabled accounts: a disabled one answers nothing and stores nothing."""
    rows = db.session.scalars(
        select(ChannelAccount).where(
            ChannelAccount.external_id == page_id,
            ChannelAccount.kind.in_(KINDS),
            ChannelAccount.enabled.is_(True),
            ChannelAccount.tenant_id.in_(active_tenant_ids()),
        )
    ).all()
    return {a.kind: a for a in rows}


# --- webhook events -----------------------------------------------------------------------


def store_message(
    account: ChannelAccount, ev: MessageEvent, name: str | None = None
) -> tuple[Message, bool]:
    """A Messenger message into the citizen's conversation (the PSID kept for replies)."""
    msg, created = ingest(account, store_inbound(ev, name))
    store_message_after(msg, ev)
    return msg, created


def store_inbound(ev: MessageEvent, name: str | None = None) -> InboundMessage:
    return InboundMessage(
        identity_kind=IdentityKind.FACEBOOK_PSID,
        identity_value=ev.psid,
        body=ev.text,
        provider_message_id=ev.mid,
        sent_at=ev.sent_at,
        contact_name=name,
        attachments=[
            InboundAttachment(
                filename=f"{kind}-{i + 1}",
                content_type="application/octet-stream",
                provider_url=url,
            )
            for i, (kind, url) in enumerate(ev.attachments)
        ],
    )


def store_message_after(msg: Message, ev: MessageEvent) -> None:
    """Keep the PSID on the conversation: replies go to it."""
    conv = msg.conversation
    if (conv.meta or {}).get("psid") != ev.psid:
        conv.meta = {**(conv.meta or {}), "psid": ev.psid}


def apply_status(account: ChannelAccount, ev: StatusEvent) -> int:
    """delivery{mids,watermark} / read{watermark}: everything we sent up to the mark."""
    status = DeliveryStatus.READ if ev.status == "read" else DeliveryStatus.DELIVERED
    return messaging.apply_status(account, "psid", ev.psid, status, ev.mids, ev.watermark)


def apply_comment(account: ChannelAccount, ev: CommentEvent) -> tuple[Message | None, bool]:
    """Store, edit or mark removed; returns (message, created)."""
    if ev.from_id is not None and ev.from_id == account.external_id:
        return None, False  # the page's own comment: our reply, stored when we sent it
    meta = {"post_id": ev.post_id, "permalink": post_permalink(ev.post_id, ev.permalink)}
    return apply_change(
        account, ev.verb, ev.comment_id, ev.message, lambda: comment_inbound(ev), meta, "facebook"
    )


def comment_inbound(ev: CommentEvent) -> InboundMessage:
    return InboundMessage(
        identity_kind=IdentityKind.FACEBOOK_USER,
        identity_value=ev.from_id or f"unknown:{ev.comment_id}",
        body=ev.message or "",
        provider_message_id=ev.comment_id,
        sent_at=ev.created_at,
        contact_name=ev.from_name,
        thread_key=ev.post_id,
        provider_parent_id=ev.parent_id or ev.post_id,
        meta={
            "comment_id": ev.comment_id,
            "post_id": ev.post_id,
            "permalink": post_permalink(ev.post_id, ev.permalink),
        },
    )
