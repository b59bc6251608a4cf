"""Arkivuttrekk: a deposit package of the embedded records system, in Arkivverket's formats.

    arkivuttrekk.xml    ADDML in the layout of Arkivverket's template (embedded_addml.py)
    arkivstruktur.xml   arkiv > arkivdel > klassifikasjonssystem > klasse > saksmappe >
                        journalpost > korrespondansepart, dokumentbeskrivelse > dokumentobjekt
    endringslogg.xml    the change log: the changes records staff really made (embedded_period)
    loependeJournal.xml the running journal, screened fields included
    offentligJournal.xml the public journal: screened fields are replaced by *****
    *.xsd               the official schemas, when NOARK5_SCHEMA_DIR names a folder of them
    DOKUMENT/           every file, each referenced exactly once, with its checksum

A deposit is of a closed period (embedded_period.close_period): its cases are Avsluttet, its
entries Arkivert and its arkivdel Avsluttet periode, as the records tables say; the export
changes nothing. An export of the open period is possible for inspection; it says in its
output and in arkivuttrekk.xml that it is not a deposit (its avsluttetDato, required by the
schema, is then the export time). Every systemID is a UUID: rows carry their own; the arkiv,
klassifikasjonssystem and klasse get stable UUIDs derived from the tenant, the arkivdel from
the tenant and the period's number.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import current_app
from lxml import etree
from sqlalchemy import select

from archiving import noark
from archiving.adapters import embedded_addml
from archiving.adapters.embedded_models import (
    RecordsCase,
    RecordsChange,
    RecordsDocument,
    RecordsEntry,
    RecordsPeriod,
)
from archiving.adapters.embedded_period import (
    SAKSSTATUS,
    closed_periods,
    next_number,
    open_entries,
    period_entries,
    period_system_id,
)
from inbox.extensions import db
from inbox.models import Tenant
from inbox.models.base import utcnow

N5 = "http://www.arkivverket.no/standarder/noark5/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SYSTEM = "Servicetorg"
SCREENED = noark.SCREENED
ID_NS = uuid.UUID("0b6c2f55-9d3a-5a57-8c1e-6d2e1f4a7c10")

# Code lists and screening rules: archiving.noark, shared with the other adapters.
JOURNALPOSTTYPE = noark.JOURNALPOSTTYPE
JOURNALSTATUS = noark.JOURNALSTATUS
PARTTYPE = noark.KORRESPONDANSEPARTTYPE
TILKNYTTET = {"H": "Hoveddokument", "V": "Vedlegg"}


class ExportError(RuntimeError):
    pass


@dataclass
class Summary:
    cases: int
    entries: int
    files: int
    out: Path
    deposit: bool  # a closed period; False: the open period, not a deposit
    period: int  # the period's number
    schemas: list[str] = dc_field(default_factory=list)  # the XSDs included
    schema_problem: str = ""  # why the XSDs are not included
    changes: int = 0


def export_deposit(
    tenant: Tenant, out: Path, *, period: RecordsPeriod | None = None, open_period: bool = False
) -> Summary:
    """Write a period of the tenant's embedded journal as an arkivuttrekk into `out` (must be
    new or empty): the given closed period, else the latest closed one; with open_period the
    open period (not a deposit). Files are copied and checked against their checksums."""
    if out.exists() and any(out.iterdir()):
        raise ExportError(f"{out} is not empty")
    if open_period:
        entries = open_entries(tenant)
        if not entries:
            raise ExportError(f"the open period of {tenant.slug} holds no journal entries")
    else:
        if period is None:
            periods = closed_periods(tenant)
            if not periods:
                raise ExportError(
                    f"{tenant.slug} has no closed period to deposit: close the period first "
                    "(servicetorg close-period, or export-records --close-period), or export "
                    "the open period with --open (not a deposit)"
                )
            period = periods[-1]
        entries = period_entries(period)
    cases = sorted({e.case_id: e.case for e in entries}.values(), key=lambda c: c.id)
    ctx = _Context(tenant, utcnow(), entries, cases, period)
    out.mkdir(parents=True, exist_ok=True)
    schemas, problem = embedded_addml.copy_schemas(out)
    ctx.files = _copy_documents(entries, out)
    xml = {
        "arkivstruktur.xml": arkivstruktur(ctx),
        "loependeJournal.xml": journal(ctx, public=False),
        "offentligJournal.xml": journal(ctx, public=True),
    }
    if ctx.changes:  # the schema wants at least one endring: no file when nothing changed
        xml["endringslogg.xml"] = endringslogg(ctx)
    for name, data in xml.items():
        (out / name).write_bytes(data)
    (out / "arkivuttrekk.xml").write_bytes(
        embedded_addml.arkivuttrekk(_describe(ctx, xml, schemas))
    )
    return Summary(
        cases=len(cases),
        entries=len(entries),
        files=len(ctx.files),
        out=out,
        deposit=ctx.deposit,
        period=ctx.number,
        schemas=sorted(schemas),
        schema_problem=problem,
        changes=len(ctx.changes),
    )


class _Context:
    def __init__(
        self,
        tenant: Tenant,
        now: datetime,
        entries: list,
        cases: list,
        period: RecordsPeriod | None,
    ) -> None:
        self.tenant, self.now, self.entries, self.cases = tenant, now, entries, cases
        self.deposit = period is not None
        self.number = period.number if period else next_number(tenant)
        self.arkivdel_id = period.system_id if period else period_system_id(tenant, self.number)
        # Closed: when records staff closed the period. Open: the export time (the schema
        # requires an avsluttetDato), with the statuses saying the truth.
        self.closed_at = period.closed_at if period else now
        self.closed_by = period.closed_by if period else SYSTEM
        self.files: dict[str, str] = {}  # object systemID -> path in the package
        # The arkiv and its arkivdel exist from their first case on.
        self.created = min(c.created_at for c in cases)
        if period is not None:
            self.created = min(self.created, period.opened_at)
        days = sorted(_date(e.journaldato, tenant.timezone) for e in entries)
        self.first_day, self.last_day = days[0], days[-1]  # the journals' and the ADDML's period
        self.creator_id = str((tenant.records_config or {}).get("arkivskaperID") or tenant.slug)
        ids = {self.arkivdel_id, *(c.system_id for c in cases), *(e.system_id for e in entries)}
        self.changes = list(
            db.session.scalars(
                select(RecordsChange)
                .where(
                    RecordsChange.tenant_id == tenant.id,
                    RecordsChange.referanse_arkivenhet.in_(ids),
                )
                .order_by(RecordsChange.endret_dato, RecordsChange.id)
            )
        )

    def hidden(self, entry: RecordsEntry) -> list[str]:
        """The names screened in any entry of the entry's case."""
        return [
            name
            for e in self.entries
            if e.case_id == entry.case_id
            for name in _screening(e).screened_names(_parties(e))
        ]

    def sid(self, role: str) -> str:
        return str(uuid.uuid5(ID_NS, f"{self.tenant.slug}/{role}"))


def _describe(ctx: _Context, xml: dict[str, bytes], schemas: dict[str, bytes]) -> Any:
    kind = (
        f"Avleveringsuttrekk av avsluttet periode {ctx.number}"
        if ctx.deposit
        else f"IKKE et avleveringsuttrekk: periode {ctx.number} er ikke avsluttet"
    )
    return embedded_addml.Description(
        name=f"{ctx.tenant.slug}-{ctx.number}-{ctx.now:%Y%m%d%H%M%S}",
        description=f"Arkivuttrekk fra {SYSTEM} for {ctx.tenant.name}. {kind}.",
        creator_name=ctx.tenant.name,
        creator_id=ctx.creator_id,
        system=SYSTEM,
        start=ctx.first_day,
        end=ctx.last_day,
        extracted=_dt(ctx.now),
        deposit=ctx.deposit,
        kind=kind,
        documents=len(ctx.files),
        xml=xml,
        schemas=schemas,
    )


def _copy_documents(entries: list[RecordsEntry], out: Path) -> dict[str, str]:
    base = Path(current_app.config["RECORDS_DIR"])
    (out / "DOKUMENT").mkdir()
    files = {}
    for entry in entries:
        for doc in entry.documents:
            name = f"DOKUMENT/{doc.object_system_id}{Path(doc.path).suffix.lower()}"
            data = (base / doc.path).read_bytes()
            if hashlib.sha256(data).hexdigest() != doc.sha256 or len(data) != doc.size:
                raise ExportError(f"{doc.path} no longer matches its recorded checksum")
            with open(out / name, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            files[doc.object_system_id] = name
    return files


def _el(parent: etree._Element, name: str, text: Any = None) -> etree._Element:
    el = etree.SubElement(parent, f"{{{parent.nsmap[None]}}}{name}")
    if text is not None:
        el.text = text if isinstance(text, str) else str(text)
    return el


def _root(schema: str, name: str) -> etree._Element:
    ns = N5 + schema
    root = etree.Element(
        f"{{{ns}}}{name}",
        nsmap={None: ns, "n5mdk": N5 + "metadatakatalog", "xsi": XSI},
    )
    root.set(f"{{{XSI}}}schemaLocation", f"{ns} {schema}.xsd")
    return root


def _dt(value: datetime) -> str:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat(timespec="seconds")


def _date(value: datetime, tz: str = "Europe/Oslo") -> str:
    """The calendar date in the municipality's time zone (00:30 on 1 January is the new year)."""
    return noark.local_date(value, tz).date().isoformat()


def _bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _screening(entry: RecordsEntry) -> noark.Screening:
    return noark.Screening.from_dict(entry.screening)


def _screened(entry: RecordsEntry) -> set[str]:
    """The skjermingMetadata (M502) codes in effect; none when the entry is not screened."""
    return set(_screening(entry).fields)


def _parties(entry: RecordsEntry) -> list[noark.Correspondent]:
    fields = ("name", "address", "role", "unit", "caseworker")
    return [
        noark.Correspondent(**{k: c.get(k) for k in fields if k in c} | {"role": c.get("role")})
        for c in entry.correspondents
    ]


def _public_title(entry: RecordsEntry) -> str:
    if entry.public_title:
        return entry.public_title
    screening = _screening(entry)
    return screening.public_title(entry.title, screening.screened_names(_parties(entry)))


def _metadata_names(codes: set[str]) -> list[str]:
    return [noark.SKJERMING_METADATA[c] for c in sorted(codes)]


def _entry_dates(jp: etree._Element, entry: RecordsEntry, tz: str, names: tuple) -> None:
    """dokumentetsDato, and mottattDato (I) or sendtDato (U): the message's own time."""
    if entry.document_date is None:
        return
    _el(jp, names[0], _date(entry.document_date, tz))  # xs:date in the deposit schemas
    if entry.journalposttype == "I" and "mottattDato" in names:
        _el(jp, "mottattDato", _dt(entry.document_date))
    if entry.journalposttype == "U" and "sendtDato" in names:
        _el(jp, "sendtDato", _dt(entry.document_date))


# -- arkivstruktur.xml --------------------------------------------------------------------------


def _created_closed(
    el: etree._Element, created: datetime, closed: datetime | None, by: str | None, ctx: _Context
) -> None:
    _el(el, "opprettetDato", _dt(created))
    _el(el, "opprettetAv", SYSTEM)
    _el(el, "avsluttetDato", _dt(closed or ctx.closed_at))
    _el(el, "avsluttetAv", by or ctx.closed_by)


def arkivstruktur(ctx: _Context) -> bytes:
    root = _root("arkivstruktur", "arkiv")
    _el(root, "systemID", ctx.sid("arkiv"))
    _el(root, "tittel", f"{ctx.tenant.name} – henvendelser")
    _el(root, "arkivstatus", "Avsluttet" if ctx.deposit else "Opprettet")
    _created_closed(root, ctx.created, None, None, ctx)
    creator = _el(root, "arkivskaper")
    _el(creator, "arkivskaperID", ctx.creator_id)
    _el(creator, "arkivskaperNavn", ctx.tenant.name)
    arkivdel = _el(root, "arkivdel")
    _el(arkivdel, "systemID", ctx.arkivdel_id)
    _el(arkivdel, "tittel", f"Henvendelser fra innbyggere, periode {ctx.number}")
    _el(arkivdel, "arkivdelstatus", "Avsluttet periode" if ctx.deposit else "Aktiv periode")
    _created_closed(arkivdel, ctx.created, None, None, ctx)
    _el(arkivdel, "arkivperiodeStartDato", ctx.first_day)
    _el(arkivdel, "arkivperiodeSluttDato", ctx.last_day)
    system = _el(arkivdel, "klassifikasjonssystem")
    _el(system, "systemID", ctx.sid("klassifikasjonssystem"))
    _el(system, "klassifikasjonstype", "Egendefinert")
    _el(system, "tittel", "Servicetorg")
    _el(system, "opprettetDato", _dt(ctx.created))
    _el(system, "opprettetAv", SYSTEM)
    klasse = _el(system, "klasse")
    _el(klasse, "systemID", ctx.sid("klasse"))
    _el(klasse, "klasseID", "henvendelser")
    _el(klasse, "tittel", "Henvendelser fra innbyggere")
    _el(klasse, "opprettetDato", _dt(ctx.created))
    _el(klasse, "opprettetAv", SYSTEM)
    for case in ctx.cases:
        _saksmappe(klasse, case, [e for e in ctx.entries if e.case_id == case.id], ctx)
    return _bytes(root)


def _saksmappe(parent: etree._Element, case: RecordsCase, entries: list, ctx: _Context) -> None:
    mappe = _el(parent, "mappe")
    mappe.set(f"{{{XSI}}}type", "saksmappe")
    # The base type's elements (mappe, with its registreringer) first, then saksmappe's own.
    _el(mappe, "systemID", case.system_id)
    _el(mappe, "mappeID", case.case_number)
    _el(mappe, "tittel", case.title)
    _created_closed(mappe, case.created_at, case.closed_at, case.closed_by, ctx)
    for entry in entries:
        _journalpost(mappe, entry, ctx)
    _el(mappe, "saksaar", case.saksaar)
    _el(mappe, "sakssekvensnummer", case.sakssekvensnummer)
    _el(mappe, "saksdato", _date(case.created_at, ctx.tenant.timezone))
    _el(mappe, "administrativEnhet", ctx.tenant.name)
    _el(mappe, "saksansvarlig", SYSTEM)
    _el(mappe, "saksstatus", SAKSSTATUS.get(case.saksstatus, "Under behandling"))


def _skjerming(parent: etree._Element, entry: RecordsEntry) -> None:
    s = entry.screening or {}
    code = str(s["tilgangsrestriksjon"])
    skjerming = _el(parent, "skjerming")
    _el(skjerming, "tilgangsrestriksjon", code)
    _el(skjerming, "skjermingshjemmel", _screening(entry).basis or code)
    for name in _metadata_names(_screened(entry)):
        _el(skjerming, "skjermingMetadata", name)


def _journalpost(parent: etree._Element, entry: RecordsEntry, ctx: _Context) -> None:
    jp = _el(parent, "registrering")
    jp.set(f"{{{XSI}}}type", "journalpost")
    _el(jp, "systemID", entry.system_id)
    _el(jp, "opprettetDato", _dt(entry.created_at))
    _el(jp, "opprettetAv", entry.created_by or SYSTEM)
    _el(jp, "arkivertDato", _dt(entry.journaldato))
    _el(jp, "arkivertAv", SYSTEM)
    if _screened(entry):
        _skjerming(jp, entry)
    for number, doc in enumerate(entry.documents, start=1):
        _dokumentbeskrivelse(jp, number, doc, entry, ctx)
    _el(jp, "registreringsID", f"{entry.case.case_number}-{entry.journalpostnummer}")
    _el(jp, "tittel", entry.title)
    if _screened(entry):
        _el(jp, "offentligTittel", _public_title(entry))
    for c in _parties(entry):
        part = _el(jp, "korrespondansepart")
        _el(part, "korrespondanseparttype", PARTTYPE.get(c.role, "Avsender"))
        _el(part, "korrespondansepartNavn", c.display_name)
        if c.name and c.address and not c.internal:  # an anonymous party has no contact details
            _el(part, "epostadresse" if "@" in c.address else "telefonnummer", c.address)
        if c.internal and c.unit:
            _el(part, "administrativEnhet", c.unit)
        if c.internal and c.caseworker:
            _el(part, "saksbehandler", c.caseworker)
    # journalpost's own elements come after all of registrering's.
    _el(jp, "journalaar", entry.journalaar)
    _el(jp, "journalsekvensnummer", entry.journalsekvensnummer)
    _el(jp, "journalpostnummer", entry.journalpostnummer)
    _el(jp, "journalposttype", JOURNALPOSTTYPE[entry.journalposttype])
    _el(jp, "journalstatus", JOURNALSTATUS.get(entry.journalstatus, "Journalført"))
    _el(jp, "journaldato", _date(entry.journaldato, ctx.tenant.timezone))
    _entry_dates(jp, entry, ctx.tenant.timezone, ("dokumentetsDato", "mottattDato", "sendtDato"))
    _el(jp, "antallVedlegg", sum(1 for d in entry.documents if d.tilknyttet == "V"))


def _dokumentbeskrivelse(
    parent: etree._Element, number: int, doc: RecordsDocument, entry: RecordsEntry, ctx: _Context
) -> None:
    db_el = _el(parent, "dokumentbeskrivelse")
    _el(db_el, "systemID", doc.system_id)
    _el(db_el, "dokumenttype", noark.DOKUMENTTYPE[1])
    _el(db_el, "dokumentstatus", "Dokumentet er ferdigstilt")
    _el(db_el, "tittel", doc.title)
    _el(db_el, "opprettetDato", _dt(doc.created_at))
    _el(db_el, "opprettetAv", entry.created_by or SYSTEM)
    _el(db_el, "tilknyttetRegistreringSom", TILKNYTTET.get(doc.tilknyttet, "Hoveddokument"))
    _el(db_el, "dokumentnummer", number)
    _el(db_el, "tilknyttetDato", _dt(entry.journaldato))
    _el(db_el, "tilknyttetAv", SYSTEM)
    obj = _el(db_el, "dokumentobjekt")
    _el(obj, "systemID", doc.object_system_id)
    _el(obj, "versjonsnummer", 1)
    _el(obj, "variantformat", "Arkivformat")
    _el(obj, "format", doc.puid)
    _el(obj, "opprettetDato", _dt(doc.created_at))
    _el(obj, "opprettetAv", SYSTEM)
    _el(obj, "referanseDokumentfil", ctx.files[doc.object_system_id])
    _el(obj, "sjekksum", doc.sha256)
    _el(obj, "sjekksumAlgoritme", "SHA256")
    _el(obj, "filstoerrelse", doc.size)


# -- endringslogg.xml ---------------------------------------------------------------------------


def endringslogg(ctx: _Context) -> bytes:
    """The change log as it was written when records staff made the changes."""
    root = _root("endringslogg", "endringslogg")
    for row in ctx.changes:
        change = _el(root, "endring")
        _el(change, "referanseArkivenhet", row.referanse_arkivenhet)
        _el(change, "referanseMetadata", row.referanse_metadata)
        _el(change, "endretDato", _dt(row.endret_dato))
        _el(change, "endretAv", row.endret_av)
        _el(change, "tidligereVerdi", row.tidligere_verdi)
        _el(change, "nyVerdi", row.ny_verdi)
    return _bytes(root)


# -- loependeJournal.xml / offentligJournal.xml -------------------------------------------------


def journal(ctx: _Context, public: bool) -> bytes:
    name = "offentligJournal" if public else "loependeJournal"
    root = _root(name, name)
    head = _el(root, "journalhode")
    _el(head, "journalStartDato", ctx.first_day)
    _el(head, "journalSluttDato", ctx.last_day)
    _el(head, "antallJournalposter", len(ctx.entries))
    creator = _el(head, "arkivskaper")
    _el(creator, "arkivskaperID", ctx.creator_id)
    _el(creator, "arkivskaperNavn", ctx.tenant.name)
    for entry in ctx.entries:
        screened = _screened(entry)
        reg = _el(root, "journalregistrering")
        klasse = _el(reg, "klasse")
        _el(klasse, "klasseID", "henvendelser")
        _el(klasse, "tittel", "Henvendelser fra innbyggere")
        case = _el(reg, "saksmappe")
        _el(case, "mappeID", entry.case.case_number)
        _el(case, "saksaar", entry.case.saksaar)
        _el(case, "sakssekvensnummer", entry.case.sakssekvensnummer)
        if public:  # no name screened in any of the case's entries shows in its title
            _el(case, "offentligTittel", noark.mask_names(entry.case.title, ctx.hidden(entry)))
        else:
            _el(case, "tittel", entry.case.title)
        jp = _el(reg, "journalpost")
        _el(jp, "systemID", entry.system_id)
        _el(jp, "journalaar", entry.journalaar)
        _el(jp, "journalsekvensnummer", entry.journalsekvensnummer)
        _el(jp, "journalpostnummer", entry.journalpostnummer)
        screening = _screening(entry)
        if public:
            _el(jp, "offentligTittel", _public_title(entry) if screened else entry.title)
        else:
            _el(jp, "tittel", entry.title)
            if screened:
                _el(jp, "offentligTittel", _public_title(entry))
        if screened:
            _el(jp, "skjermingMetadata", ", ".join(_metadata_names(screened)))
        _el(jp, "journaldato", _date(entry.journaldato, ctx.tenant.timezone))
        _entry_dates(jp, entry, ctx.tenant.timezone, ("dokumentetsDato",))
        if screened:  # the public sees the code and its legal basis, never what is hidden
            _el(jp, "tilgangsrestriksjon", screening.code)
            _el(jp, "skjermingshjemmel", screening.basis)
        for c in _parties(entry):
            part = _el(jp, "korrespondansepart")
            _el(part, "korrespondanseparttype", PARTTYPE.get(c.role, "Avsender"))
            hidden = screening.hides_name(c)
            _el(part, "korrespondansepartNavn", SCREENED if public and hidden else c.display_name)
            if hidden and not public:
                _el(
                    part,
                    "skjermingMetadata",
                    noark.SKJERMING_METADATA["NA" if c.role in noark.SENDER_ROLES else "NM"],
                )
    return _bytes(root)
