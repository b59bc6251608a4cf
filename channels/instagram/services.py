"""Storing Instagram events: direct messages (and their removal), read receipts and comments
on the account's media. Edits and removals keep what was said, as for Facebook
(channels/meta/comments.py)."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from channels.instagram.events import CommentEvent, DeletedEvent, MessageEvent, ReadEvent
from channels.meta import messaging
from channels.meta.comments import apply_change, mark_removed
from channels.meta.locale import tenant_locale
from inbox.extensions import db
from inbox.models import (
    ChannelAccount,
    ChannelKind,
    DeliveryStatus,
    IdentityKind,
    Message,
)
from inbox.models.tenancy import active_tenant_ids
from inbox.services.ingest import InboundAttachment, InboundMessage, find_message, ingest

KINDS = (ChannelKind.INSTAGRAM, ChannelKind.INSTAGRAM_COMMENTS)
PLATFORM = "instagram"


def instagram_accounts(ig_id: str) -> dict[ChannelKind, ChannelAccount]:
    """The Instagram account's enabled channel accounts (direct messages, comments)."""
    rows = db.session.scalars(
        select(ChannelAccount).where(
            ChannelAccount.external_id == ig_id,
            ChannelAccount.kind.in_(KINDS),
            ChannelAccount.enabled.is_(True),
            ChannelAccount.tenant_id.in_(active_tenant_ids()),
        )
    ).all()
    return {a.kind: a for a in rows}


# --- direct messages ----------------------------------------------------------------------


def unsupported_text(account: ChannelAccount) -> str:
    """Stored as the body of a message Instagram does not pass on, in the tenant's language."""
    with tenant_locale(account):
        return _(
            "(Instagram did not pass this message on: it is a kind of message Instagram does "
            "not share with other apps. Open the conversation in Instagram to see it.)"
        )


def dm_inbound(
    account: ChannelAccount, ev: MessageEvent, name: str | None = None
) -> InboundMessage:
    return InboundMessage(
        identity_kind=IdentityKind.INSTAGRAM_IGSID,
        identity_value=ev.igsid,
        body=unsupported_text(account) if ev.unsupported and not ev.text else ev.text,
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
        meta={"platform": PLATFORM, **({"unsupported": True} if ev.unsupported else {})},
    )


def dm_after(msg: Message, ev: MessageEvent) -> None:
    """Keep the IGSID on the conversation (replies go to it); a message whose removal arrived
    first gets its text now."""
    conv = msg.conversation
    if (conv.meta or {}).get("igsid") != ev.igsid:
        conv.meta = {**(conv.meta or {}), "igsid": ev.igsid, "platform": PLATFORM}
    if not msg.body and ev.text:
        msg.body = ev.text


def store_dm(
    account: ChannelAccount, ev: MessageEvent, name: str | None = None
) -> tuple[Message, bool]:
    msg, created = ingest(account, dm_inbound(account, ev, name))
    dm_after(msg, ev)
    return msg, created


def apply_deleted(account: ChannelAccount, ev: DeletedEvent) -> Message:
    """The person unsent a message: marked removed, its text kept for the record. A removal
    that arrives before the message is kept as an empty removed message."""
    msg = find_message(account.id, ev.mid)
    if msg is None:
        msg, _created = store_dm(account, MessageEvent(ev.ig_id, ev.igsid, ev.mid, "", None))
    mark_removed(msg, PLATFORM)
    return msg


def apply_read(account: ChannelAccount, ev: ReadEvent) -> int:
    return messaging.apply_status(
        account, "igsid", ev.igsid, DeliveryStatus.READ, [ev.mid], watermark=None
    )


# --- comments -----------------------------------------------------------------------------


def apply_comment(account: ChannelAccount, ev: CommentEvent) -> tuple[Message | None, bool]:
    """Store a comment, or record its edit or removal; returns (message, created)."""
    if ev.from_id is not None and ev.from_id == account.external_id:
        return None, False  # the account's own comment: our reply, stored when we sent it
    meta = {"media_id": ev.media_id, "permalink": ev.permalink, "platform": PLATFORM}
    return apply_change(
        account, ev.verb, ev.comment_id, ev.text, lambda: comment_inbound(ev), meta, PLATFORM
    )


def comment_inbound(ev: CommentEvent) -> InboundMessage:
    return InboundMessage(
        identity_kind=IdentityKind.INSTAGRAM_IGSID,
        identity_value=ev.from_id or f"unknown:{ev.comment_id}",
        body=ev.text or "",
        provider_message_id=ev.comment_id,
        sent_at=ev.created_at,
        contact_name=ev.username,
        thread_key=ev.media_id,
        provider_parent_id=ev.parent_id or ev.media_id,
        meta={
            "comment_id": ev.comment_id,
            "media_id": ev.media_id,
            "platform": PLATFORM,
            **({"media_product_type": ev.media_product_type} if ev.media_product_type else {}),
        },
    )
