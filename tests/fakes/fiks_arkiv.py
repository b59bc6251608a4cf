"""A fake archive on the far side of Fiks Arkiv, working the folders as a Fiks IO client would:
it takes each message from the outgoing folder, checks its arkivmelding against the official
schema and every file against its declared checksum and size, journals it and writes the
kvittering (or a feilmelding) into the incoming folder."""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lxml import etree

from archiving.adapters.fiks_arkiv import KVIT, KVITTERING, MDK, NS, SOK_NS, SOK_RESULTAT, XSI
from tests.schemas import assert_valid

FEIL = "https://ks-no.github.io/standarder/fiks-protokoll/fiks-arkiv/feil/feilmelding/v2"
UGYLDIG = "https://ks-no.github.io/standarder/fiks-protokoll/fiks-arkiv/feil/ugyldigforespoersel/v2"
OPPRETT_XSD = "fiks-arkiv-v2/no.ks.fiks.arkiv.v2.arkivering.arkivmelding.opprett.xsd"
KVITTERING_XSD = "fiks-arkiv-v2/no.ks.fiks.arkiv.v2.arkivering.arkivmelding.opprett.kvittering.xsd"
SOK_XSD = "fiks-arkiv-v2/no.ks.fiks.arkiv.v2.innsyn.sok.xsd"
SOK_RESULTAT_XSD = "fiks-arkiv-v2/no.ks.fiks.arkiv.v2.innsyn.sok.resultat.minimum.xsd"
MIN = "https://ks-no.github.io/standarder/fiks-protokoll/fiks-arkiv/sokeresultat/minimum/v2"
AMIN = "https://ks-no.github.io/standarder/fiks-protokoll/fiks-arkiv/arkivstruktur/minimum/v2"
UGYLDIG_XSD = "fiks-arkiv-v2/no.ks.fiks.arkiv.v2.feilmelding.ugyldigforespoersel.xsd"


class FakeFiksArchive:
    def __init__(self, outgoing: Path, incoming: Path) -> None:
        self.outgoing, self.incoming = outgoing, incoming
        self.received: list[dict[str, Any]] = []  # what was journalled, with its files
        self.cases: dict[str, tuple[int, int]] = {}  # external key of a new case -> saksnummer
        self.seq = 0
        # Cases the archive already holds, for searches: saksnummer -> (tittel, saksstatus)
        self.existing: dict[tuple[int, int], tuple[str, str]] = {}
        self.searches: list[dict[str, Any]] = []  # what each sok asked for

    def add_case(self, saksaar: int, seq: int, tittel: str, status: str = "B") -> None:
        self.existing[(saksaar, seq)] = (tittel, status)

    def pending(self, kind: str = "arkivmelding") -> list[Path]:
        """Message folders of the kind (arkivmelding or sok) waiting in the outgoing folder."""
        if not self.outgoing.is_dir():
            return []
        return sorted(
            p
            for p in self.outgoing.iterdir()
            if not p.name.startswith(".") and (p / f"{kind}.xml").is_file()
        )

    def answer_searches(self) -> int:
        """Answer each sok (no.ks.fiks.arkiv.v2.innsyn.sok) with a sokeresultat (minimum)."""
        answered = 0
        for folder in self.pending("sok"):
            meta = json.loads((folder / "melding.json").read_text())
            assert meta["meldingType"] == "no.ks.fiks.arkiv.v2.innsyn.sok"
            doc = assert_valid(SOK_XSD, (folder / "sok.xml").read_bytes())
            ns = {"s": SOK_NS}
            definition = doc.find("s:sokdefinisjon", ns)
            assert definition.get(f"{{{XSI}}}type") == "saksmappeSokdefinisjon"
            asked = {
                p.findtext("s:felt", namespaces=ns): int(
                    p.findtext("s:sokVerdier/s:intvalues/s:value", namespaces=ns)
                )
                for p in definition.iterfind("s:parametere", ns)
                if p.findtext("s:operator", namespaces=ns) == "equal"
            }
            self.searches.append(asked)
            key = (asked.get("sakSaksaar"), asked.get("sakSaksekvensnummer"))
            found = self.existing.get(key)  # type: ignore[arg-type]
            reply = self.incoming / folder.name
            reply.mkdir(parents=True, exist_ok=True)
            tmp = reply / ".resultat.xml"
            tmp.write_bytes(sokeresultat(key, found))  # type: ignore[arg-type]
            tmp.rename(reply / f"{SOK_RESULTAT}.xml")
            shutil.rmtree(folder)
            answered += 1
        return answered

    @contextlib.contextmanager
    def serving_searches(self) -> Iterator[None]:
        """Answer searches in the background while the block runs, as the archive would."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(0.02):
                self.answer_searches()

        worker = threading.Thread(target=loop, daemon=True)
        worker.start()
        try:
            yield
        finally:
            stop.set()
            worker.join()

    def process(self, reject: str | None = None) -> list[str]:
        done = []
        for folder in self.pending():
            reply = self.incoming / folder.name
            reply.mkdir(parents=True, exist_ok=True)
            (reply / "no.ks.fiks.arkiv.v2.arkivering.arkivmelding.opprett.mottatt").touch()
            if reject:
                (reply / "no.ks.fiks.arkiv.v2.feilmelding.ugyldigforespoersel.xml").write_bytes(
                    ugyldig(reject)
                )
            else:
                (reply / f"{KVITTERING}.xml").write_bytes(self._journal(folder))
            shutil.rmtree(folder)
            done.append(folder.name)
        return done

    def _journal(self, folder: Path) -> bytes:
        doc = assert_valid(OPPRETT_XSD, (folder / "arkivmelding.xml").read_bytes())
        ns = {"a": NS, "m": MDK}
        files = {}
        for obj in doc.iterfind(".//a:dokumentobjekt", ns):
            ref = obj.findtext("a:referanseDokumentfil", namespaces=ns)
            data = (folder / ref).read_bytes()
            assert hashlib.sha256(data).hexdigest() == obj.findtext("a:sjekksum", namespaces=ns)
            assert len(data) == int(obj.findtext("a:filstoerrelse", namespaces=ns))
            files[ref] = data
        assert int(doc.findtext("a:antallFiler", namespaces=ns)) == len(files)
        year = datetime.now(UTC).year
        mappe = doc.find("a:mappe", ns)
        if mappe is not None:
            self.seq += 1
            key = mappe.findtext("a:referanseEksternNoekkel/m:noekkel", namespaces=ns)
            self.cases[key] = (year, self.seq)
            case = (year, self.seq)
        else:
            parent = doc.find("a:registrering/a:referanseForelderMappe", ns)
            saksaar = parent.findtext("m:saksnummer/m:saksaar", namespaces=ns)
            if saksaar:
                seq = parent.findtext("m:saksnummer/m:sakssekvensnummer", namespaces=ns)
                case = (int(saksaar), int(seq))
            else:
                key = parent.findtext("m:referanseEksternNoekkel/m:noekkel", namespaces=ns)
                case = self.cases[key]
        jp = doc.find("a:registrering", ns)
        entry = {
            "systemID": str(uuid.uuid4()),
            "case": case,
            "key": jp.findtext("a:referanseEksternNoekkel/m:noekkel", namespaces=ns),
            "journalposttype": jp.findtext("a:journalposttype/m:kode", namespaces=ns),
            "files": files,
            "new_case": mappe is not None,
        }
        entry["journalpostnummer"] = 1 + sum(1 for e in self.received if e["case"] == case)
        self.received.append(entry)
        return kvittering(entry, year, len(self.received))


def sokeresultat(key: tuple[int, int], found: tuple[str, str] | None) -> bytes:
    root = etree.Element(
        f"{{{MIN}}}sokeresultatMinimum", nsmap={None: MIN, "a": AMIN, "n5mdk": MDK}
    )
    for name, value in (("system", "Fake arkiv"), ("take", 2), ("skip", 0)):
        etree.SubElement(root, f"{{{MIN}}}{name}").text = str(value)
    etree.SubElement(root, f"{{{MIN}}}count").text = "1" if found else "0"
    etree.SubElement(root, f"{{{MIN}}}resultattype").text = "saksmappe"
    liste = etree.SubElement(root, f"{{{MIN}}}resultatListe")
    if found:
        tittel, status = found
        mappe = etree.SubElement(
            etree.SubElement(liste, f"{{{MIN}}}resultatMinimum"), f"{{{MIN}}}saksmappe"
        )

        def el(parent: Any, name: str, text: Any = None) -> Any:
            e = etree.SubElement(parent, f"{{{AMIN}}}{name}")
            if text is not None:
                e.text = str(text)
            return e

        el(mappe, "systemID", str(uuid.uuid4()))
        el(mappe, "mappeID", f"{key[0]}/{key[1]}")
        el(mappe, "tittel", tittel)
        el(mappe, "saksaar", key[0])
        el(mappe, "sakssekvensnummer", key[1])
        el(mappe, "saksdato", f"{key[0]}-01-15")
        # Their parts (identifikatorer, kode) are metadatakatalog types.
        etree.SubElement(el(mappe, "administrativEnhet"), f"{{{MDK}}}navn").text = "Servicetorget"
        etree.SubElement(el(mappe, "saksansvarlig"), f"{{{MDK}}}navn").text = "Saksbehandler"
        etree.SubElement(el(mappe, "saksstatus"), f"{{{MDK}}}kode").text = status
    data = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    assert_valid(SOK_RESULTAT_XSD, data)
    return data


def kvittering(entry: dict[str, Any], year: int, sequence: int) -> bytes:
    root = etree.Element(
        f"{{{KVIT}}}arkivmeldingKvittering", nsmap={None: KVIT, "n5mdk": MDK, "xsi": XSI}
    )
    if entry["new_case"]:
        mk = etree.SubElement(root, f"{{{KVIT}}}mappeKvittering")
        mk.set(f"{{{XSI}}}type", "saksmappeKvittering")
        etree.SubElement(mk, f"{{{KVIT}}}systemID").text = str(uuid.uuid4())
        etree.SubElement(mk, f"{{{KVIT}}}opprettetEllerEksisterende").text = "Opprettet"
        etree.SubElement(mk, f"{{{KVIT}}}saksaar").text = str(entry["case"][0])
        etree.SubElement(mk, f"{{{KVIT}}}sakssekvensnummer").text = str(entry["case"][1])
    rk = etree.SubElement(root, f"{{{KVIT}}}registreringKvittering")
    rk.set(f"{{{XSI}}}type", "journalpostKvittering")
    etree.SubElement(rk, f"{{{KVIT}}}systemID").text = entry["systemID"]
    key = etree.SubElement(rk, f"{{{KVIT}}}referanseEksternNoekkel")
    etree.SubElement(key, f"{{{MDK}}}fagsystem").text = "Servicetorg"
    etree.SubElement(key, f"{{{MDK}}}noekkel").text = entry["key"]
    etree.SubElement(rk, f"{{{KVIT}}}opprettetEllerEksisterende").text = "Opprettet"
    etree.SubElement(rk, f"{{{KVIT}}}journalaar").text = str(year)
    etree.SubElement(rk, f"{{{KVIT}}}journalsekvensnummer").text = str(sequence)
    etree.SubElement(rk, f"{{{KVIT}}}journalpostnummer").text = str(entry["journalpostnummer"])
    etree.SubElement(rk, f"{{{KVIT}}}journaldato").text = datetime.now(UTC).date().isoformat()
    data = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    assert_valid(KVITTERING_XSD, data)
    return data


def ugyldig(message: str) -> bytes:
    root = etree.Element(f"{{{UGYLDIG}}}ugyldigforespoersel", nsmap={None: UGYLDIG, "f": FEIL})
    etree.SubElement(root, f"{{{FEIL}}}feilId").text = str(uuid.uuid4())
    etree.SubElement(root, f"{{{FEIL}}}feilmelding").text = message
    data = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    assert_valid(UGYLDIG_XSD, data)
    return data
