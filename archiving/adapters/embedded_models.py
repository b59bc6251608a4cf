"""Tables of the embedded records system: a small local Noark 5 journal.

Files live under RECORDS_DIR; these rows are the journal (saksmappe, journalpost,
dokumentbeskrivelse/dokumentobjekt) that an arkivuttrekk is exported from.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from inbox.extensions import db
from inbox.models.base import JSONType, TenantScoped, Timestamped, UTCDateTime, new_uuid, utcnow


class RecordsCase(TenantScoped, Timestamped, db.Model):
    """Noark 5 saksmappe."""

    __table_args__ = (UniqueConstraint("tenant_id", "saksaar", "sakssekvensnummer"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    saksaar: Mapped[int] = mapped_column(Integer)
    sakssekvensnummer: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    # M052 saksstatus: "B" Under behandling until records staff close the period, then "A".
    saksstatus: Mapped[str] = mapped_column(String(2), default="B")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(255), nullable=True)

    @property
    def case_number(self) -> str:
        return f"{self.saksaar}/{self.sakssekvensnummer}"


class RecordsEntry(TenantScoped, Timestamped, db.Model):
    """Noark 5 journalpost."""

    __table_args__ = (
        UniqueConstraint("tenant_id", "journalaar", "journalsekvensnummer"),
        UniqueConstraint("case_id", "journalpostnummer"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    # The sender's idempotency key; a second attempt with the same key finds this entry.
    external_key: Mapped[str] = mapped_column(String(64), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("records_case.id"), index=True)
    journalaar: Mapped[int] = mapped_column(Integer)
    journalsekvensnummer: Mapped[int] = mapped_column(Integer)
    journalpostnummer: Mapped[int] = mapped_column(Integer)  # sequence within the case
    journalposttype: Mapped[str] = mapped_column(String(1))
    journalstatus: Mapped[str] = mapped_column(String(2), default="J")
    title: Mapped[str] = mapped_column(String(300))
    journaldato: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The message's own time (dokumentetsDato; mottattDato of I, sendtDato of U).
    document_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(200))  # opprettetAv: the caseworker
    public_title: Mapped[str | None] = mapped_column(String(300))  # offentligTittel, if screened
    correspondents: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    screening: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # The closed period (arkivdel) the entry was deposited in; None while the period is open.
    period_id: Mapped[int | None] = mapped_column(
        ForeignKey("records_period.id"), index=True, nullable=True
    )

    case: Mapped[RecordsCase] = relationship(lazy="joined")
    documents: Mapped[list[RecordsDocument]] = relationship(
        lazy="selectin", order_by="RecordsDocument.id"
    )


class RecordsDocument(Timestamped, db.Model):
    """Noark 5 dokumentbeskrivelse with its single dokumentobjekt (archival format)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("records_entry.id"), index=True)
    system_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    object_system_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    title: Mapped[str] = mapped_column(String(300))
    tilknyttet: Mapped[str] = mapped_column(String(1), default="H")  # H hoveddokument, V vedlegg
    puid: Mapped[str] = mapped_column(String(16))  # PRONOM format id
    mime_type: Mapped[str] = mapped_column(String(127))
    path: Mapped[str] = mapped_column(String(255))  # relative to RECORDS_DIR
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)


class RecordsCounter(TenantScoped, db.Model):
    """A number series of the journal (saksnummer and journalnummer per year, journalpostnummer
    per case). Taking a number updates the row, so concurrent writers wait for each other (the
    row lock on PostgreSQL, the writer lock on SQLite) and never get the same number."""

    __table_args__ = (UniqueConstraint("tenant_id", "series"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    series: Mapped[str] = mapped_column(String(64))  # "sak/2026", "journal/2026", "case/<id>"
    value: Mapped[int] = mapped_column(Integer, default=0)


class RecordsPeriod(TenantScoped, db.Model):
    """A closed period (Noark 5 arkivdel, "Avsluttet periode"): what one deposit holds.

    The open period has no row: its entries are those with no period_id. Closing it gives it
    a row with the systemID the open arkivdel was exported with (its number in the tenant)."""

    __table_args__ = (UniqueConstraint("tenant_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, … within the tenant
    system_id: Mapped[str] = mapped_column(String(36), unique=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_by: Mapped[str] = mapped_column(String(255))


class RecordsChange(TenantScoped, db.Model):
    """Noark 5 endringslogg: one change to an archival object, written when it is made."""

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    referanse_arkivenhet: Mapped[str] = mapped_column(String(36), index=True)
    referanse_metadata: Mapped[str] = mapped_column(String(64))
    endret_dato: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    endret_av: Mapped[str] = mapped_column(String(255))
    tidligere_verdi: Mapped[str] = mapped_column(String(255))
    ny_verdi: Mapped[str] = mapped_column(String(255))
