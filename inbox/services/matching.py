"""One citizen, many channels: suggest that two contacts are the same person; merge on confirm.

Certain matches (same normalised phone number or e-mail address) and likely matches (same
normalised full name within the municipality) both become `ContactMatchSuggestion` rows: nothing
is merged silently. Confirming merges the newer contact into the older one and records exactly
what moved, so `undo()` can put everything back. A rejected (or undone) pair is never suggested
again. Self-contained on purpose; a general merge service may replace `_merge`/`_unmerge`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import or_, select, tuple_, union
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import selectinload

from inbox.db import collect
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
    """Compute suggestions for this contact after the current transaction commits. One task
    for all the contacts of a transaction: a batch of a storm's new citizens is one task and
    a few queries, not a task and a handful of queries per citizen."""
    ids = collect(TASK)
    if contact_id not in ids:
        ids.append(contact_id)


def _keys(contact: Contact) -> tuple[set[str], set[str]]:
    phones = {normalise_phone(contact.phone)}
    emails = {normalise_email(contact.email)}
    for ident in contact.identities:
        if ident.kind is IdentityKind.PHONE:
            phones.add(normalise_phone(ident.value))
        elif ident.kind is IdentityKind.EMAIL:
            emails.add(normalise_email(ident.value))
    return {p for p in phones if p}, {e for e in emails if e}


def suggest_for_contact(contact_id: int) -> list[ContactMatchSuggestion]:
    """Create pending suggestions pairing this contact with others of its tenant. Flushes."""
    return suggest_for_contacts([contact_id])


def suggest_for_contacts(contact_ids: Iterable[int]) -> list[ContactMatchSuggestion]:
    """Create pending suggestions pairing each of these contacts with others of its tenant,
    set-based: the contacts, the candidates by phone, e-mail and name, and the pairs already
    decided are read in one query each, whatever the number of contacts. A pair suggested
    before (pending, confirmed, rejected or undone) is never suggested again; a pair that a
    concurrent task inserted first is left to it. Flushes."""
    wanted = sorted(set(contact_ids))
    if not wanted:
        return []
    contacts = list(
        db.session.scalars(
            select(Contact)
            .where(Contact.id.in_(wanted), Contact.merged_into_id.is_(None))
            .options(selectinload(Contact.identities))
            .order_by(Contact.id)
        )
    )
    keys = {c.id: (*_keys(c), normalise_name(c.name)) for c in contacts}
    phones = _holders(contacts, keys, IdentityKind.PHONE, 0)
    emails = _holders(contacts, keys, IdentityKind.EMAIL, 1)
    names = _named(contacts, keys)
    proposed: dict[tuple[int, int], tuple[int, MatchReason, str]] = {}
    for contact in contacts:
        key = keys[contact.id]
        seen: set[int] = {contact.id}
        # Certain matches come first and win over likely ones.
        for found, reason, matched_on, values in (
            (phones, MatchReason.CERTAIN, "phone", key[0]),
            (emails, MatchReason.CERTAIN, "email", key[1]),
            (names, MatchReason.LIKELY, "name", {key[2]} if key[2] else set()),
        ):
            others = sorted(
                {o for v in values for o in found.get((contact.tenant_id, v), ())} - seen
            )
            for other in others:
                seen.add(other)
                pair = (min(contact.id, other), max(contact.id, other))
                proposed.setdefault(pair, (contact.tenant_id, reason, matched_on))
    if not proposed:
        return []
    t = ContactMatchSuggestion.__table__
    decided = {
        (r.contact_a_id, r.contact_b_id)
        for part in _parts(list(proposed))
        for r in db.session.execute(
            select(t.c.contact_a_id, t.c.contact_b_id).where(
                tuple_(t.c.contact_a_id, t.c.contact_b_id).in_(part)
            )
        )
    }
    rows = [
        {
            "tenant_id": tenant_id,
            "contact_a_id": a,
            "contact_b_id": b,
            "reason": reason,
            "matched_on": matched_on,
            "status": MatchStatus.PENDING,
            "merge_record": {},
        }
        for (a, b), (tenant_id, reason, matched_on) in proposed.items()
        if (a, b) not in decided
    ]
    if not rows:
        return []
    insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(t).on_conflict_do_nothing(index_elements=["contact_a_id", "contact_b_id"])
    db.session.flush()
    new_ids = [r.id for r in db.session.execute(stmt.returning(t.c.id), rows)]
    if not new_ids:
        return []
    return list(
        db.session.scalars(
            select(ContactMatchSuggestion)
            .where(ContactMatchSuggestion.id.in_(new_ids))
            .order_by(ContactMatchSuggestion.id)
        )
    )


def _parts(items: list[Any], size: int = 500) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _holders(
    contacts: list[Contact], keys: dict[int, tuple[Any, ...]], kind: IdentityKind, at: int
) -> dict[tuple[int, str], set[int]]:
    """Live contacts known by one of these normalised phone numbers (or e-mail addresses),
    on the contact itself or on one of its identities, by (tenant, value): index lookups on
    (tenant_id, phone_norm / email_norm / value_norm), never a scan of the tenant."""
    wanted = {(c.tenant_id, v) for c in contacts for v in keys[c.id][at]}
    if not wanted:
        return {}
    tenants = {t for t, _ in wanted}
    values = {v for _, v in wanted}
    column = Contact.phone_norm if kind is IdentityKind.PHONE else Contact.email_norm
    found: dict[tuple[int, str], set[int]] = {}
    for part in _parts(sorted(values)):
        on_contact = select(Contact.id, Contact.tenant_id, column.label("v")).where(
            Contact.tenant_id.in_(tenants), column.in_(part), Contact.merged_into_id.is_(None)
        )
        on_identity = (
            select(Contact.id, Contact.tenant_id, ContactIdentity.value_norm.label("v"))
            .join(ContactIdentity, ContactIdentity.contact_id == Contact.id)
            .where(
                ContactIdentity.tenant_id.in_(tenants),
                ContactIdentity.kind == kind,
                ContactIdentity.value_norm.in_(part),
                Contact.merged_into_id.is_(None),
            )
        )
        for r in db.session.execute(union(on_contact, on_identity)):
            if (r.tenant_id, r.v) in wanted:
                found.setdefault((r.tenant_id, r.v), set()).add(r.id)
    return found


def _named(
    contacts: list[Contact], keys: dict[int, tuple[Any, ...]]
) -> dict[tuple[int, str], set[int]]:
    """Live contacts by (tenant, normalised full name), for the names of these contacts."""
    wanted = {(c.tenant_id, keys[c.id][2]) for c in contacts if keys[c.id][2]}
    if not wanted:
        return {}
    tenants = {t for t, _ in wanted}
    found: dict[tuple[int, str], set[int]] = {}
    for part in _parts(sorted({n for _, n in wanted})):
        rows = db.session.execute(
            select(Contact.id, Contact.tenant_id, Contact.name_norm).where(
                Contact.tenant_id.in_(tenants),
                Contact.name_norm.in_(part),
                Contact.merged_into_id.is_(None),
            )
        )
        for r in rows:
            if (r.tenant_id, r.name_norm) in wanted:
                found.setdefault((r.tenant_id, r.name_norm), set()).add(r.id)
    return found


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
