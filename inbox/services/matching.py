"""One citizen, many channels: suggest that two contacts are the same person; merge on confirm.

Certain matches (same normalised phone number or e-mail address) and likely matches (same
normalised full name within the municipality) both become `ContactMatchSuggestion` rows: nothing
is merged silently. Confirming merges the newer contact into the older one and records exactly
what moved, so `undo()` can put everything back. A rejected (or undone) pair is never suggested
again. Self-contained on purpose; a general merge service may replace `_merge`/`_unmerge`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from sqlalchemy import func, or_, select
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
from inbox.services import audit, merging

TASK = "servicetorg.default.match_contacts"
_PHONE_JUNK = re.compile(r"[\s().\-/]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class MatchError(ValueError):
    """The suggestion cannot be decided that way (already decided, contact already merged)."""


def normalise_phone(raw: str | None) -> str | None:
    """E.164; bare 8-digit numbers are Norwegian (+47)."""
    s = _PHONE_JUNK.sub("", raw or "")
    if s.startswith("00"):
        s = "+" + s[2:]
    if re.fullmatch(r"\d{8}", s):
        s = "+47" + s
    return s if re.fullmatch(r"\+\d{8,15}", s) else None


def normalise_email(raw: str | None) -> str | None:
    s = (raw or "").strip().lower()
    return s if _EMAIL.match(s) else None


def normalise_name(raw: str | None) -> str | None:
    """Case- and spacing-insensitive full name; a single word is too weak to suggest a match."""
    s = " ".join(unicodedata.normalize("NFKC", raw or "").casefold().split())
    return s if len(s.split(" ")) >= 2 else None


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


def _candidates(contact: Contact) -> Iterable[tuple[Contact, MatchReason, str]]:
    phones, emails = _keys(contact)
    ident_q = select(ContactIdentity.contact_id).where(
        ContactIdentity.tenant_id == contact.tenant_id
    )
    if phones:
        # Stored forms vary ("+47 912 34 567", "91234567"); compare normalised in Python.
        digits = {p[-8:] for p in phones}
        rows = db.session.scalars(
            _live(contact.tenant_id).where(
                or_(
                    *[Contact.phone.like(f"%{d[-4:]}") for d in digits],
                    Contact.id.in_(
                        ident_q.where(
                            ContactIdentity.kind == IdentityKind.PHONE,
                            ContactIdentity.value.in_(phones),
                        )
                    ),
                )
            )
        ).all()
        for other in rows:
            if _keys(other)[0] & phones:
                yield other, MatchReason.CERTAIN, "phone"
    if emails:
        rows = db.session.scalars(
            _live(contact.tenant_id).where(
                or_(
                    func.lower(func.trim(Contact.email)).in_(emails),
                    Contact.id.in_(
                        ident_q.where(
                            ContactIdentity.kind == IdentityKind.EMAIL,
                            func.lower(ContactIdentity.value).in_(emails),
                        )
                    ),
                )
            )
        ).all()
        for other in rows:
            if _keys(other)[1] & emails:
                yield other, MatchReason.CERTAIN, "email"
    name = normalise_name(contact.name)
    if name:
        q = _live(contact.tenant_id).where(Contact.name.is_not(None))
        frag = max(re.findall(r"[a-z]{3,}", name), key=len, default=None)
        if frag:  # narrow in SQL by an ASCII fragment (portable case-insensitive LIKE)
            q = q.where(Contact.name.ilike(f"%{frag}%"))
        rows = db.session.scalars(q).all()
        for other in rows:
            if normalise_name(other.name) == name:
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
