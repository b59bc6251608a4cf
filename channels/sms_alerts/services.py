"""Writing, checking, confirming and starting alerts; who may; what it costs.

Every query is scoped to the tenant the alert belongs to; the views check that the user is a
member with alert rights (a caseworker whose membership allows it, or an admin).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import func, insert, select

from channels.sms_alerts import recipients as rcp
from channels.sms_alerts.sending import BATCH_TASK
from channels.twilio_sms.segments import MAX_BODY_CHARS, limits
from inbox.db import enqueue
from inbox.extensions import db
from inbox.models import (
    Alert,
    AlertRecipient,
    AlertState,
    ChannelAccount,
    ChannelKind,
    Contact,
    ContactIdentity,
    Conversation,
    ConversationTag,
    IdentityKind,
    Membership,
    RecipientList,
    RecipientState,
    Role,
    Tag,
    Team,
    User,
)
from inbox.models.base import utcnow
from inbox.services import audit

CHUNK = 500


class AlertError(ValueError):
    """A user mistake; str(exc) is a code the views translate."""


def may_send(user: User, tenant_id: int) -> bool:
    for m in user.memberships:
        if m.tenant_id == tenant_id:
            return m.role is Role.ADMIN or bool(m.may_send_alerts)
    return False


def alert_tenants(user: User) -> list[int]:
    return [m.tenant_id for m in user.memberships if may_send(user, m.tenant_id)]


def grant(tenant_id: int, user: User, allowed: bool, actor: User | None = None) -> None:
    m = db.session.get(Membership, (user.id, tenant_id))
    if m is None:
        raise AlertError("not_member")
    m.may_send_alerts = allowed
    audit.record(
        "alerts.grant" if allowed else "alerts.revoke",
        user,
        tenant_id=tenant_id,
        actor=actor,
        actor_label=None if actor else "cli",
    )


def numbers(tenant_id: int) -> list[ChannelAccount]:
    return list(
        db.session.scalars(
            select(ChannelAccount)
            .where(
                ChannelAccount.tenant_id == tenant_id,
                ChannelAccount.kind == ChannelKind.SMS,
                ChannelAccount.enabled.is_(True),
            )
            .order_by(ChannelAccount.id)
        )
    )


def teams(tenant_id: int) -> list[Team]:
    return list(
        db.session.scalars(select(Team).where(Team.tenant_id == tenant_id).order_by(Team.name))
    )


def tags(tenant_id: int) -> list[Tag]:
    return list(
        db.session.scalars(select(Tag).where(Tag.tenant_id == tenant_id).order_by(Tag.name))
    )


def lists(tenant_id: int) -> list[RecipientList]:
    return list(
        db.session.scalars(
            select(RecipientList)
            .where(RecipientList.tenant_id == tenant_id)
            .order_by(RecipientList.name)
        )
    )


def get(tenant_ids: list[int], alert_id: int) -> Alert | None:
    alert = db.session.get(Alert, alert_id)
    return alert if alert is not None and alert.tenant_id in tenant_ids else None


@dataclass
class Estimate:
    encoding: str
    segments: int
    recipients: int
    total_segments: int
    cost: float
    currency: str
    needs_second_person: bool


def estimate(alert: Alert) -> Estimate:
    price = float(current_app.config["ALERT_PRICE_PER_SEGMENT"])
    total = alert.segments * alert.recipient_count
    return Estimate(
        alert.encoding,
        alert.segments,
        alert.recipient_count,
        total,
        round(total * price, 2),
        str(current_app.config["ALERT_PRICE_CURRENCY"]),
        needs_second_person(alert),
    )


def needs_second_person(alert: Alert) -> bool:
    return alert.recipient_count > int(current_app.config["ALERT_CONFIRM_ABOVE"])


# --- recipients from each source ------------------------------------------------------------


@dataclass
class Source:
    label: str
    entries: list[dict[str, Any]]
    rejected: list[dict[str, Any]] = field(default_factory=list)
    empty_lines: int = 0


def from_csv(data: bytes, filename: str) -> Source:
    parsed = rcp.parse(
        data,
        max_bytes=int(current_app.config["ALERT_MAX_CSV_BYTES"]),
        max_rows=int(current_app.config["ALERT_MAX_RECIPIENTS"]),
    )
    return Source(
        filename[:150] or "CSV",
        parsed.recipients,
        [r.as_dict() for r in parsed.rejected],
        parsed.empty_lines,
    )


def from_list(tenant_id: int, list_id: int) -> Source:
    saved = db.session.get(RecipientList, list_id)
    if saved is None or saved.tenant_id != tenant_id:
        raise AlertError("no_list")
    kept, rejected = rcp.dedupe(list(saved.entries or []))
    return Source(saved.name, kept, [r.as_dict() for r in rejected])


def from_tag(tenant_id: int, tag_id: int) -> Source:
    tag = db.session.get(Tag, tag_id)
    if tag is None or tag.tenant_id != tenant_id:
        raise AlertError("no_tag")
    contacts = (
        select(Conversation.contact_id)
        .join(ConversationTag, ConversationTag.conversation_id == Conversation.id)
        .where(Conversation.tenant_id == tenant_id, ConversationTag.tag_id == tag.id)
    )
    rows = db.session.execute(
        select(ContactIdentity.value, Contact.name)
        .join(Contact, Contact.id == ContactIdentity.contact_id)
        .where(
            ContactIdentity.tenant_id == tenant_id,
            ContactIdentity.kind == IdentityKind.PHONE,
            ContactIdentity.contact_id.in_(contacts),
        )
        .order_by(ContactIdentity.id)
    ).all()
    entries = [{"phone": value, "name": name} for value, name in rows]
    kept, rejected = rcp.dedupe(entries)
    return Source(f"#{tag.name}", kept, [r.as_dict() for r in rejected])


def from_alert(tenant_id: int, alert_id: int) -> Source:
    """Everyone the earlier alert reached (a follow-up: "Vannet er tilbake")."""
    first = db.session.get(Alert, alert_id)
    if first is None or first.tenant_id != tenant_id:
        raise AlertError("no_alert")
    rows = db.session.execute(
        select(AlertRecipient.phone, AlertRecipient.name, AlertRecipient.address)
        .where(
            AlertRecipient.alert_id == first.id,
            AlertRecipient.state.in_(
                (RecipientState.SENT, RecipientState.DELIVERED, RecipientState.UNDELIVERED)
            ),
        )
        .order_by(AlertRecipient.id)
    ).all()
    entries = [{"phone": p, "name": n, "address": a} for p, n, a in rows]
    return Source(first.title, *rcp.dedupe(entries)[:1])


def opted_out(tenant_id: int, phones: list[str]) -> set[str]:
    out: set[str] = set()
    for i in range(0, len(phones), CHUNK):
        out.update(
            db.session.scalars(
                select(ContactIdentity.value).where(
                    ContactIdentity.tenant_id == tenant_id,
                    ContactIdentity.kind == IdentityKind.PHONE,
                    ContactIdentity.value.in_(phones[i : i + CHUNK]),
                    ContactIdentity.opted_out_at.is_not(None),
                )
            )
        )
    return out


# --- the alert ------------------------------------------------------------------------------


def create(
    tenant_id: int,
    author: User,
    *,
    title: str,
    body: str,
    account_id: int,
    sender: str,
    team_id: int | None,
    source: Source,
    follows_id: int | None = None,
) -> Alert:
    """A draft alert with its recipients (opted-out numbers left out and counted)."""
    title, body = title.strip(), body.replace("\r\n", "\n").strip()
    if not title or len(title) > 200:
        raise AlertError("title")
    if not body:
        raise AlertError("body")
    if len(body) > MAX_BODY_CHARS:
        raise AlertError("too_long")
    account = db.session.get(ChannelAccount, account_id)
    if account is None or account.tenant_id != tenant_id or account.kind is not ChannelKind.SMS:
        raise AlertError("number")
    if sender == "service" and not (account.config or {}).get("messaging_service_sid"):
        raise AlertError("service")
    if team_id is not None:
        team = db.session.get(Team, team_id)
        if team is None or team.tenant_id != tenant_id:
            raise AlertError("team")
    blocked = opted_out(tenant_id, [e["phone"] for e in source.entries])
    entries = [e for e in source.entries if e["phone"] not in blocked]
    if not entries:
        raise AlertError("no_recipients")
    if len(entries) > int(current_app.config["ALERT_MAX_RECIPIENTS"]):
        raise AlertError("too_many")
    info = limits(body)
    alert = Alert(
        tenant_id=tenant_id,
        channel_account_id=account.id,
        team_id=team_id,
        author_id=author.id,
        follows_id=follows_id,
        title=title,
        body=body,
        sender="service" if sender == "service" else "number",
        encoding=info.encoding,
        segments=info.segments,
        recipient_count=len(entries),
        opted_out_count=len(source.entries) - len(entries),
        rejected=source.rejected[:2000],
        source=source.label[:200],
    )
    db.session.add(alert)
    db.session.flush()
    rows = [
        {
            "tenant_id": tenant_id,
            "alert_id": alert.id,
            "phone": e["phone"],
            "name": (e.get("name") or None) and str(e["name"])[:200],
            "address": (e.get("address") or None) and str(e["address"])[:300],
            "state": RecipientState.QUEUED.value,
            "attempts": 0,
        }
        for e in entries
    ]
    for i in range(0, len(rows), CHUNK):
        db.session.execute(insert(AlertRecipient), rows[i : i + CHUNK])
    audit.record("alerts.create", alert, tenant_id=tenant_id, actor=author, recipients=len(rows))
    return alert


def confirm(alert: Alert, user: User) -> None:
    """Send it: by its author when the list is small, else only by a second person."""
    if alert.state not in (AlertState.DRAFT, AlertState.AWAITING_APPROVAL):
        raise AlertError("state")
    if needs_second_person(alert) and alert.author_id == user.id:
        alert.state = AlertState.AWAITING_APPROVAL
        audit.record("alerts.request_approval", alert, tenant_id=alert.tenant_id, actor=user)
        return
    alert.approved_by_id, alert.approved_at = user.id, utcnow()
    alert.state, alert.started_at = AlertState.SENDING, utcnow()
    audit.record("alerts.send", alert, tenant_id=alert.tenant_id, actor=user)
    enqueue(BATCH_TASK, alert.id)


def cancel(alert: Alert, user: User) -> None:
    if alert.state not in (AlertState.DRAFT, AlertState.AWAITING_APPROVAL):
        raise AlertError("state")
    alert.state = AlertState.CANCELLED
    audit.record("alerts.cancel", alert, tenant_id=alert.tenant_id, actor=user)


def progress(alert: Alert) -> dict[str, int]:
    rows = db.session.execute(
        select(AlertRecipient.state, func.count())
        .where(AlertRecipient.alert_id == alert.id)
        .group_by(AlertRecipient.state)
    ).all()
    counts = {s.value: 0 for s in RecipientState}
    for state, n in rows:
        counts[RecipientState(state).value] = n
    counts["total"] = sum(n for _, n in rows)
    counts["queued"] += counts.pop("sending")
    return counts


def failures(alert: Alert, limit: int = 200) -> list[AlertRecipient]:
    return list(
        db.session.scalars(
            select(AlertRecipient)
            .where(
                AlertRecipient.alert_id == alert.id,
                AlertRecipient.state.in_((RecipientState.FAILED, RecipientState.UNDELIVERED)),
            )
            .order_by(AlertRecipient.id)
            .limit(limit)
        )
    )


def replies(alert: Alert) -> list[Conversation]:
    return list(
        db.session.scalars(
            select(Conversation)
            .where(
                Conversation.tenant_id == alert.tenant_id,
                Conversation.thread_key.like(f"alert:{alert.id}:%"),
            )
            .order_by(Conversation.last_activity_at.desc())
            .limit(500)
        )
    )


def save_list(tenant_id: int, name: str, source: Source) -> RecipientList:
    name = name.strip()
    if not name or len(name) > 120:
        raise AlertError("list_name")
    existing = db.session.scalar(
        select(RecipientList).where(
            RecipientList.tenant_id == tenant_id, RecipientList.name == name
        )
    )
    entries = [
        {"phone": e["phone"], "name": e.get("name"), "address": e.get("address")}
        for e in source.entries
    ]
    if existing is not None:
        existing.entries = entries
        return existing
    saved = RecipientList(tenant_id=tenant_id, name=name, entries=entries)
    db.session.add(saved)
    return saved
