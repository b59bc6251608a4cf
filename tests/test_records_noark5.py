"""Journalling into a Noark 5 tjenestegrensesnitt (REST) records system, against a strict
fake over real HTTP: the whole flow, a checksum mismatch, the server down then up, an answer
lost in transit; each ends with exactly one journal entry per part."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from archiving.adapters.noark5_rest import Noark5Rest
from archiving.interfaces import Correspondent, Document, JournalRequest, RecordsRejected
from archiving.journal import entry_key, journal_item
from archiving.models import ArchiveItem, ArchiveState
from inbox.extensions import db
from inbox.models import AuditEntry
from inbox.models.base import utcnow
from tests.archiving_support import pdf_text
from tests.fakes.noark5 import FakeNoark5
from tests.records_helpers import approved_item
from workers.housekeeping import sweep


@pytest.fixture
def noark(monkeypatch):
    monkeypatch.setenv("NOARK_TOKEN_TEST", "test-token")
    with FakeNoark5(token="test-token") as fake:
        yield fake
        fake.release()


def rest_item(factory, fake, **kw):
    config = {"base_url": fake.url, "token_env": "NOARK_TOKEN_TEST", "timeout": 5}
    return approved_item(factory, adapter="noark5_rest", config=config, **kw)


def reload(item_id):
    db.session.expire_all()
    return db.session.get(ArchiveItem, item_id)


def assert_complete(fake, key):
    """Exactly one journalpost with this key, with its correspondent, document and file."""
    [jp] = fake.entries(key)
    assert len(fake.of_kind("korrespondansepartperson", jp["systemID"])) == 1
    [doc] = fake.of_kind("dokumentbeskrivelse", jp["systemID"])
    [obj] = fake.of_kind("dokumentobjekt", doc["systemID"])
    data = fake.files[obj["systemID"]]
    assert obj["sjekksum"] == hashlib.sha256(data).hexdigest()
    assert obj["filstoerrelse"] == len(data)
    return jp, data


def test_whole_flow_into_a_new_case(app, factory, tasks, noark, tmp_path):
    item = rest_item(factory, noark)
    assert tasks.run_all() == ["journalled"]

    item = reload(item.id)
    assert item.state is ArchiveState.JOURNALLED
    [case] = noark.of_kind("saksmappe")
    assert case["tittel"] == "Klage på byggesak"
    receipts = sorted(item.receipts, key=lambda r: r.part)
    case_number = f"{case['saksaar']}/{case['sakssekvensnummer']}"
    assert [r.journalpostnummer for r in receipts] == [f"{case_number}-1", f"{case_number}-2"]
    question, q_bytes = assert_complete(noark, entry_key(item, 0))
    answer, a_bytes = assert_complete(noark, entry_key(item, 1))
    assert [question["journalposttype"]["kode"], answer["journalposttype"]["kode"]] == ["I", "U"]
    assert [r.system_id for r in receipts] == [question["systemID"], answer["systemID"]]
    assert [r.document_sha256 for r in receipts] == [
        hashlib.sha256(q_bytes).hexdigest(),
        hashlib.sha256(a_bytes).hexdigest(),
    ]
    assert [r.document_size for r in receipts] == [len(q_bytes), len(a_bytes)]
    assert "Jeg klager på vedtaket" in pdf_text(q_bytes, tmp_path)
    assert "Takk, klagen" in pdf_text(a_bytes, tmp_path)
    assert question["dokumentetsDato"].endswith("+00:00")
    # Discovered from /api, authenticated every time, files sent with type and length.
    assert noark.requests[0].path == "/api"
    assert all(r.headers.get("Authorization") == "Bearer test-token" for r in noark.requests)
    uploads = [r for r in noark.requests if r.path.endswith("/fil") and r.method == "POST"]
    assert [u.headers["Content-Length"] for u in uploads] == [str(len(q_bytes)), str(len(a_bytes))]
    assert all(u.headers["Content-Type"] == "application/pdf" for u in uploads)
    audit = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "archive.journalled")
    ).one()
    assert audit.data["system_ids"] == [question["systemID"], answer["systemID"]]


def test_entry_in_an_existing_case_and_an_unknown_case(app, factory, tasks, noark):
    noark.add_case(2026, 1234, "Byggesak Storgata 1")
    item = rest_item(factory, noark, case_number="2026/1234", answer=False)
    assert tasks.run_all() == ["journalled"]
    [receipt] = reload(item.id).receipts
    assert receipt.journalpostnummer == "2026/1234-1"
    assert len(noark.of_kind("saksmappe")) == 1

    other = rest_item(factory, noark, case_number="2026/9999", answer=False)
    assert tasks.run_all() == ["failed"]
    other = reload(other.id)
    assert other.state is ArchiveState.FAILED
    assert "2026/9999 does not exist" in other.last_error
    assert noark.entries(entry_key(other, 0)) == []


def test_checksum_mismatch_fails_then_retry_completes_the_same_entry(app, factory, tasks, noark):
    noark.corrupt_uploads = True
    item = rest_item(factory, noark, answer=False)
    assert tasks.run_all() == ["failed"]
    item = reload(item.id)
    assert item.state is ArchiveState.FAILED
    assert "sjekksum does not match" in item.last_error and "HTTP 400" in item.last_error
    assert len(noark.entries()) == 1 and noark.files == {}
    actions = db.session.scalars(select(AuditEntry.action)).all()
    assert "archive.failed" in actions

    # Records staff retry once the transfer is fixed: the same entry gets its file.
    noark.corrupt_uploads = False
    item.move_to(ArchiveState.APPROVED)
    db.session.commit()
    assert journal_item(item.id) == "journalled"
    assert_complete(noark, entry_key(item, 0))
    assert len(noark.entries()) == 1


def test_server_down_then_up(app, factory, tasks, noark):
    noark.down = True
    item = rest_item(factory, noark)
    assert tasks.run_all() == ["retry"]
    item = reload(item.id)
    # Visible to records staff: still approved, with the error and when we try again.
    assert item.state is ArchiveState.APPROVED
    assert "HTTP 503" in item.last_error and "down for maintenance" in item.last_error
    assert item.next_attempt_at > utcnow()
    assert sweep()["archive_items"] == 0  # not due yet
    assert noark.entries() == []

    # Hours later the records system is back and the back-off has run out.
    noark.down = False
    item.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert sweep()["archive_items"] == 1
    assert tasks.run_all() == ["journalled"]
    item = reload(item.id)
    assert item.state is ArchiveState.JOURNALLED and item.last_error is None
    for part in (0, 1):
        assert_complete(noark, entry_key(item, part))
    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-2:] == ["archive.postponed", "archive.journalled"]


def test_back_off_grows_with_each_failed_attempt(app, factory, tasks, noark):
    noark.down = True
    item = rest_item(factory, noark, answer=False)
    waits = []
    for _ in range(3):
        tasks.sent.clear()
        before = utcnow()
        assert journal_item(item.id) == "retry"
        waits.append((reload(item.id).next_attempt_at - before).total_seconds())
    assert waits[0] < waits[1] < waits[2]


@pytest.mark.parametrize("kind", ["journalpost", "saksmappe", "fil"])
def test_answer_lost_in_transit_makes_no_second_entry(app, factory, tasks, noark, kind):
    noark.drop_after_create(kind)
    item = rest_item(factory, noark, answer=False)
    assert tasks.run_all() == ["retry"]
    assert "ConnectionError" in reload(item.id).last_error
    assert journal_item(item.id) == "journalled"
    assert_complete(noark, entry_key(item, 0))
    assert len(noark.of_kind("saksmappe")) == 1
    [receipt] = reload(item.id).receipts
    assert receipt.system_id == noark.entries()[0]["systemID"]


def test_file_already_uploaded_is_taken_as_done(app, factory, noark, monkeypatch):
    tenant = factory.tenant(
        records_adapter="noark5_rest",
        records_config={"base_url": noark.url, "token_env": "NOARK_TOKEN_TEST"},
    )
    noark.add_case(2026, 7, "Sak")
    data = b"Hei"
    doc = Document(
        "Hei", "hei.txt", "text/plain", "x-fmt/111", data, hashlib.sha256(data).hexdigest()
    )
    request = JournalRequest(
        external_key="k-1:0",
        tenant_slug=tenant.slug,
        case_number="2026/7",
        new_case_title=None,
        title="Hei",
        journalposttype="I",
        document_date=utcnow(),
        correspondents=[Correspondent(None, None, "EA")],
        documents=[doc],
    )
    first = Noark5Rest(tenant).journal(request)
    again = Noark5Rest(tenant).journal(request)  # re-uploading the file is refused (409)
    assert again.system_id == first.system_id
    assert any(r.method == "POST" and r.path.endswith("/fil") for r in noark.requests[-6:])
    assert len(noark.entries()) == 1
    assert Noark5Rest(tenant).find_entry("k-1:0") == again
    # A different file for the same entry is not silently accepted.
    other = b"Noe annet"
    changed = Document(
        "Hei", "hei.txt", "text/plain", "x-fmt/111", other, hashlib.sha256(other).hexdigest()
    )
    with pytest.raises(RecordsRejected):
        Noark5Rest(tenant).journal(JournalRequest(**{**request.__dict__, "documents": [changed]}))


def test_wrong_token_is_retried_not_failed(app, factory, tasks, noark, monkeypatch):
    monkeypatch.setenv("NOARK_TOKEN_TEST", "expired")
    item = rest_item(factory, noark, answer=False)
    assert tasks.run_all() == ["retry"]
    assert "HTTP 401" in reload(item.id).last_error


def test_screening_reaches_the_records_system(app, factory, tasks, noark):
    noark.add_case(2026, 55, "Barnevern")
    item = rest_item(
        factory,
        noark,
        case_number="2026/55",
        answer=False,
        screening_code="13",
        screening_basis="Offl. § 13 jf. fvl. § 13",
        screening_fields="NA",
        correspondent_name="Ola Skjermet",
        anonymous=False,
    )
    assert tasks.run_all() == ["journalled"]
    jp, _ = assert_complete(noark, entry_key(item, 0))
    assert jp["skjerming"]["tilgangsrestriksjon"] == {"kode": "13"}
    assert jp["skjerming"]["skjermingshjemmel"] == "Offl. § 13 jf. fvl. § 13"
    assert jp["skjerming"]["skjermingMetadata"] == [
        {"kode": "NA", "kodenavn": "Skjerming navn avsender"}
    ]
    [part] = noark.of_kind("korrespondansepartperson", jp["systemID"])
    assert part["navn"] == "Ola Skjermet"
    assert part["korrespondanseparttype"]["kode"] == "EA"
