"""Journalling through KS Fiks Arkiv v2: schema-valid arkivmelding plus files handed over in the
outgoing folder, the item waiting for its receipt, and the kvittering (or feilmelding) read back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from lxml import etree
from sqlalchemy import select

from archiving.adapters.fiks_arkiv import MDK, NS, message_id
from archiving.journal import entry_key, journal_item
from archiving.models import ArchiveItem, ArchiveState
from inbox.extensions import db
from inbox.models import AuditEntry
from inbox.models.base import utcnow
from tests.fakes.fiks_arkiv import OPPRETT_XSD, FakeFiksArchive
from tests.records_helpers import approved_item
from tests.schemas import assert_valid
from workers.housekeeping import sweep

NSMAP = {"a": NS, "m": MDK}


@pytest.fixture
def folders(tmp_path):
    return {"outgoing_dir": str(tmp_path / "ut"), "incoming_dir": str(tmp_path / "inn")}


@pytest.fixture
def archive(folders):
    from pathlib import Path

    return FakeFiksArchive(Path(folders["outgoing_dir"]), Path(folders["incoming_dir"]))


def reload(item_id):
    db.session.expire_all()
    return db.session.get(ArchiveItem, item_id)


def poll_now(item_id):
    """Time passes: the item is due to look for its receipt again."""
    item = reload(item_id)
    item.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()


def test_new_case_journalled_when_the_receipts_arrive(app, factory, tasks, folders, archive):
    item = approved_item(factory, adapter="fiks_arkiv", config=folders)
    assert tasks.run_all() == ["awaiting receipt"]
    item = reload(item.id)
    # Handed over; visible as journalling, waiting for the receipt.
    assert item.state is ArchiveState.JOURNALLING and item.next_attempt_at > utcnow()
    [folder] = archive.pending()
    assert folder.name == message_id(entry_key(item, 0))
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]
    doc = assert_valid(OPPRETT_XSD, (folder / "arkivmelding.xml").read_bytes())
    assert doc.find("a:mappe", NSMAP).get("{http://www.w3.org/2001/XMLSchema-instance}type") == (
        "saksmappe"
    )
    assert doc.findtext("a:registrering/a:journalposttype/m:kode", namespaces=NSMAP) == "I"
    assert sweep()["archive_items"] == 0  # not due yet

    # A retry before the receipt arrives sends nothing again.
    poll_now(item.id)
    assert journal_item(item.id) == "awaiting receipt"
    assert len(archive.pending()) == 1

    archive.process()
    poll_now(item.id)
    assert sweep()["archive_items"] == 1
    # The first entry is journalled; the answer goes into the case the receipt named.
    assert tasks.run_all() == ["awaiting receipt"]
    [folder] = archive.pending()
    doc = assert_valid(OPPRETT_XSD, (folder / "arkivmelding.xml").read_bytes())
    year, seq = archive.received[0]["case"]
    ref = "a:registrering/a:referanseForelderMappe/m:saksnummer/m:"
    assert doc.findtext(ref + "saksaar", namespaces=NSMAP) == str(year)
    assert doc.findtext(ref + "sakssekvensnummer", namespaces=NSMAP) == str(seq)
    assert doc.find("a:mappe", NSMAP) is None

    archive.process()
    poll_now(item.id)
    assert journal_item(item.id) == "journalled"
    item = reload(item.id)
    receipts = sorted(item.receipts, key=lambda r: r.part)
    assert [r.journalpostnummer for r in receipts] == [f"{year}/{seq}-1", f"{year}/{seq}-2"]
    assert [r.system_id for r in receipts] == [e["systemID"] for e in archive.received]
    assert [e["journalposttype"] for e in archive.received] == ["I", "U"]
    assert len(archive.received) == 2
    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions.count("archive.delivered") == 2 and actions[-1] == "archive.journalled"


def test_existing_case_screened_entry_is_schema_valid(app, factory, tasks, folders, archive):
    item = approved_item(
        factory,
        adapter="fiks_arkiv",
        config=folders,
        case_number="2026/1234",
        answer=False,
        screening_code="13",
        screening_basis="Offl. § 13 jf. fvl. § 13",
        screening_fields="NA",
        anonymous=False,
        correspondent_name="Kari Nordmann",
    )
    assert tasks.run_all() == ["awaiting receipt"]
    [folder] = archive.pending()
    data = (folder / "arkivmelding.xml").read_bytes()
    doc = assert_valid(OPPRETT_XSD, data)
    jp = doc.find("a:registrering", NSMAP)
    assert jp.findtext("a:skjerming/a:skjermingshjemmel", namespaces=NSMAP) == (
        "Offl. § 13 jf. fvl. § 13"
    )
    assert jp.findtext("a:korrespondansepart/a:erSkjermet", namespaces=NSMAP) == "true"
    obj = jp.find("a:dokumentbeskrivelse/a:dokumentobjekt", NSMAP)
    assert obj.findtext("a:sjekksumAlgoritme", namespaces=NSMAP) == "SHA256"
    assert (folder / obj.findtext("a:referanseDokumentfil", namespaces=NSMAP)).is_file()
    archive.process()
    poll_now(item.id)
    assert journal_item(item.id) == "journalled"
    [receipt] = reload(item.id).receipts
    assert receipt.journalpostnummer == "2026/1234-1"


def test_feilmelding_fails_the_item_with_its_message(app, factory, tasks, folders, archive):
    item = approved_item(factory, adapter="fiks_arkiv", config=folders, answer=False)
    assert tasks.run_all() == ["awaiting receipt"]
    archive.process(reject="Saken 2026/1 er avsluttet")
    poll_now(item.id)
    assert journal_item(item.id) == "failed"
    item = reload(item.id)
    assert item.state is ArchiveState.FAILED
    assert "Saken 2026/1 er avsluttet" in item.last_error
    first = archive.incoming.iterdir().__next__().name

    # Records staff retry: a new message (Fiks IO ids are used once) and this time a receipt.
    item.move_to(ArchiveState.APPROVED)
    db.session.commit()
    assert journal_item(item.id) == "awaiting receipt"
    [folder] = archive.pending()
    assert folder.name != first
    archive.process()
    poll_now(item.id)
    assert journal_item(item.id) == "journalled"
    assert len(archive.received) == 1


def test_arkivmelding_is_written_atomically(app, factory, tasks, folders, archive):
    approved_item(factory, adapter="fiks_arkiv", config=folders, answer=False)
    tasks.run_all()
    [folder] = archive.pending()
    names = sorted(p.name for p in folder.iterdir())
    assert names[-2:] == ["arkivmelding.xml", "melding.json"]
    assert etree.parse(str(folder / "arkivmelding.xml")).getroot().tag == f"{{{NS}}}arkivmelding"


def test_server_error_from_the_archive_sends_the_message_again(
    app, factory, tasks, folders, archive
):
    from tests.fakes.fiks_arkiv import FEIL

    item = approved_item(factory, adapter="fiks_arkiv", config=folders, answer=False)
    assert tasks.run_all() == ["awaiting receipt"]
    [folder] = archive.pending()
    mid = folder.name
    # The archive's side failed: it answers serverfeil and drops the message.
    import shutil

    shutil.rmtree(folder)
    reply = archive.incoming / mid
    reply.mkdir(parents=True)
    ns = "https://ks-no.github.io/standarder/fiks-protokoll/fiks-arkiv/feil/serverfeil/v2"
    root = etree.Element(f"{{{ns}}}serverfeil", nsmap={None: ns, "f": FEIL})
    etree.SubElement(root, f"{{{FEIL}}}feilId").text = "e-1"
    etree.SubElement(root, f"{{{FEIL}}}feilmelding").text = "Arkivet er nede"
    data = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    assert_valid("fiks-arkiv-v2/no.ks.fiks.arkiv.v2.feilmelding.serverfeil.xsd", data)
    (reply / "no.ks.fiks.arkiv.v2.feilmelding.serverfeil.xml").write_bytes(data)

    poll_now(item.id)
    assert journal_item(item.id) == "retry"
    item = reload(item.id)
    assert item.state is ArchiveState.APPROVED and "Arkivet er nede" in item.last_error
    poll_now(item.id)
    assert journal_item(item.id) == "awaiting receipt"
    [again] = archive.pending()  # the same entry, sent again as a new message
    assert again.name != mid
    doc = assert_valid(OPPRETT_XSD, (again / "arkivmelding.xml").read_bytes())
    key = "a:registrering/a:referanseEksternNoekkel/m:noekkel"
    assert doc.findtext(key, namespaces=NSMAP) == entry_key(item, 0)
    archive.process()
    poll_now(item.id)
    assert journal_item(item.id) == "journalled"
    assert len(archive.received) == 1
