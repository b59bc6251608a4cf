"""The embedded records system: a local Noark 5 journal in our own database and on disk.

Entries are written in the same transaction as our receipt, so an entry and its receipt are
committed together or not at all; the external key makes a retry find the earlier entry.

Numbers come from counter rows (RecordsCounter) taken with an UPDATE, so two workers never get
the same saksnummer, journalnummer or journalpostnummer and no number is skipped. Dates and
years follow the tenant's time zone.

Files are written to a pending folder of the entry (RECORDS_DIR/.pending/<key>/) and moved to
their place when the transaction commits (removed when it rolls back). A worker killed in
between leaves only that pending folder, which the next attempt at the same entry clears first,
so the records folder holds exactly the documents the journal names.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import event, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from archiving import noark
from archiving.adapters.embedded_models import (
    RecordsCase,
    RecordsCounter,
    RecordsDocument,
    RecordsEntry,
)
from archiving.adapters.embedded_period import case_is_closed
from archiving.interfaces import CaseInfo, JournalRequest, Receipt, RecordsRejected
from inbox.extensions import db
from inbox.models import Tenant
from inbox.models.base import utcnow

PENDING = ".pending"
_MOVES = "records.pending_files"


class EmbeddedRecords:
    name = "embedded"

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    def find_entry(self, external_key: str) -> Receipt | None:
        entry = db.session.scalar(
            select(RecordsEntry).where(RecordsEntry.external_key == external_key)
        )
        return _receipt(entry) if entry is not None else None

    def lookup_case(self, case_number: str) -> CaseInfo | None:
        year, _, seq = case_number.partition("/")
        if not (year.isdigit() and seq.isdigit()):
            return None
        case = db.session.scalar(
            select(RecordsCase).where(
                RecordsCase.tenant_id == self.tenant.id,
                RecordsCase.saksaar == int(year),
                RecordsCase.sakssekvensnummer == int(seq),
            )
        )
        if case is None:
            return None
        return CaseInfo(case.case_number, case.title, closed=case_is_closed(case))

    def journal(self, request: JournalRequest) -> Receipt:
        now = utcnow()
        year = noark.local_date(now, request.timezone).year
        case = self._case(request, year)
        entry = RecordsEntry(
            tenant_id=self.tenant.id,
            external_key=request.external_key,
            case_id=case.id,
            journalaar=year,
            journalsekvensnummer=next_number(self.tenant.id, f"journal/{year}"),
            journalpostnummer=next_number(self.tenant.id, f"case/{case.id}"),
            journalposttype=request.journalposttype,
            journalstatus=noark.journalstatus(request.journalposttype),
            title=request.title,
            journaldato=now,
            document_date=request.document_date,
            created_by=request.created_by,
            public_title=request.public_title,
            correspondents=[_party(c) for c in request.correspondents],
            screening=dict(request.screening),
        )
        db.session.add(entry)
        db.session.flush()
        root = Path(current_app.config["RECORDS_DIR"])
        folder = Path(self.tenant.slug) / str(year) / entry.system_id
        pending = pending_folder(root, request.external_key)
        shutil.rmtree(pending, ignore_errors=True)  # what a killed attempt left
        for doc in request.documents:
            rel = folder / doc.filename
            _write_pending(pending, root / rel, doc.data)
            db.session.add(
                RecordsDocument(
                    entry_id=entry.id,
                    title=doc.title,
                    tilknyttet=doc.tilknyttet,
                    puid=doc.puid,
                    mime_type=doc.mime_type,
                    path=str(rel),
                    sha256=doc.sha256,
                    size=len(doc.data),
                )
            )
        db.session.flush()
        return _receipt(entry)

    def _case(self, request: JournalRequest, year: int) -> RecordsCase:
        if request.case_number:
            number, _, seq = request.case_number.partition("/")
            case = db.session.scalar(
                select(RecordsCase).where(
                    RecordsCase.tenant_id == self.tenant.id,
                    RecordsCase.saksaar == int(number),
                    RecordsCase.sakssekvensnummer == int(seq),
                )
            )
            if case is None:
                raise RecordsRejected(f"case {request.case_number} does not exist")
            if case_is_closed(case):
                raise RecordsRejected(
                    f"case {request.case_number} is closed (Avsluttet) with its period; "
                    "journal into a new case"
                )
            return case
        case = RecordsCase(
            tenant_id=self.tenant.id,
            saksaar=year,
            sakssekvensnummer=next_number(self.tenant.id, f"sak/{year}"),
            title=request.new_case_title or request.title,
        )
        db.session.add(case)
        db.session.flush()
        return case


def next_number(tenant_id: int, series: str) -> int:
    """The next number of a series, held (row-locked) until the transaction ends."""
    where = (RecordsCounter.tenant_id == tenant_id, RecordsCounter.series == series)
    bump = update(RecordsCounter).where(*where).values(value=RecordsCounter.value + 1)
    if db.session.execute(bump.execution_options(synchronize_session=False)).rowcount == 0:
        dialect = db.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        db.session.execute(
            insert(RecordsCounter)
            .values(tenant_id=tenant_id, series=series, value=0)
            .on_conflict_do_nothing(index_elements=["tenant_id", "series"])
        )
        db.session.execute(bump.execution_options(synchronize_session=False))
    return int(db.session.scalar(select(RecordsCounter.value).where(*where)) or 0)


def _party(c: Any) -> dict[str, Any]:
    return {k: v for k, v in c.__dict__.items() if v is not None or k in ("name", "address")}


def _receipt(entry: RecordsEntry) -> Receipt:
    return Receipt(
        system_id=entry.system_id,
        case_number=entry.case.case_number,
        journalpostnummer=f"{entry.case.case_number}-{entry.journalpostnummer}",
        journal_date=entry.journaldato,
        raw={"journalaar": entry.journalaar, "journalsekvensnummer": entry.journalsekvensnummer},
    )


def pending_folder(root: Path, external_key: str) -> Path:
    return root / PENDING / str(uuid.uuid5(uuid.NAMESPACE_URL, external_key))


def _write_pending(pending: Path, path: Path, data: bytes) -> None:
    """Write the file in the entry's pending folder; it moves to `path` when the session
    commits."""
    pending.mkdir(parents=True, exist_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=pending, prefix=path.name)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    db.session.info.setdefault(_MOVES, []).append((tmp, str(path)))


@event.listens_for(Session, "after_commit")
def _commit_files(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return
    for tmp, final in session.info.pop(_MOVES, []):
        os.replace(tmp, final)
        _remove_if_empty(Path(tmp).parent)


@event.listens_for(Session, "after_soft_rollback")
def _drop_files(session: Session, previous_transaction: Any) -> None:
    if session.in_transaction():
        return  # a savepoint rolled back; the outer transaction may still commit its files
    for tmp, _final in session.info.pop(_MOVES, []):
        Path(tmp).unlink(missing_ok=True)
        _remove_if_empty(Path(tmp).parent)


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):  # other files still pending, or already gone
        folder.rmdir()
