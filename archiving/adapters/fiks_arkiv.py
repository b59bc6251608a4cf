"""KS Fiks Arkiv v2: an arkivmelding (plus files) handed to the installation's Fiks IO client.

Journalling through Fiks is asynchronous. journal() writes one message folder to the outgoing
folder and raises RecordsPending; the item stays JOURNALLING ("awaiting receipt") and a worker
looks again every ARCHIVE_RECEIPT_POLL_SECONDS. find_entry() reads the reply the Fiks IO client
put in the incoming folder: a kvittering completes the entry, a feilmelding fails it (or, for a
server error, sends the message again).

Folder contract (see docs/records-systems.md):
  outgoing/<meldingId>/arkivmelding.xml, the files, melding.json   (written to a dot-folder, then
      renamed into place, so a client never sees half a message; it ignores dot-entries)
  incoming/<meldingId>/<message type>.xml   e.g.
      no.ks.fiks.arkiv.v2.arkivering.arkivmelding.opprett.kvittering.xml
      no.ks.fiks.arkiv.v2.feilmelding.ugyldigforespoersel.xml
The meldingId is a UUID derived from the entry's external key, the same on every retry.

Tenant.records_config: {"outgoing_dir": "...", "incoming_dir": "...", "fagsystem": "Servicetorg",
"arkivdel": "<kode, optional>", "delivery": "folder"}.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import current_app
from lxml import etree

from archiving import noark
from archiving.interfaces import (
    CaseInfo,
    JournalRequest,
    Receipt,
    RecordsPending,
    RecordsRejected,
    RecordsUnavailable,
)
from inbox.models import Tenant
from inbox.models.base import utcnow

NS = "https://ks-no.github.io/standarder/fiks-protokoll/fiks-arkiv/arkivmelding/opprett/v2"
MDK = "https://ks-no.github.io/standarder/fiks-protokoll/fiks-arkiv/metadatakatalog/v2"
KVIT = "https://ks-no.github.io/standarder/fiks-protokoll/fiks-arkiv/arkivmelding/opprett/kvittering/v2"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
MESSAGE_TYPE = "no.ks.fiks.arkiv.v2.arkivering.arkivmelding.opprett"
KVITTERING = MESSAGE_TYPE + ".kvittering"
REJECTED = (
    "no.ks.fiks.arkiv.v2.feilmelding.ugyldigforespoersel",
    "no.ks.fiks.arkiv.v2.feilmelding.ikkefunnet",
)
SERVER_ERROR = "no.ks.fiks.arkiv.v2.feilmelding.serverfeil"
SOK_NS = "https://ks-no.github.io/standarder/fiks-protokoll/fiks-arkiv/sok/v2"
SOK = "no.ks.fiks.arkiv.v2.innsyn.sok"
SOK_RESULTAT = "no.ks.fiks.arkiv.v2.innsyn.sok.resultat.minimum"
# Fixed namespace for deriving message ids from external keys (uuid5).
MESSAGE_ID_NS = uuid.UUID("6f1c1f0e-4a7e-5b55-9d7e-5e2a1c0f1a2b")


def message_id(external_key: str) -> str:
    return str(uuid.uuid5(MESSAGE_ID_NS, external_key))


class FolderDelivery:
    """The default delivery: one folder per message in an outgoing folder, moved in atomically."""

    def __init__(self, outgoing: Path) -> None:
        self.outgoing = outgoing

    def delivered(self, mid: str) -> bool:
        return (self.outgoing / mid).exists()

    def deliver(self, mid: str, files: dict[str, bytes]) -> None:
        self.outgoing.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{mid}-", dir=self.outgoing))
        try:
            for name, data in files.items():
                with open(tmp / name, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
            tmp.chmod(0o755)
            os.rename(tmp, self.outgoing / mid)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if self.delivered(mid):  # another worker got there first
                return
            raise RecordsUnavailable(f"cannot write to the Fiks outgoing folder: {exc}") from exc


DELIVERIES = {"folder": FolderDelivery}


class FiksArkiv:
    name = "fiks_arkiv"

    def __init__(self, tenant: Tenant) -> None:
        cfg = tenant.records_config or {}
        base = Path(current_app.config["RECORDS_DIR"]) / "fiks" / tenant.slug
        self.outgoing = Path(cfg.get("outgoing_dir") or base / "outgoing")
        self.incoming = Path(cfg.get("incoming_dir") or base / "incoming")
        self.sent = base / "sent"  # our own notes of what was handed over
        self.fagsystem = str(cfg.get("fagsystem") or "Servicetorg")
        self.arkivdel = cfg.get("arkivdel")
        kind = cfg.get("delivery", "folder")
        if kind not in DELIVERIES:
            raise RecordsRejected(f"unknown Fiks Arkiv delivery {kind!r}")
        self.delivery = DELIVERIES[kind](self.outgoing)
        self.lookup_timeout = float(cfg.get("lookup_timeout", 10))

    # -- the interface ------------------------------------------------------------------------
    #
    # Our note per entry (sent/<uuid5 of the key>.json) holds the message id now awaiting a
    # reply and the ids of earlier messages that were refused or failed, so that a retry by
    # records staff sends a new message (a Fiks IO message id is used once), and a receipt for
    # any of them still counts.

    def find_entry(self, external_key: str) -> Receipt | None:
        note = self._note(external_key)
        current = note.get("message_id")
        for mid in [*note.get("earlier", []), *([current] if current else [])]:
            kvittering = self.incoming / mid / f"{KVITTERING}.xml"
            if kvittering.is_file():
                return parse_kvittering(kvittering.read_bytes(), note.get("case_number"))
        if current:
            replies = self.incoming / current
            for kind in REJECTED:
                if (replies / f"{kind}.xml").is_file():
                    self._retire(external_key, note)
                    raise RecordsRejected(f"Fiks Arkiv: {_feilmelding(replies / f'{kind}.xml')}")
            if (replies / f"{SERVER_ERROR}.xml").is_file():
                # The archive failed on its side: send a new message on the next attempt.
                self._retire(external_key, note)
                problem = _feilmelding(replies / f"{SERVER_ERROR}.xml")
                raise RecordsUnavailable(f"Fiks Arkiv server error: {problem}")
            raise RecordsPending(f"awaiting a receipt for Fiks message {current}")
        mid = _next_id(external_key, note)
        if self.delivery.delivered(mid):  # handed over, but we died before taking the note
            self._save(external_key, note | {"message_id": mid})
            raise RecordsPending(f"awaiting a receipt for Fiks message {mid}")
        return None

    def journal(self, request: JournalRequest) -> Receipt:
        note = self._note(request.external_key)
        if note.get("message_id"):
            raise RecordsPending(f"awaiting a receipt for Fiks message {note['message_id']}")
        mid = _next_id(request.external_key, note)
        files = {"arkivmelding.xml": arkivmelding(request, self.fagsystem, self.arkivdel)}
        for number, doc in enumerate(request.documents, start=1):
            files[file_reference(number, doc.filename)] = doc.data
        files["melding.json"] = json.dumps(
            {
                "meldingId": mid,
                "meldingType": MESSAGE_TYPE,
                "eksternNoekkel": request.external_key,
                "filer": sorted(files),
            },
            indent=2,
        ).encode()
        self.delivery.deliver(mid, files)
        note |= {
            "external_key": request.external_key,
            "case_number": request.case_number,
            "message_id": mid,
            "sent_at": utcnow().isoformat(),
        }
        self._save(request.external_key, note)
        raise RecordsPending(f"handed to Fiks Arkiv as message {mid}", delivered_now=True)

    def lookup_case(self, case_number: str) -> CaseInfo | None:
        """A sok (search) for the saksmappe by saksaar and sakssekvensnummer, answered through
        the same folders: the Fiks IO client puts the sokeresultat in incoming/<meldingId>/.
        Waits at most records_config.lookup_timeout seconds (default 10)."""
        m = re.fullmatch(r"\s*(\d{4})\s*/\s*(\d+)\s*", case_number)
        if not m:
            return None
        mid = str(uuid.uuid4())  # a search is asked once; every search is a new message
        files = {
            "sok.xml": sok_saksmappe(int(m[1]), int(m[2]), self.fagsystem),
            "melding.json": json.dumps(
                {"meldingId": mid, "meldingType": SOK, "filer": ["sok.xml"]}, indent=2
            ).encode(),
        }
        self.delivery.deliver(mid, files)
        replies = self.incoming / mid
        deadline = time.monotonic() + self.lookup_timeout
        while True:
            result = replies / f"{SOK_RESULTAT}.xml"
            if result.is_file():
                return parse_sokeresultat(result.read_bytes(), int(m[1]), int(m[2]))
            for kind in (*REJECTED, SERVER_ERROR):
                if (replies / f"{kind}.xml").is_file():
                    if kind.endswith("ikkefunnet"):
                        return None
                    raise RecordsUnavailable(f"Fiks Arkiv: {_feilmelding(replies / f'{kind}.xml')}")
            if time.monotonic() >= deadline:
                raise RecordsUnavailable(f"no answer from Fiks Arkiv to search {mid}")
            time.sleep(0.05)

    def _path(self, external_key: str) -> Path:
        return self.sent / f"{message_id(external_key)}.json"

    def _note(self, external_key: str) -> dict[str, Any]:
        path = self._path(external_key)
        return json.loads(path.read_text()) if path.is_file() else {}

    def _save(self, external_key: str, note: dict[str, Any]) -> None:
        self.sent.mkdir(parents=True, exist_ok=True)
        path = self._path(external_key)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(note))
        os.replace(tmp, path)

    def _retire(self, external_key: str, note: dict[str, Any]) -> None:
        earlier = [*note.get("earlier", []), note["message_id"]]
        self._save(external_key, note | {"message_id": None, "earlier": earlier})


def _next_id(external_key: str, note: dict[str, Any]) -> str:
    """The first message of an entry has the id message_id(key); a resend gets a new one."""
    n = len(note.get("earlier", []))
    return message_id(external_key if n == 0 else f"{external_key}#{n}")


def file_reference(number: int, filename: str) -> str:
    """The file's name inside the message: plain ASCII, unique by document number."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", filename).strip("._") or "dokument"
    return f"{number:03d}-{safe}"


# -- arkivmelding.xml ---------------------------------------------------------------------------


def _el(parent: etree._Element, name: str, text: Any = None, ns: str = NS) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ns}}}{name}")
    if text is not None:
        el.text = str(text)
    return el


def _code(parent: etree._Element, name: str, code: str) -> etree._Element:
    el = _el(parent, name)
    _el(el, "kode", code, MDK)
    return el


def _key(parent: etree._Element, name: str, fagsystem: str, key: str, ns: str = NS) -> None:
    el = _el(parent, name, ns=ns)
    _el(el, "fagsystem", fagsystem, MDK)
    _el(el, "noekkel", key, MDK)


def _datetime(value: datetime) -> str:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def arkivmelding(request: JournalRequest, fagsystem: str, arkivdel: str | None = None) -> bytes:
    root = etree.Element(f"{{{NS}}}arkivmelding", nsmap={None: NS, "n5mdk": MDK, "xsi": XSI})
    _el(root, "system", fagsystem)
    _el(root, "antallFiler", len(request.documents))
    case_key = f"{request.external_key}:sak"
    if not request.case_number:
        mappe = _el(root, "mappe")
        mappe.set(f"{{{XSI}}}type", "saksmappe")
        _el(mappe, "tittel", request.new_case_title or request.title)
        if request.public_case_title:
            _el(mappe, "offentligTittel", request.public_case_title)
        if arkivdel:
            _code(mappe, "arkivdel", arkivdel)
        _key(mappe, "referanseEksternNoekkel", fagsystem, case_key)
    jp = _el(root, "registrering")
    jp.set(f"{{{XSI}}}type", "journalpost")
    _el(jp, "opprettetDato", _datetime(utcnow()))
    _el(jp, "opprettetAv", request.created_by or fagsystem)
    parent = _el(jp, "referanseForelderMappe")
    if request.case_number:
        year, _, seq = request.case_number.partition("/")
        saksnummer = _el(parent, "saksnummer", ns=MDK)
        _el(saksnummer, "saksaar", int(year), MDK)
        _el(saksnummer, "sakssekvensnummer", int(seq), MDK)
    else:
        _key(parent, "referanseEksternNoekkel", fagsystem, case_key, ns=MDK)
    screening = noark.Screening.from_dict(request.screening)
    if screening.active:
        skjerming = _el(jp, "skjerming")
        _code(skjerming, "tilgangsrestriksjon", screening.code or "")
        _el(skjerming, "skjermingshjemmel", screening.basis)
    for number, doc in enumerate(request.documents, start=1):
        db = _el(jp, "dokumentbeskrivelse")
        _code(db, "dokumenttype", noark.DOKUMENTTYPE[0])
        _code(db, "dokumentstatus", "F")
        _el(db, "tittel", doc.title)
        _code(db, "tilknyttetRegistreringSom", doc.tilknyttet)
        _el(db, "dokumentnummer", number)
        obj = _el(db, "dokumentobjekt")
        _el(obj, "versjonsnummer", 1)
        _code(obj, "variantformat", "A")
        _code(obj, "format", doc.puid)
        _el(obj, "mimeType", doc.mime_type)
        _el(obj, "filnavn", doc.filename)
        _el(obj, "referanseDokumentfil", file_reference(number, doc.filename))
        _el(obj, "sjekksum", doc.sha256)
        _el(obj, "sjekksumAlgoritme", "SHA256")
        _el(obj, "filstoerrelse", len(doc.data))
    _el(jp, "tittel", request.title)
    if screening.active:
        _el(jp, "offentligTittel", request.public_title or noark.SCREENED)
    for c in request.correspondents:
        part = _el(jp, "korrespondansepart")
        _code(part, "korrespondanseparttype", c.role)
        _el(part, "korrespondansepartNavn", c.display_name)
        if c.national_id and c.name and not c.internal:  # verified through ID-porten
            _el(part, "personid", c.national_id)
        if c.name and c.address and not c.internal:  # an anonymous party: no contact details
            _el(part, "epostadresse" if "@" in c.address else "telefonnummer", c.address)
        if c.internal and c.unit:
            _el(part, "administrativEnhet", c.unit)
        if c.internal and c.caseworker:
            _el(part, "saksbehandler", c.caseworker)
        if screening.hides_name(c):
            _el(part, "erSkjermet", "true")
    _key(jp, "referanseEksternNoekkel", fagsystem, request.external_key)
    _code(jp, "journalposttype", request.journalposttype)
    _code(jp, "journalstatus", noark.journalstatus(request.journalposttype))
    local = noark.local_date(request.document_date, request.timezone)
    _el(jp, "dokumentetsDato", local.date().isoformat())
    if request.journalposttype == "I":
        _el(jp, "mottattDato", _datetime(request.document_date))
    elif request.journalposttype == "U":
        _el(jp, "sendtDato", _datetime(request.document_date))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# -- replies ------------------------------------------------------------------------------------


def parse_kvittering(data: bytes, case_number: str | None) -> Receipt:
    root = etree.fromstring(data)  # noqa: S320 (our own Fiks IO client's file; no entities)

    def text(path: str) -> str | None:
        found = root.find(path, {"k": KVIT})
        return found.text.strip() if found is not None and found.text else None

    if root.find("k:registreringFeilet", {"k": KVIT}) is not None:
        raise RecordsRejected(
            f"Fiks Arkiv: {text('k:registreringFeilet/*[2]') or 'registrering feilet'}"
        )
    system_id = text("k:registreringKvittering/k:systemID")
    if not system_id:
        raise RecordsRejected("Fiks Arkiv receipt has no systemID")
    year, seq = text("k:mappeKvittering/k:saksaar"), text("k:mappeKvittering/k:sakssekvensnummer")
    if year and seq:
        case_number = f"{year}/{seq}"
    number = text("k:registreringKvittering/k:journalpostnummer")
    jyear = text("k:registreringKvittering/k:journalaar")
    jseq = text("k:registreringKvittering/k:journalsekvensnummer")
    if case_number and number:
        journalpostnummer = f"{case_number}-{number}"
    else:
        journalpostnummer = f"{jyear}/{jseq}" if jyear and jseq else None
    date = text("k:registreringKvittering/k:journaldato")
    return Receipt(
        system_id=system_id,
        case_number=case_number or "",
        journalpostnummer=journalpostnummer,
        journal_date=(datetime.fromisoformat(date[:10]).replace(tzinfo=UTC) if date else utcnow()),
        raw={"journalaar": jyear, "journalsekvensnummer": jseq, "journalpostnummer": number},
    )


def _feilmelding(path: Path) -> str:
    root = etree.parse(str(path)).getroot()  # noqa: S320
    texts = [
        el.text.strip()
        for el in root.iter()
        if isinstance(el.tag, str) and el.text and el.text.strip()
    ]
    return " — ".join(texts[-2:]) if texts else path.name


def sok_saksmappe(saksaar: int, sakssekvensnummer: int, system: str) -> bytes:
    """A Fiks Arkiv sok for one saksmappe by its saksnummer (no.ks.fiks.arkiv.v2.innsyn.sok)."""
    root = etree.Element(f"{{{SOK_NS}}}sok", nsmap={None: SOK_NS, "xsi": XSI})
    _el(root, "system", system, SOK_NS)
    _el(root, "take", 2, SOK_NS)
    _el(root, "skip", 0, SOK_NS)
    definition = _el(root, "sokdefinisjon", ns=SOK_NS)
    definition.set(f"{{{XSI}}}type", "saksmappeSokdefinisjon")
    _el(definition, "responstype", "minimum", SOK_NS)
    for field, value in (("sakSaksaar", saksaar), ("sakSaksekvensnummer", sakssekvensnummer)):
        param = _el(definition, "parametere", ns=SOK_NS)
        _el(param, "operator", "equal", SOK_NS)
        values = _el(_el(param, "sokVerdier", ns=SOK_NS), "intvalues", ns=SOK_NS)
        _el(values, "value", value, SOK_NS)
        _el(param, "felt", field, SOK_NS)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def parse_sokeresultat(data: bytes, saksaar: int, sakssekvensnummer: int) -> CaseInfo | None:
    """The case of a sokeresultat (minimum), if it lists one with this saksnummer."""
    try:
        doc = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError as exc:
        raise RecordsUnavailable(f"Fiks Arkiv: unreadable search result: {exc}") from exc

    def child(el: etree._Element, name: str) -> str:
        found = el.xpath(f"./*[local-name()='{name}']")
        return (found[0].text or "").strip() if found else ""

    for mappe in doc.xpath("//*[local-name()='saksmappe']"):
        if child(mappe, "saksaar") == str(saksaar) and child(mappe, "sakssekvensnummer") == str(
            sakssekvensnummer
        ):
            status = mappe.xpath("./*[local-name()='saksstatus']/*[local-name()='kode']")
            code = (status[0].text or "").strip() if status else ""
            closed = code in ("A", "U")  # avsluttet, utgår (M052)
            return CaseInfo(f"{saksaar}/{sakssekvensnummer}", child(mappe, "tittel"), closed)
    return None
