"""A citizen's rights of access and erasure (GDPR articles 15 and 17) for one contact.

Export: everything held about the contact (and contacts merged into it): identities, every
conversation with every message, earlier versions, attachments (described, with checksums),
and what went to the records system. Erasure: the contact, their messages and attachments,
except what has been journalled (it belongs to the archive, where the archive law's rules
apply) and what is still on its way there (records staff decide first); the answer lists both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select

from archiving.models import ArchiveItem, ArchiveState
from inbox.extensions import db
from inbox.models import (
    Attachment,
    Contact,
    ContactIdentity,
    Conversation,
    IdentityKind,
    Message,
    User,
)
from inbox.services import audit, erasure
from inbox.services.retention import PENDING


def render_pdf(data: dict[str, Any], contact: Contact) -> bytes:
    """The export as a readable PDF, in the interface's language."""
    from flask import render_template
    from weasyprint import HTML

    html = render_template("privacy/export_pdf.html", data=data, contact=contact)
    return HTML(string=html).write_pdf()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def contact_group(contact: Contact) -> list[int]:
    """The contact and the contacts merged into it (the same citizen)."""
    ids, frontier = [contact.id], [contact.id]
    while frontier:
        frontier = list(
            db.session.scalars(select(Contact.id).where(Contact.merged_into_id.in_(frontier)))
        )
        ids.extend(i for i in frontier if i not in ids)
    return ids


def _conversations(ids: list[int]) -> list[Conversation]:
    return list(
        db.session.scalars(
            select(Conversation).where(Conversation.contact_id.in_(ids)).order_by(Conversation.id)
        )
    )


def export(contact: Contact) -> dict[str, Any]:
    """Everything held about the contact, as plain data (the JSON answer; the PDF shows it)."""
    group = contact_group(contact)
    contacts = db.session.scalars(select(Contact).where(Contact.id.in_(group)).order_by(Contact.id))
    return {
        "contact_id": contact.id,
        "contacts": [
            {
                "id": c.id,
                "name": c.name,
                "email": c.email,
                "phone": c.phone,
                "created_at": _iso(c.created_at),
                "identities": [_identity(i) for i in c.identities],
            }
            for c in contacts
        ],
        "conversations": [_conversation(c) for c in _conversations(group)],
    }


def _identity(ident: ContactIdentity) -> dict[str, Any]:
    out = {"kind": ident.kind.value, "value": ident.shown_value, "since": _iso(ident.created_at)}
    if ident.kind is IdentityKind.IDPORTEN_PID:
        # What ID-porten verified, the identity number included: it is the person's own data.
        from channels.webchat import idporten

        out |= idporten.export(ident)
    return out


def _conversation(conv: Conversation) -> dict[str, Any]:
    messages = db.session.scalars(
        select(Message).where(Message.conversation_id == conv.id).order_by(Message.id)
    )
    items = db.session.scalars(select(ArchiveItem).where(ArchiveItem.conversation_id == conv.id))
    return {
        "id": conv.id,
        "channel": conv.channel_account.name,
        "channel_kind": conv.channel_account.kind.value,
        "status": conv.status.value,
        "subject": conv.subject,
        "started_at": _iso(conv.created_at),
        "closed_at": _iso(conv.closed_at),
        "messages": [_message(m) for m in messages],
        "archive": [
            {
                "state": item.state.value,
                "title": item.title,
                "case_number": item.case_number,
                "journal_entries": [r.journalpostnummer or r.system_id for r in item.receipts],
                "message_ids": [m.message_id for m in item.messages],
            }
            for item in items
        ],
    }


def _message(m: Message) -> dict[str, Any]:
    return {
        "id": m.id,
        "from": "citizen" if m.direction.value == "in" else "municipality",
        "internal_note": bool(m.is_note),
        "text": m.body,
        "sent_at": _iso(m.sent_at),
        "edited_at": _iso(m.edited_at),
        "removed_at": _iso(m.removed_at),
        "earlier_versions": [
            {"text": r.body, "replaced_at": _iso(r.replaced_at)} for r in m.revisions
        ],
        "attachments": [
            {
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256,
            }
            for a in m.attachments
        ],
    }


@dataclass
class Kept:
    conversation_id: int
    channel: str
    journalled: bool  # False: still on its way to the records system
    message_ids: list[int]
    case_number: str | None
    journal_entries: list[str]


@dataclass
class ErasureResult:
    contacts: int = 0
    conversations: int = 0
    messages: int = 0
    attachments: int = 0
    kept: list[Kept] = field(default_factory=list)

    def counts(self) -> dict[str, Any]:
        return {
            "contacts": self.contacts,
            "conversations": self.conversations,
            "messages": self.messages,
            "attachments": self.attachments,
            "kept_conversations": [k.conversation_id for k in self.kept],
            "kept_messages": sum(len(k.message_ids) for k in self.kept),
        }


def _kept(conv: Conversation) -> list[Kept]:
    """Archive items of the conversation that keep their messages: journalled or pending."""
    found = []
    for item in db.session.scalars(
        select(ArchiveItem).where(
            ArchiveItem.conversation_id == conv.id,
            ArchiveItem.state.in_((ArchiveState.JOURNALLED, *PENDING)),
        )
    ):
        found.append(
            Kept(
                conv.id,
                conv.channel_account.name,
                item.state is ArchiveState.JOURNALLED,
                [m.message_id for m in item.messages],
                item.case_number or (item.receipts[0].case_number if item.receipts else None),
                [r.journalpostnummer or r.system_id for r in item.receipts],
            )
        )
    return found


def erase(contact: Contact, actor: User) -> ErasureResult:
    """Erase the contact (and contacts merged into it) with their conversations, messages and
    attachments, except archive material. Flushes; the caller commits."""
    group = contact_group(contact)
    result = ErasureResult()
    doomed: list[int] = []
    for conv in _conversations(group):
        kept = _kept(conv)
        if not kept:
            doomed.append(conv.id)
            continue
        result.kept.extend(kept)
        keep_ids = {mid for k in kept for mid in k.message_ids}
        in_conv = db.session.scalars(select(Message.id).where(Message.conversation_id == conv.id))
        gone = [mid for mid in in_conv if mid not in keep_ids]
        result.messages += len(gone)
        result.attachments += _count_attachments(gone)
        erasure.delete_messages(gone)
        conv.subject, conv.meta = None, {}
    conv_messages = list(
        db.session.scalars(select(Message.id).where(Message.conversation_id.in_(doomed)))
    )
    result.messages += len(conv_messages)
    result.attachments += _count_attachments(conv_messages)
    result.conversations = len(doomed)
    erasure.delete_conversations(doomed)
    db.session.flush()
    referenced = {
        cid
        for cid in group
        if db.session.scalar(
            select(
                exists().where(Conversation.contact_id == cid)
                | exists().where(Message.contact_id == cid)
            )
        )
    }
    erasure.anonymise_contacts(sorted(referenced))
    erasure.delete_contacts([cid for cid in group if cid not in referenced])
    result.contacts = len(group)
    audit.record(
        "contact.erase", contact, tenant_id=contact.tenant_id, actor=actor, **result.counts()
    )
    db.session.flush()
    db.session.expire_all()
    return result


def _count_attachments(message_ids: list[int]) -> int:
    if not message_ids:
        return 0
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Attachment)
            .where(Attachment.message_id.in_(message_ids))
        )
        or 0
    )
