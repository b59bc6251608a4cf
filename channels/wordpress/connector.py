"""Web-comments connector: WordPress pull and threaded replies; webhook sources are push-only."""

from __future__ import annotations

import html

from flask_babel import gettext as _
from sqlalchemy import select

from channels.interfaces import PermanentSendError, SendResult, TransientSendError
from channels.wordpress.client import WordPressError
from channels.wordpress.poll import client_for, poll_site
from channels.wordpress.services import WEBHOOK, WORDPRESS, source_of
from inbox.extensions import db
from inbox.models import (
    ChannelAccount,
    ChannelKind,
    Conversation,
    DeliveryStatus,
    Direction,
    Message,
)


class WebCommentsConnector:
    kind = ChannelKind.WEB_COMMENTS

    def poll(self, account: ChannelAccount) -> int:
        if source_of(account) != WORDPRESS:
            return 0  # the generic webhook is push-only
        return poll_site(account)

    def cannot_reply_reason(self, conversation: Conversation) -> str | None:
        account = conversation.channel_account
        if source_of(account) == WEBHOOK:
            return _(
                "Replies cannot be posted back to this website automatically. "
                "Answer on the website itself or contact the citizen another way."
            )
        if not client_for(account).has_auth:
            return _("This website is not set up for replies (no application password).")
        if not (conversation.meta or {}).get("post_id"):
            return _("The page this comment was posted on is unknown.")
        return None

    def send(self, account: ChannelAccount, message: Message) -> SendResult:
        """Post the reply as a comment threaded under the citizen's latest comment."""
        if source_of(account) != WORDPRESS:
            raise PermanentSendError("this source cannot receive replies", code="no_reply")
        conv = db.session.get(Conversation, message.conversation_id)
        assert conv is not None
        post = (conv.meta or {}).get("post_id")
        if not post:
            raise PermanentSendError("the page of this conversation is unknown", code="no_post")
        parent = message.provider_parent_id or _latest_comment_id(conv.id)
        client = client_for(account)
        if not client.has_auth:
            raise PermanentSendError("no application password configured", code="no_auth")
        try:
            # Plain text in, so WordPress shows exactly what the caseworker wrote.
            created = client.create_comment(
                int(post), int(parent) if parent else None, html.escape(message.body, quote=False)
            )
        except WordPressError as exc:
            if exc.code == "comment_duplicate":
                # An earlier attempt got through before we could record it.
                return SendResult(provider_message_id=None, status=DeliveryStatus.SENT)
            if exc.transient:
                raise TransientSendError(str(exc), code=str(exc.status or "network")) from exc
            raise PermanentSendError(str(exc), code=exc.code or str(exc.status)) from exc
        return SendResult(
            provider_message_id=str(created["id"]),
            status=DeliveryStatus.SENT,
            provider_parent_id=str(parent) if parent else None,
        )


def _latest_comment_id(conversation_id: int) -> str | None:
    return db.session.scalar(
        select(Message.provider_message_id)
        .where(
            Message.conversation_id == conversation_id,
            Message.direction == Direction.INBOUND,
            Message.provider_message_id.is_not(None),
        )
        .order_by(Message.id.desc())
        .limit(1)
    )
