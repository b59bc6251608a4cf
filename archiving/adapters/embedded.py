"""The embedded records system: a local Noark 5 journal in our own database and on disk.

Entries are written in the same transaction as our receipt, so an entry and its receipt are
committed together or not at all; the external key makes a retry find the earlier entry.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select

from archiving.adapters.embedded_models import RecordsCase, RecordsDocument, RecordsEntry
from archiving.adapters.embedded_period import case_is_closed
from archiving.interfaces import JournalRequest, Receipt, RecordsRejected
from inbox.extensions import db
from inbox.models import Tenant
from inbox.models.base import utcnow


class EmbeddedRecords:
    name = "embedded"

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    def find_entry(self, external_key: str) -> Receipt | None:
        entry = db.session.scalar(
            select(RecordsEntry).where(RecordsEntry.external_key == external_key)
        )
        return _receipt(entry) if entry is not None else None

    def journal(self, request: JournalRequest) -> Receipt:
        case = self._case(request)
        now = utcnow()
        entry = RecordsEntry(
            tenant_id=self.tenant.id,
            external_key=request.external_key,
            case_id=case.id,
            journalaar=now.year,
            journalsekvensnummer=self._next(
                RecordsEntry.journalsekvensnummer,
                RecordsEntry.tenant_id == self.tenant.id,
                RecordsEntry.journalaar == now.year,
            ),
            journalpostnummer=self._next(
                RecordsEntry.journalpostnummer, RecordsEntry.case_id == case.id
            ),
            journalposttype=request.journalposttype,
            title=request.title,
            journaldato=now,
            correspondents=[c.__dict__ for c in request.correspondents],
            screening=dict(request.screening),
        )
        db.session.add(entry)
        db.session.flush()
        for doc in request.documents:
            rel = Path(self.tenant.slug) / str(now.year) / entry.system_id / doc.filename
            _write_atomically(Path(current_app.config["RECORDS_DIR"]) / rel, doc.data)
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

    def _case(self, request: JournalRequest) -> RecordsCase:
        if request.case_number:
            year, _, seq = request.case_number.partition("/")
            case = db.session.scalar(
                select(RecordsCase).where(
                    RecordsCase.tenant_id == self.tenant.id,
                    RecordsCase.saksaar == int(year),
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
        year = utcnow().year
        case = RecordsCase(
            tenant_id=self.tenant.id,
            saksaar=year,
            sakssekvensnummer=self._next(
                RecordsCase.sakssekvensnummer,
                RecordsCase.tenant_id == self.tenant.id,
                RecordsCase.saksaar == year,
            ),
            title=request.new_case_title or request.title,
        )
        db.session.add(case)
        db.session.flush()
        return case

    @staticmethod
    def _next(column, *where) -> int:  # type: ignore[no-untyped-def]
        return (db.session.scalar(select(func.max(column)).where(*where)) or 0) + 1


def _receipt(entry: RecordsEntry) -> Receipt:
    return Receipt(
        system_id=entry.system_id,
        case_number=entry.case.case_number,
        journalpostnummer=f"{entry.case.case_number}-{entry.journalpostnummer}",
        journal_date=entry.journaldato,
        raw={"journalaar": entry.journalaar, "journalsekvensnummer": entry.journalsekvensnummer},
    )


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
