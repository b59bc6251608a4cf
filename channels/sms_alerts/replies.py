"""Replies to an alert: an SMS from a recipient within the reply window is an answer to it.

It lands in a conversation of its own per alert and recipient (thread key
"alert:<alert id>:<number>"), routed to the alert's team, with the alert shown at the top of
the thread (templates/channels/alert_banner.html); the alert page lists these conversations.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from inbox.db import among
from inbox.extensions import db
from inbox.models import (
    Alert,
    AlertRecipient,
    ChannelAccount,
    ChannelKind,
    Conversation,
    IdentityKind,
    Message,
    RecipientState,
)
from inbox.models.base import utcnow
from inbox.services.ingest import InboundMessage

PREFIX = "alert:"


def thread_key(account: ChannelAccount, phone: str) -> str | None:
    """The thread an SMS from `phone` belongs to: the latest alert sent to it within the reply
    window from this number, if any."""
    if not phone.startswith("+"):
        return None
    found = _latest_alerts([account], [phone])
    alert_id = found.get((account.id, phone))
    return f"{PREFIX}{alert_id}:{phone}" if alert_id else None


def thread_many(items: Sequence[tuple[ChannelAccount, InboundMessage]]) -> None:
    """`thread_key` for a batch of new SMS at once (one query, however many messages)."""
    todo = [
        (account, inbound)
        for account, inbound in items
        if account.kind is ChannelKind.SMS
        and inbound.identity_kind is IdentityKind.PHONE
        and inbound.thread_key is None
        and inbound.identity_value.startswith("+")
    ]
    if not todo:
        return
    accounts = list({a.id: a for a, _ in todo}.values())
    found = _latest_alerts(accounts, sorted({i.identity_value for _, i in todo}))
    for account, inbound in todo:
        alert_id = found.get((account.id, inbound.identity_value))
        if alert_id:
            inbound.thread_key = f"{PREFIX}{alert_id}:{inbound.identity_value}"


def _latest_alerts(
    accounts: Sequence[ChannelAccount], phones: Sequence[str]
) -> dict[tuple[int, str], int]:
    """(account id, phone) -> the latest alert sent from that account to that phone within
    the reply window."""
    hours = float(current_app.config["ALERT_REPLY_WINDOW_HOURS"])
    since = utcnow() - timedelta(hours=hours)
    rows = db.session.execute(
        select(Alert.channel_account_id, AlertRecipient.phone, AlertRecipient.alert_id)
        .join(Alert, Alert.id == AlertRecipient.alert_id)
        .where(
            among(AlertRecipient.tenant_id, {a.tenant_id for a in accounts}),
            among(AlertRecipient.phone, phones),
            AlertRecipient.sent_at >= since,
            AlertRecipient.state.not_in((RecipientState.FAILED, RecipientState.QUEUED)),
            among(Alert.channel_account_id, {a.id for a in accounts}),
        )
        .order_by(AlertRecipient.sent_at, AlertRecipient.id)
    )
    return {(account_id, phone): alert_id for account_id, phone, alert_id in rows}


def alert_of(conv: Conversation) -> Alert | None:
    alert_id = (conv.meta or {}).get("alert_id")
    if not alert_id:
        return None
    alert = db.session.get(Alert, int(alert_id))
    return alert if alert is not None and alert.tenant_id == conv.tenant_id else None


def link(message: Message) -> None:
    """Tie a new reply's conversation to its alert (first reply: team, subject, recipient)."""
    conv = message.conversation
    key = conv.thread_key or ""
    if not key.startswith(PREFIX) or (conv.meta or {}).get("alert_id"):
        return
    alert_id, _, phone = key[len(PREFIX) :].partition(":")
    alert = db.session.get(Alert, int(alert_id)) if alert_id.isdigit() else None
    if alert is None or alert.tenant_id != conv.tenant_id:
        return
    conv.meta = {**(conv.meta or {}), "alert_id": alert.id}
    if alert.team_id is not None:
        conv.team_id = alert.team_id
    conv.subject = conv.subject or alert.title[:300]
    recipient = db.session.scalar(
        select(AlertRecipient).where(
            AlertRecipient.alert_id == alert.id, AlertRecipient.phone == phone
        )
    )
    if recipient is not None and recipient.conversation_id is None:
        recipient.conversation_id = conv.id
