"""An alert is archive-worthy like anything else the municipality sends: one click flags its
text, with how many it was sent to, as an outgoing (U) entry for the records staff.

The entry needs a conversation and a message (archiving/triage.py works on those): a closed
record conversation of the alert's number holds one outbound message with the alert text; the
correspondent is "<n> recipients of the SMS alert", not any one citizen.
"""

from __future__ import annotations

from flask_babel import gettext as _

from archiving import triage
from inbox.extensions import db
from inbox.models import (
    Alert,
    AlertState,
    Contact,
    Conversation,
    ConversationStatus,
    DeliveryStatus,
    Direction,
    Message,
    User,
)
from inbox.models.base import utcnow


class NotYet(ValueError):
    """Not sent yet, or flagged already."""


def flag(alert: Alert, user: User) -> int:
    """Flag the alert for the archive; returns the archive item's id."""
    if alert.state not in (AlertState.SENDING, AlertState.DONE) or alert.archive_item_id:
        raise NotYet()
    count = alert.recipient_count
    who = _("%(n)d recipients of the SMS alert", n=count)
    contact = Contact(tenant_id=alert.tenant_id, name=who[:200])
    db.session.add(contact)
    db.session.flush()
    sent = alert.started_at or utcnow()
    conv = Conversation(
        tenant_id=alert.tenant_id,
        contact_id=contact.id,
        channel_account_id=alert.channel_account_id,
        thread_key=f"alert-record:{alert.id}",
        status=ConversationStatus.CLOSED,
        closed_at=utcnow(),
        team_id=alert.team_id,
        subject=alert.title[:300],
        last_activity_at=sent,
        meta={"alert_id": alert.id, "alert_record": True},
    )
    db.session.add(conv)
    db.session.flush()
    note = _("Sent as an SMS alert to %(n)d recipients.", n=count)
    msg = Message(
        tenant_id=alert.tenant_id,
        conversation_id=conv.id,
        channel_account_id=alert.channel_account_id,
        direction=Direction.OUTBOUND,
        author_id=alert.author_id,
        body=f"{alert.body}\n\n[{note}]",
        delivery_status=DeliveryStatus.SENT,
        sent_at=sent,
        meta={"alert_id": alert.id},
    )
    db.session.add(msg)
    db.session.flush()
    details = triage.FlagDetails(
        new_case_title=alert.title,
        title=_("SMS alert: %(title)s", title=alert.title)[:300],
        correspondent_name=who[:200],
        note=note,
        types={msg.id: "U"},
    )
    item = triage.flag_conversation(conv, user, details=details)
    alert.archive_item_id = item.id
    return item.id
