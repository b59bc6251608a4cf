"""Merging two conversations, merging two contacts (one citizen, several channels) and undo."""

from __future__ import annotations

from sqlalchemy import select, update

from inbox.extensions import db
from inbox.models import (
    AuditEntry,
    Contact,
    ContactIdentity,
    Conversation,
    ConversationStatus,
    Message,
    User,
)
from inbox.models.base import utcnow
from inbox.services import audit
from inbox.services.access import can_see

# What a merge fills in on the surviving contact when it has none of its own.
COPIED_FIELDS = ("name", "email", "phone")


class MergeError(ValueError):
    """The merge is not possible; str(exc) is a short code the view turns into a message."""


def merge_conversations(source: Conversation, target: Conversation, actor: User) -> None:
    """Move every message of `source` into `target`; `source` is closed and points at it."""
    if source.id == target.id:
        raise MergeError("same")
    if source.tenant_id != target.tenant_id:
        raise MergeError("other_tenant")
    if source.merged_into_id is not None or target.merged_into_id is not None:
        raise MergeError("already_merged")
    db.session.flush()
    moved = db.session.execute(
        update(Message)
        .where(Message.conversation_id == source.id)
        .values(conversation_id=target.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    target.last_activity_at = max(target.last_activity_at, source.last_activity_at)
    target.has_unread = target.has_unread or source.has_unread
    waits = [w for w in (target.waiting_since, source.waiting_since) if w is not None]
    target.waiting_since = min(waits) if waits else None
    if (
        target.status is ConversationStatus.CLOSED
        and source.status is not ConversationStatus.CLOSED
    ):
        target.status, target.closed_at = ConversationStatus.OPEN, None
    source.merged_into_id = target.id
    source.status = ConversationStatus.CLOSED
    source.closed_at = utcnow()
    source.has_unread = False
    source.waiting_since = None
    db.session.flush()
    db.session.expire_all()
    audit.record(
        "conversation.merge",
        source,
        tenant_id=source.tenant_id,
        actor=actor,
        into=target.id,
        messages=moved,
    )


def find_contact(tenant_id: int, ref: str) -> Contact | None:
    """A contact of the tenant by number ("#12" or "12") or by one of its identities."""
    ref = (ref or "").strip()
    if not ref or len(ref) > 254:
        return None
    if ref.lstrip("#").isdigit():
        contact = db.session.get(Contact, int(ref.lstrip("#")))
        if contact is not None and contact.tenant_id == tenant_id:
            return contact
    ident = db.session.scalar(
        select(ContactIdentity)
        .where(ContactIdentity.tenant_id == tenant_id, ContactIdentity.value == ref)
        .limit(1)
    )
    return db.session.get(Contact, ident.contact_id) if ident is not None else None


def _sees_all_conversations(actor: User, contact: Contact) -> bool:
    convs = db.session.scalars(select(Conversation).where(Conversation.contact_id == contact.id))
    return all(can_see(actor, conv) for conv in convs)


def merge_contacts(source: Contact, target: Contact, actor: User) -> None:
    """`source` becomes part of `target`: its identities and conversations move over.

    What moved is remembered (ContactIdentity.previous_contact_id and the audit entry, which
    also lists the name, e-mail or phone copied onto `target` where it had none), so
    undo_contact_merge() can put it back.
    """
    if source.id == target.id:
        raise MergeError("same")
    if source.tenant_id != target.tenant_id:
        raise MergeError("other_tenant")
    if source.merged_into_id is not None or target.merged_into_id is not None:
        raise MergeError("already_merged")
    if not _sees_all_conversations(actor, source):
        # Merging would move another team's conversation onto a contact card the actor can
        # open, and show them its citizen's details.
        raise MergeError("no_access")
    idents = list(
        db.session.scalars(select(ContactIdentity).where(ContactIdentity.contact_id == source.id))
    )
    for ident in idents:
        ident.previous_contact_id = source.id
        ident.contact_id = target.id
    conv_ids = list(
        db.session.scalars(select(Conversation.id).where(Conversation.contact_id == source.id))
    )
    _move(conv_ids, source.id, target.id)
    source.merged_into_id = target.id
    copied = {}
    for field in COPIED_FIELDS:
        if not getattr(target, field) and getattr(source, field):
            copied[field] = getattr(source, field)
            setattr(target, field, copied[field])
    audit.record(
        "contact.merge",
        source,
        tenant_id=source.tenant_id,
        actor=actor,
        into=target.id,
        identities=[i.id for i in idents],
        conversations=conv_ids,
        copied=copied,
    )
    db.session.flush()
    db.session.expire(target, ["identities"])


def undo_contact_merge(source: Contact, actor: User) -> Contact:
    """Split `source` out of the contact it was merged into again. Returns that contact."""
    if source.merged_into_id is None:
        raise MergeError("not_merged")
    target = db.session.get(Contact, source.merged_into_id)
    assert target is not None
    entry = db.session.scalar(
        select(AuditEntry)
        .where(
            AuditEntry.action == "contact.merge",
            AuditEntry.object_type == "Contact",
            AuditEntry.object_id == str(source.id),
        )
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )
    data = (entry.data or {}) if entry is not None else {}
    conv_ids = list(data.get("conversations", []))
    idents = list(
        db.session.scalars(
            select(ContactIdentity).where(
                ContactIdentity.contact_id == target.id,
                ContactIdentity.previous_contact_id == source.id,
            )
        )
    )
    for ident in idents:
        ident.contact_id = source.id
        ident.previous_contact_id = None
    # Only conversations still on the merged contact go back (a later merge may have moved them).
    still = list(
        db.session.scalars(
            select(Conversation.id).where(
                Conversation.id.in_(conv_ids), Conversation.contact_id == target.id
            )
        )
    )
    _move(still, target.id, source.id)
    source.merged_into_id = None
    taken_back = _take_back_copied(target, data.get("copied") or {})
    audit.record(
        "contact.unmerge",
        source,
        tenant_id=source.tenant_id,
        actor=actor,
        out_of=target.id,
        identities=[i.id for i in idents],
        conversations=still,
        taken_back=taken_back,
    )
    db.session.flush()
    db.session.expire(target, ["identities"])
    db.session.expire(source, ["identities"])
    return target


def _take_back_copied(target: Contact, copied: dict[str, str]) -> list[str]:
    """Clear what the merge copied onto `target`, unless someone has changed it since (then it
    is the contact's own now). The split-off contact kept its values all along."""
    taken = [
        field
        for field, value in copied.items()
        if field in COPIED_FIELDS and getattr(target, field) == value
    ]
    for field in taken:
        setattr(target, field, None)
    return taken


def _move(conv_ids: list[int], old: int, new: int) -> None:
    if not conv_ids:
        return
    db.session.flush()
    db.session.execute(
        update(Conversation)
        .where(Conversation.id.in_(conv_ids))
        .values(contact_id=new)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(Message)
        .where(Message.conversation_id.in_(conv_ids), Message.contact_id == old)
        .values(contact_id=new)
        .execution_options(synchronize_session=False)
    )
    db.session.expire_all()
