"""One citizen, many channels: suggest that two contacts are the same person; merge on confirm.

Certain matches (same normalised phone number or e-mail address) and likely matches (same
normalised full name within the municipality) both become `ContactMatchSuggestion` rows: nothing
is merged silently. Confirming merges the newer contact into the older one and records exactly
what moved, so `undo()` can put everything back. A rejected (or undone) pair is never suggested
again. Self-contained on purpose; a general merge service may replace `_merge`/`_unmerge`.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import or_, select, union
from sqlalchemy.exc import IntegrityError

from inbox.db import enqueue
from inbox.extensions import db
from inbox.models import (
    Contact,
    ContactIdentity,
    ContactMatchSuggestion,
    Conversation,
    IdentityKind,
    MatchReason,
    MatchStatus,
    Message,
    User,
)
from inbox.models.base import utcnow
from inbox.normalise import normalise_email, normalise_name, normalise_phone
from inbox.services import audit, merging

__all__ = ["normalise_email", "normalise_name", "normalise_phone"]

TASK = "servicetorg.default.match_contacts"


class MatchError(ValueError):
    """The suggestion cannot be decided that way (already decided, contact already merged)."""


def has_match_keys(contact: Contact) -> bool:
    """Whether there is anything to match on (an anonymous chat visitor has nothing)."""
    phones, emails = _keys(contact)
    return bool(phones or emails or normalise_name(contact.name))


def queue_matching(contact_id: int) -> None:
    """Compute suggestions for this contact after the current transaction commits."""
    queued = db.session.info.setdefault("servicetorg.matching_queued", set())
    if contact_id not in queued:  # once per session is enough (a poll stores many comments)
        queued.add(contact_id)
        enqueue(TASK, contact_id)


def _keys(contact: Contact) -> tuple[set[str], set[str]]:
    phones = {normalise_phone(contact.phone)}
    emails = {normalise_email(contact.email)}
    for ident in contact.identities:
        if ident.kind is IdentityKind.PHONE:
            phones.add(normalise_phone(ident.value))
        elif ident.kind is IdentityKind.EMAIL:
            emails.add(normalise_email(ident.value))
    return {p for p in phones if p}, {e for e in emails if e}


def _live(tenant_id: int) -> select:  # type: ignore[valid-type]
    return select(Contact).where(Contact.tenant_id == tenant_id, Contact.merged_into_id.is_(None))


def _known_by(contact: Contact, kind: IdentityKind, values: set[str]) -> list[Contact]:
    """Live contacts of the tenant with one of these normalised phone numbers (or e-mail
    addresses), on the contact itself or on one of its identities: index lookups on
    (tenant_id, phone_norm / email_norm / value_norm), never a scan of the tenant."""
    column = Contact.phone_norm if kind is IdentityKind.PHONE else Contact.email_norm
    ids = union(
        select(Contact.id).where(Contact.tenant_id == contact.tenant_id, column.in_(values)),
        select(ContactIdentity.contact_id).where(
            ContactIdentity.tenant_id == contact.tenant_id,
            ContactIdentity.value_norm.in_(values),
            ContactIdentity.kind == kind,
        ),
    )
    return list(db.session.scalars(_live(contact.tenant_id).where(Contact.id.in_(ids))))


def _candidates(contact: Contact) -> Iterable[tuple[Contact, MatchReason, str]]:
    phones, emails = _keys(contact)
    if phones:
        for other in _known_by(contact, IdentityKind.PHONE, phones):
            yield other, MatchReason.CERTAIN, "phone"
    if emails:
        for other in _known_by(contact, IdentityKind.EMAIL, emails):
            yield other, MatchReason.CERTAIN, "email"
    name = normalise_name(contact.name)
    if name:
        for other in db.session.scalars(_live(contact.tenant_id).where(Contact.name_norm == name)):
            yield other, MatchReason.LIKELY, "name"


def suggest_for_contact(contact_id: int) -> list[ContactMatchSuggestion]:
    """Create pending suggestions pairing this contact with others of its tenant. Flushes."""
    contact = db.session.get(Contact, contact_id)
    if contact is None or contact.merged_into_id is not None:
        return []
    created: list[ContactMatchSuggestion] = []
    seen: set[int] = set()
    for other, reason, matched_on in _candidates(contact):
        if other.id == contact.id or other.id in seen:
            continue
        seen.add(other.id)  # certain matches come first and win over likely ones
        a, b = sorted((contact.id, other.id))
        exists = db.session.scalar(
            select(ContactMatchSuggestion.id).where(
                ContactMatchSuggestion.contact_a_id == a, ContactMatchSuggestion.contact_b_id == b
            )
        )
        if exists is not None:
            continue  # pending, confirmed, rejected or undone: never a second row
        row = ContactMatchSuggestion(
            tenant_id=contact.tenant_id,
            contact_a_id=a,
            contact_b_id=b,
            reason=reason,
            matched_on=matched_on,
            status=MatchStatus.PENDING,
            merge_record={},
        )
        try:
            with db.session.begin_nested():
                db.session.add(row)
                db.session.flush()
        except IntegrityError:
            continue  # a concurrent task suggested the same pair
        created.append(row)
    return created


def pending_for_contacts(
    tenant_id: int, contact_ids: Iterable[int]
) -> list[ContactMatchSuggestion]:
    ids = list(set(contact_ids))
    if not ids:
        return []
    rows = db.session.scalars(
        select(ContactMatchSuggestion)
        .where(
            ContactMatchSuggestion.tenant_id == tenant_id,
            ContactMatchSuggestion.status == MatchStatus.PENDING,
            or_(
                ContactMatchSuggestion.contact_a_id.in_(ids),
                ContactMatchSuggestion.contact_b_id.in_(ids),
            ),
        )
        .order_by(ContactMatchSuggestion.reason, ContactMatchSuggestion.id)
    ).all()
    return [
        r
        for r in rows
        if not (_contact(r.contact_a_id).merged_into_id or _contact(r.contact_b_id).merged_into_id)
    ]


def for_conversation(conv: Conversation) -> list[tuple[ContactMatchSuggestion, Contact, Contact]]:
    """Pending suggestions for everyone who wrote in this conversation: (row, a, b)."""
    ids = set(
        db.session.scalars(
            select(Message.contact_id).where(
                Message.conversation_id == conv.id, Message.contact_id.is_not(None)
            )
        )
    )
    ids.add(conv.contact_id)
    return [
        (r, _contact(r.contact_a_id), _contact(r.contact_b_id))
        for r in pending_for_contacts(conv.tenant_id, ids)
    ]


def _contact(contact_id: int) -> Contact:
    c = db.session.get(Contact, contact_id)
    assert c is not None
    return c


def _decide(row: ContactMatchSuggestion, user: User, status: MatchStatus) -> None:
    row.status = status
    row.decided_by_id = user.id
    row.decided_at = utcnow()


def reject(row: ContactMatchSuggestion, user: User) -> None:
    if row.status is not MatchStatus.PENDING:
        raise MatchError("not_pending")
    _decide(row, user, MatchStatus.REJECTED)
    audit.record("contact_match_rejected", row, tenant_id=row.tenant_id, actor=user)


def confirm(row: ContactMatchSuggestion, user: User) -> Contact:
    """Merge the newer contact into the older; returns the surviving contact. Flushes."""
    if row.status is not MatchStatus.PENDING:
        raise MatchError("not_pending")
    survivor, merged = _contact(row.contact_a_id), _contact(row.contact_b_id)
    if survivor.merged_into_id or merged.merged_into_id:
        raise MatchError("already_merged")
    # The same merge (and undo) as a caseworker's manual one: inbox/services/merging.py.
    try:
        merging.merge_contacts(merged, survivor, user)
    except merging.MergeError as exc:
        raise MatchError(str(exc)) from exc
    row.merge_record = {"survivor_id": survivor.id, "merged_id": merged.id}
    _decide(row, user, MatchStatus.CONFIRMED)
    audit.record(
        "contact_merged",
        row,
        tenant_id=row.tenant_id,
        actor=user,
        survivor_id=survivor.id,
        merged_id=merged.id,
    )
    db.session.flush()
    return survivor


def undo(row: ContactMatchSuggestion, user: User) -> None:
    """Put back what `confirm` moved; the pair is not suggested again."""
    if row.status is not MatchStatus.CONFIRMED:
        raise MatchError("not_confirmed")
    merged = _contact(int(row.merge_record["merged_id"]))
    if merged.merged_into_id is not None:
        merging.undo_contact_merge(merged, user)
    _decide(row, user, MatchStatus.UNDONE)
    audit.record("contact_merge_undone", row, tenant_id=row.tenant_id, actor=user)
    db.session.flush()
