"""Journalling an approved archive item into its tenant's records system, exactly once."""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, or_, select, update

from archiving import noark, render
from archiving.adapters import records_system_for
from archiving.interfaces import (
    JournalRequest,
    Receipt,
    RecordsPending,
    RecordsRejected,
    RecordsUnavailable,
)
from archiving.models import ArchiveItem, ArchiveState, JournalReceipt
from inbox.extensions import db
from inbox.models import Conversation, Message, Tenant, User
from inbox.models.base import utcnow
from inbox.services import audit

log = logging.getLogger(__name__)

# Back-off for a records system that is down: 1, 2, 4 ... minutes, at most an hour apart.
MAX_BACKOFF = timedelta(hours=1)


def backoff(attempts: int) -> timedelta:
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


# A worker holds an item this long; after that the item is assumed abandoned (worker killed)
# and another worker may take it over. Records-system calls time out well before this.
# The default; an installation sets ARCHIVE_LEASE_SECONDS (see lease()).
LEASE = timedelta(minutes=10)


def lease() -> timedelta:
    return timedelta(seconds=float(current_app.config.get("ARCHIVE_LEASE_SECONDS", 600)))


def receipt_poll() -> timedelta:
    return timedelta(seconds=float(current_app.config.get("ARCHIVE_RECEIPT_POLL_SECONDS", 60)))


def claimable(now: datetime) -> ColumnElement[bool]:
    """SQL condition: the items a worker may take now.

    An APPROVED item is free; a JOURNALLING one is free when its lease has run out (its worker
    died) or when it waits for an asynchronous receipt that is due to be looked for.
    """
    return or_(
        ArchiveItem.state == ArchiveState.APPROVED,
        (ArchiveItem.state == ArchiveState.JOURNALLING)
        & or_(
            ArchiveItem.updated_at < now - lease(),
            ArchiveItem.next_attempt_at <= now,
        ),
    )


def claim(item_id: int) -> bool:
    """Take the item for journalling, atomically; False if another worker holds it."""
    now = utcnow()
    result = db.session.execute(
        update(ArchiveItem)
        .where(ArchiveItem.id == item_id, claimable(now))
        .values(
            state=ArchiveState.JOURNALLING,
            attempts=ArchiveItem.attempts + 1,
            next_attempt_at=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def parts(item: ArchiveItem) -> list[tuple[str, list[Message]]]:
    """The journal entries an item becomes: runs of consecutive messages (in thread order)
    with the same journalposttype, e.g. the citizen's question (I), our answer (U)."""
    types = {m.message_id: m.journalposttype for m in item.messages}
    messages = sorted(
        db.session.scalars(select(Message).where(Message.id.in_(types))).all(),
        key=lambda m: (m.sent_at, m.id),
    )
    runs: list[tuple[str, list[Message]]] = []
    for m in messages:
        if runs and runs[-1][0] == types[m.id]:
            runs[-1][1].append(m)
        else:
            runs.append((types[m.id], [m]))
    return runs


def entry_key(item: ArchiveItem, part: int) -> str:
    return f"{item.idempotency_key}:{part}"


def journal_item(item_id: int) -> str:
    """Returns the resulting state. Safe to call again for the same item at any point.

    Every error ends the attempt with the item out of JOURNALLING and the reason on it for
    records staff: one the records system calls transient (or a file-system error) is retried
    with back-off, anything else fails the item until records staff retry it."""
    if not claim(item_id):
        item = db.session.get(ArchiveItem, item_id)
        return "missing" if item is None else f"not claimed ({item.state})"
    item = db.session.get(ArchiveItem, item_id)
    assert item is not None
    db.session.refresh(item)
    try:
        return _journal_claimed(item)
    except OSError as exc:  # e.g. the records folder missing, full or not a folder
        log.exception("journalling item %s failed", item_id)
        return _postpone(item, RecordsUnavailable(f"{type(exc).__name__}: {exc}"))
    except Exception as exc:  # noqa: BLE001 - whatever it was, it must not leave the item stuck
        log.exception("journalling item %s failed", item_id)
        return _fail(item, RecordsRejected(f"{type(exc).__name__}: {exc}"))


def _journal_claimed(item: ArchiveItem) -> str:
    tenant = db.session.get(Tenant, item.tenant_id)
    assert tenant is not None
    try:
        records = records_system_for(tenant)
    except RecordsUnavailable as exc:  # e.g. a secret missing from the environment
        return _postpone(item, exc)
    except (LookupError, RecordsRejected) as exc:  # an unknown adapter: nothing will work
        return _fail(item, exc)
    done = {r.part: r for r in item.receipts}
    case_number = item.case_number
    for part, (journalposttype, messages) in enumerate(parts(item)):
        if part in done:
            case_number = done[part].case_number
            continue
        if part:
            _renew_lease(item)
        try:
            # A worker killed after the records system answered left the entry there: find it.
            receipt = records.find_entry(entry_key(item, part))
            request = None
            if receipt is None:
                request = build_request(item, tenant, part, journalposttype, messages, case_number)
                receipt = records.journal(request)
        except RecordsPending as exc:
            return _await_receipt(item, exc)
        except RecordsUnavailable as exc:
            return _postpone(item, exc)
        except RecordsRejected as exc:
            return _fail(item, exc)
        _store_receipt(item, part, records.name, receipt, request)
        db.session.commit()  # each entry's receipt is kept as soon as it exists
        # An entry that opened a new case: the following entries go into that case.
        case_number = receipt.case_number
    item.move_to(ArchiveState.JOURNALLED)
    item.last_error = None
    item.next_attempt_at = None
    audit.record(
        "archive.journalled",
        item,
        tenant_id=item.tenant_id,
        actor_label="worker",
        entries=[r.journalpostnummer for r in sorted(item.receipts, key=lambda r: r.part)],
        system_ids=[r.system_id for r in sorted(item.receipts, key=lambda r: r.part)],
        records_system=records.name,
        case_number=case_number,
    )
    db.session.commit()
    return "journalled"


def _renew_lease(item: ArchiveItem) -> None:
    """Still working on it: a long item (many entries, a slow records system) keeps its lease."""
    db.session.execute(
        update(ArchiveItem)
        .where(ArchiveItem.id == item.id, ArchiveItem.state == ArchiveState.JOURNALLING)
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _postpone(item: ArchiveItem, exc: Exception) -> str:
    """The records system is down or busy: back off; the sweeper re-queues the item when due.
    Records staff see the error and the next attempt meanwhile."""
    db.session.rollback()
    item.move_to(ArchiveState.APPROVED)
    item.last_error = str(exc)[:2000]
    item.next_attempt_at = utcnow() + backoff(item.attempts)
    audit.record(
        "archive.postponed",
        item,
        tenant_id=item.tenant_id,
        actor_label="worker",
        error=item.last_error,
        next_attempt_at=item.next_attempt_at.isoformat(),
    )
    db.session.commit()
    log.warning("records system unavailable for item %s: %s", item.id, exc)
    return "retry"


def _await_receipt(item: ArchiveItem, exc: RecordsPending) -> str:
    """Handed over to an asynchronous records system: the item stays JOURNALLING, and the
    sweeper lets a worker look for the receipt every ARCHIVE_RECEIPT_POLL_SECONDS."""
    db.session.rollback()
    item.last_error = None
    item.next_attempt_at = utcnow() + receipt_poll()
    if getattr(exc, "delivered_now", False):
        audit.record(
            "archive.delivered",
            item,
            tenant_id=item.tenant_id,
            actor_label="worker",
            detail=str(exc)[:500],
        )
    db.session.commit()
    return "awaiting receipt"


def _fail(item: ArchiveItem, exc: Exception) -> str:
    db.session.rollback()
    item.move_to(ArchiveState.FAILED)
    item.last_error = str(exc)[:2000]
    audit.record(
        "archive.failed",
        item,
        tenant_id=item.tenant_id,
        actor_label="worker",
        error=item.last_error,
    )
    db.session.commit()
    return "failed"


def verified_national_id(item: ArchiveItem) -> str | None:
    """The identity number ID-porten verified for the conversation's citizen, when the entry
    names that person as correspondent (not anonymous, the verified name unchanged)."""
    from channels.webchat import idporten
    from inbox.services.secret_store import SecretUnavailable

    if item.anonymous or not item.correspondent_name:
        return None
    conv = db.session.get(Conversation, item.conversation_id)
    if conv is None:
        return None
    row = idporten.verified(conv.contact)
    if row is None or item.correspondent_name != (row.name or conv.contact.name):
        return None
    try:
        return idporten.identity_number(row)
    except SecretUnavailable:
        return None


def build_request(
    item: ArchiveItem,
    tenant: Tenant,
    part: int,
    journalposttype: str,
    messages: list[Message],
    case_number: str | None,
) -> JournalRequest:
    documents = render.render_documents(item, tenant, messages)
    caseworker = _caseworker(item)
    correspondents = noark.parties(
        journalposttype,
        anonymous=item.anonymous,
        name=item.correspondent_name,
        address=item.correspondent_address,
        caseworker=caseworker,
        unit=tenant.name,
    )
    national_id = verified_national_id(item)
    if national_id:
        correspondents = [
            c if c.internal else dataclasses.replace(c, national_id=national_id)
            for c in correspondents
        ]
    chosen = noark.Screening.of(item.screening_code, item.screening_basis, item.screening_fields)
    screening = chosen.for_entry(journalposttype)
    title = noark.entry_title(item.title, journalposttype)
    case_title = None if case_number else (item.new_case_title or item.title)
    # The citizen's name is hidden wherever it appears, whatever the entry's parties are.
    hidden = [item.correspondent_name] if chosen.names and not item.anonymous else []
    return JournalRequest(
        external_key=entry_key(item, part),
        tenant_slug=tenant.slug,
        case_number=case_number,
        new_case_title=case_title,
        title=title,
        journalposttype=journalposttype,
        document_date=messages[0].sent_at,
        correspondents=correspondents,
        documents=documents,
        screening=screening.as_dict(),
        public_title=screening.public_title(title, hidden) if screening.active else None,
        public_case_title=(
            noark.mask_names(case_title, hidden) if case_title and screening.active else None
        ),
        created_by=caseworker,
        timezone=tenant.timezone or "Europe/Oslo",
    )


def _caseworker(item: ArchiveItem) -> str | None:
    """opprettetAv: the caseworker who flagged the item (not the program that journals it)."""
    user = db.session.get(User, item.flagged_by_id) if item.flagged_by_id else None
    return user.name if user is not None else None


def _store_receipt(
    item: ArchiveItem,
    part: int,
    adapter: str,
    receipt: Receipt,
    request: JournalRequest | None = None,
) -> None:
    # The hoveddokument's checksum and size, when this attempt sent it (an entry found again
    # after a crash keeps what the records system holds; its receipt has no document data).
    main = request.documents[0] if request and request.documents else None
    db.session.add(
        JournalReceipt(
            tenant_id=item.tenant_id,
            archive_item_id=item.id,
            part=part,
            adapter=adapter,
            system_id=receipt.system_id,
            journalpostnummer=receipt.journalpostnummer,
            case_number=receipt.case_number,
            journal_date=receipt.journal_date,
            document_sha256=main.sha256 if main else None,
            document_size=len(main.data) if main else None,
            raw=receipt.raw,
        )
    )
