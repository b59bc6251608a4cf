"""Removing what is not archive-worthy once its time is up (privacy law: keep no longer than
needed), by each municipality's settings on the admin pages.

Four periods: closed conversations (after closing, by last activity), conversations left open
with no activity, contacts with no conversations left, and attachments' files. Each run either
deletes or anonymises (erasure.py). Nothing on its way to the records system is touched: a
conversation with an item flagged, under review, approved, being journalled or failed stays
whole until records staff are done with it. A preview shows what the next run would remove;
every run is in the audit log with its counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, exists, func, or_, select

from archiving.models import ArchiveItem, ArchiveState
from inbox.extensions import db
from inbox.models import (
    Attachment,
    Contact,
    Conversation,
    ConversationStatus,
    Message,
    Tenant,
)
from inbox.models.base import utcnow
from inbox.services import audit, erasure

# Items still on their way to the records system keep their conversation alive.
PENDING = (
    ArchiveState.FLAGGED,
    ArchiveState.RETURNED,
    ArchiveState.APPROVED,
    ArchiveState.JOURNALLING,
    ArchiveState.FAILED,
)
MODES = ("delete", "anonymise")
CATEGORIES = ("closed", "open", "contacts", "attachments")
MAX_DAYS = 36500


@dataclass
class Settings:
    enabled: bool
    closed_days: int
    open_days: int | None
    contact_days: int | None
    attachment_days: int | None
    mode: str

    @classmethod
    def of(cls, tenant: Tenant) -> Settings:
        return cls(
            enabled=bool(tenant.retention_enabled),
            closed_days=tenant.retention_days,
            open_days=tenant.retention_open_days,
            contact_days=tenant.retention_contact_days,
            attachment_days=tenant.retention_attachment_days,
            mode=tenant.retention_mode or "delete",
        )

    def store(self, tenant: Tenant) -> None:
        tenant.retention_enabled = self.enabled
        tenant.retention_days = self.closed_days
        tenant.retention_open_days = self.open_days
        tenant.retention_contact_days = self.contact_days
        tenant.retention_attachment_days = self.attachment_days
        tenant.retention_mode = self.mode


class InvalidSettings(ValueError):
    """str(exc) names the field."""


def parse(form: Any) -> Settings:
    """Settings from the admin form; empty optional periods mean "never"."""

    def days(name: str, required: bool = False) -> int | None:
        raw = (form.get(name) or "").strip()
        if not raw and not required:
            return None
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_DAYS:
            raise InvalidSettings(name)
        return int(raw)

    mode = form.get("mode", "delete")
    if mode not in MODES:
        raise InvalidSettings("mode")
    closed = days("closed_days", required=True)
    assert closed is not None
    return Settings(
        enabled=form.get("enabled") == "on",
        closed_days=closed,
        open_days=days("open_days"),
        contact_days=days("contact_days"),
        attachment_days=days("attachment_days"),
        mode=mode,
    )


def _not_pending(conv_id: Any) -> Any:
    return ~exists().where(ArchiveItem.conversation_id == conv_id, ArchiveItem.state.in_(PENDING))


def _conversations(tenant_id: int, closed: bool, days: int, now: datetime) -> Select[Any]:
    status = (
        Conversation.status == ConversationStatus.CLOSED
        if closed
        else Conversation.status != ConversationStatus.CLOSED
    )
    return select(Conversation.id).where(
        Conversation.tenant_id == tenant_id,
        status,
        Conversation.last_activity_at < now - timedelta(days=days),
        Conversation.anonymised_at.is_(None),
        _not_pending(Conversation.id),
    )


def _contacts(tenant_id: int, days: int, mode: str, now: datetime) -> Select[Any]:
    cutoff = now - timedelta(days=days)
    if mode == "delete":
        left = or_(
            exists().where(Conversation.contact_id == Contact.id),
            exists().where(Message.contact_id == Contact.id),
        )
    else:  # only anonymised conversations left, none of them recent
        left = exists().where(
            Conversation.contact_id == Contact.id,
            or_(Conversation.anonymised_at.is_(None), Conversation.last_activity_at >= cutoff),
        )
    return select(Contact.id).where(
        Contact.tenant_id == tenant_id,
        Contact.created_at < cutoff,
        Contact.anonymised_at.is_(None),
        ~left,
    )


def _attachments(tenant_id: int, days: int, now: datetime) -> Select[Any]:
    return (
        select(Attachment.id)
        .join(Message, Message.id == Attachment.message_id)
        .where(
            Attachment.tenant_id == tenant_id,
            Attachment.created_at < now - timedelta(days=days),
            Attachment.filename != erasure.ANONYMISED_FILENAME,
            or_(Attachment.size > 0, Attachment.provider_url.is_not(None)),
            _not_pending(Message.conversation_id),
        )
    )


def _queries(tenant: Tenant, s: Settings, now: datetime) -> dict[str, Select[Any]]:
    queries = {"closed": _conversations(tenant.id, True, s.closed_days, now)}
    if s.open_days:
        queries["open"] = _conversations(tenant.id, False, s.open_days, now)
    if s.contact_days:
        queries["contacts"] = _contacts(tenant.id, s.contact_days, s.mode, now)
    if s.attachment_days:
        queries["attachments"] = _attachments(tenant.id, s.attachment_days, now)
    return queries


@dataclass
class Example:
    id: int
    label: str
    when: datetime | None


@dataclass
class Preview:
    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[Example]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def preview(tenant: Tenant, s: Settings, examples: int = 5) -> Preview:
    """What a run with these settings would remove now: counts, and a few of each."""
    now = utcnow()
    out = Preview()
    for name, query in _queries(tenant, s, now).items():
        ids = query.subquery()
        out.counts[name] = db.session.scalar(select(func.count()).select_from(ids)) or 0
        out.examples[name] = _examples(name, query.limit(examples))
    return out


def _examples(name: str, query: Select[Any]) -> list[Example]:
    ids = list(db.session.scalars(query))
    if name in ("closed", "open"):
        convs = db.session.scalars(select(Conversation).where(Conversation.id.in_(ids)))
        return [Example(c.id, _conversation_label(c), c.last_activity_at) for c in convs]
    if name == "contacts":
        contacts = db.session.scalars(select(Contact).where(Contact.id.in_(ids)))
        return [Example(c.id, c.display_name, c.created_at) for c in contacts]
    rows = db.session.execute(
        select(Attachment.id, Attachment.filename, Attachment.created_at).where(
            Attachment.id.in_(ids)
        )
    )
    return [Example(i, f, at) for i, f, at in rows]


def _conversation_label(conv: Conversation) -> str:
    return f"{conv.contact.display_name} · {conv.channel_account.name}"


def run_tenant(tenant: Tenant, batch: int = 500, now: datetime | None = None) -> dict[str, int]:
    """One run for one municipality: remove up to `batch` of each kind, and log the counts."""
    s = Settings.of(tenant)
    now = now or utcnow()
    counts = dict.fromkeys(CATEGORIES, 0)
    anonymise = s.mode == "anonymise"
    for name, query in _queries(tenant, s, now).items():
        ids = list(db.session.scalars(query.limit(batch)))
        counts[name] = len(ids)
        if name in ("closed", "open"):
            (erasure.anonymise_conversations if anonymise else erasure.delete_conversations)(ids)
        elif name == "contacts":
            (erasure.anonymise_contacts if anonymise else erasure.delete_contacts)(ids)
        else:
            erasure.remove_attachment_files(ids, keep_rows=anonymise)
        db.session.flush()
    audit.record(
        "retention.run", tenant, tenant_id=tenant.id, actor_label="worker", mode=s.mode, **counts
    )
    return counts


def apply(batch: int = 500) -> int:
    """The beat job: a run for every municipality that has retention switched on. Returns
    how many conversations, contacts and attachments went."""
    removed = 0
    tenants = db.session.scalars(
        select(Tenant).where(Tenant.retention_enabled.is_(True)).order_by(Tenant.id)
    ).all()
    for tenant in tenants:
        removed += sum(run_tenant(tenant, batch).values())
    return removed
