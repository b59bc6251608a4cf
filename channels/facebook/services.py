"""Storing Facebook events: Messenger messages, statuses and page-post comments."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from channels import media
from channels.facebook.events import CommentEvent, MessageEvent, StatusEvent
from channels.facebook.graph import GraphError, page_token, token_fingerprint
from inbox.extensions import db
from inbox.models import (
    ChannelAccount,
    ChannelKind,
    Conversation,
    DeliveryStatus,
    Direction,
    IdentityKind,
    Message,
    MessageRevision,
    Tenant,
)
from inbox.models.base import utcnow
from inbox.services.ingest import (
    InboundAttachment,
    InboundMessage,
    find_message,
    ingest,
    update_delivery_status,
)

log = logging.getLogger(__name__)
KINDS = (ChannelKind.MESSENGER, ChannelKind.FACEBOOK_COMMENTS)
MEDIA_TASK = "servicetorg.inbound.facebook_media"
# What we download from Meta's CDN; anything else keeps only its link.
ALLOWED_TYPES = ("image/", "video/", "audio/", "application/pdf")


def post_permalink(post_id: str, permalink: str | None = None) -> str:
    return permalink or f"https://www.facebook.com/{post_id}"


def page_accounts(page_id: str) -> dict[ChannelKind, ChannelAccount]:
    """The page's enabled accounts: a disabled one answers nothing and stores nothing."""
    rows = db.session.scalars(
        select(ChannelAccount).where(
            ChannelAccount.external_id == page_id,
            ChannelAccount.kind.in_(KINDS),
            ChannelAccount.enabled.is_(True),
        )
    ).all()
    return {a.kind: a for a in rows}


# --- expired tokens -----------------------------------------------------------------------


def token_blocked(account: ChannelAccount) -> bool:
    """True while an expired-token alert stands and the token has not been replaced."""
    if not account.alert:
        return False
    if (account.poll_cursor or {}).get("alert_token") == token_fingerprint(page_token(account)):
        return True
    # An admin put a new token in place: try again.
    account.alert = None
    account.poll_cursor = {
        k: v for k, v in (account.poll_cursor or {}).items() if k != "alert_token"
    }
    return False


def raise_alert(account: ChannelAccount, exc: GraphError) -> None:
    """Expired or missing token: tell admins, and stop calling until it is replaced."""
    tenant = db.session.get(Tenant, account.tenant_id)
    # Stored text, often written by a worker: in the municipality's language.
    with force_locale(tenant.locale if tenant else current_app.config["DEFAULT_LOCALE"]):
        account.alert = _(
            "Facebook rejected the access token for the page %(name)s (%(reason)s). An "
            "administrator must create a new page access token and put it in the environment "
            "variable %(var)s. Nothing is fetched from or sent to this page until then.",
            name=account.name,
            reason=str(exc)[:200],
            var=(account.secret_refs or {}).get("page_access_token", "?"),
        )
    account.poll_cursor = {
        **(account.poll_cursor or {}),
        "alert_token": token_fingerprint(page_token(account)),
    }
    log.warning("facebook token rejected for account %s: %s", account.id, exc)


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
    targets: dict[int, Message] = {}
    for mid in ev.mids:
        m = find_message(account.id, mid)
        if m is not None and m.direction is Direction.OUTBOUND:
            targets[m.id] = m
    if ev.watermark is not None:
        q = (
            select(Message)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(
                Message.channel_account_id == account.id,
                Message.direction == Direction.OUTBOUND,
                Message.is_note.is_(False),
                Message.provider_message_id.is_not(None),
                Message.sent_at <= ev.watermark,
                Conversation.meta["psid"].as_string() == ev.psid,
            )
        )
        for m in db.session.scalars(q):
            targets[m.id] = m
    return sum(update_delivery_status(m, status) for m in targets.values())


def apply_comment(account: ChannelAccount, ev: CommentEvent) -> tuple[Message | None, bool]:
    """Store, edit or mark removed; returns (message, created)."""
    if ev.from_id is not None and ev.from_id == account.external_id:
        return None, False  # the page's own comment: our reply, stored when we sent it
    existing = find_message(account.id, ev.comment_id)
    if existing is None:
        msg, created = ingest(account, comment_inbound(ev))
        conv = msg.conversation
        if "permalink" not in (conv.meta or {}):
            conv.meta = {
                **(conv.meta or {}),
                "post_id": ev.post_id,
                "permalink": post_permalink(ev.post_id, ev.permalink),
            }
        if ev.verb == "edited":
            msg.edited_at = utcnow()
        elif ev.verb == "remove":
            mark_removed(msg)
        return msg, created
    if ev.verb == "edited" and ev.message is not None:
        edit_message(existing, ev.message)
    elif ev.verb == "remove":
        mark_removed(existing)
    elif ev.verb == "add" and not existing.body and ev.message:
        existing.body = ev.message  # a removal arrived before the comment itself
    return existing, False


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


def edit_message(msg: Message, new_body: str) -> bool:
    """Keep what was said: the earlier text becomes a revision staff can read."""
    if new_body == msg.body:
        return False  # a repeated delivery of the same edit
    db.session.add(MessageRevision(message_id=msg.id, body=msg.body))
    msg.body = new_body
    msg.edited_at = utcnow()
    db.session.flush()
    db.session.expire(msg, ["revisions"])
    return True


def mark_removed(msg: Message) -> None:
    """The author removed it on Facebook; the text stays here for the record."""
    if msg.removed_at is None:
        msg.removed_at = utcnow()
        msg.meta = {**(msg.meta or {}), "removed_on_facebook": True}


# --- attachments --------------------------------------------------------------------------


def fetch_attachments(message: Message) -> None:
    """Download attachment bytes (channels/media.py: public addresses only, within size and
    time, the type sniffed from the bytes); on any failure the link is kept instead."""
    for att in message.attachments:
        if att.sha256 or not att.provider_url:
            continue
        try:
            data, ctype = media.fetch(att.provider_url)
        except (media.Refused, media.Unavailable) as exc:
            log.info("attachment %s kept as link only: %s", att.id, exc)
            continue
        if not ctype.startswith(ALLOWED_TYPES):
            log.info("attachment %s kept as link only: type %s", att.id, ctype)
            continue
        att.data, att.size, att.content_type = data, len(data), ctype
        att.sha256 = hashlib.sha256(data).hexdigest()
        ext = "." + media.KNOWN[ctype]
        if not att.filename.endswith(ext):
            att.filename += ext


def to_datetime(value: Any) -> datetime | None:
    """Graph API times look like 2026-11-22T03:00:00+0000."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None
