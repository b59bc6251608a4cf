"""A fake archive on the far side of Fiks Arkiv, working the folders as a Fiks IO client would:
it takes each message from the outgoing folder, checks its arkivmelding against the official
schema and every file against its declared checksum and size, journals it and writes the
kvittering (or a feilmelding) into the incoming folder."""

from __future__ import annotations

import hashlib
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lxml import etree

from archiving.adapters.fiks_arkiv import KVIT, KVITTERING, MDK, NS, XSI
from tests.schemas import assert_valid

FEIL = "https://ks-no.github.io/standarder/fiks-protokoll/fiks-arkiv/feil/feilmelding/v2"
UGYLDIG = "https://ks-no.github.io/standarder/fiks-protokoll/fiks-arkiv/feil/ugyldigforespoersel/v2"
OPPRETT_XSD = "fiks-arkiv-v2/no.ks.fiks.arkiv.v2.arkivering.arkivmelding.opprett.xsd"
KVITTERING_XSD = "fiks-arkiv-v2/no.ks.fiks.arkiv.v2.arkivering.arkivmelding.opprett.kvittering.xsd"
UGYLDIG_XSD = "fiks-arkiv-v2/no.ks.fiks.arkiv.v2.feilmelding.ugyldigforespoersel.xsd"


class FakeFiksArchive:
    def __init__(self, outgoing: Path, incoming: Path) -> None:
        self.outgoing, self.incoming = outgoing, incoming
        self.received: list[dict[str, Any]] = []  # what was journalled, with its files
        self.cases: dict[str, tuple[int, int]] = {}  # external key of a new case -> saksnummer
        self.seq = 0

    def pending(self) -> list[Path]:
        if not self.outgoing.is_dir():
            return []
        return sorted(p for p in self.outgoing.iterdir() if not p.name.startswith("."))

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
