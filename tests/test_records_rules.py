"""Noark 5 rules an archivist checks, in all three records systems (embedded journal and its
deposit export, Noark 5 REST, KS Fiks Arkiv): screening chosen from skjermingMetadata (M502)
never leaks into a public output, an anonymous citizen is sent with no name or contact details,
correspondent types, journalstatus, titles, dokumenttype, opprettetAv and dates are right."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import requests
from lxml import etree

from archiving import triage
from archiving.journal import entry_key, journal_item
from archiving.models import ArchiveItem
from inbox.extensions import db
from inbox.models import ChannelKind, Role
from tests.archiving_support import flagged, thread
from tests.fakes.fiks_arkiv import OPPRETT_XSD, FakeFiksArchive
from tests.fakes.noark5 import MEDIA_TYPE, FakeNoark5
from tests.schemas import assert_valid
from tests.test_records_export import close, export
from tests.test_records_fiks import NSMAP, poll_now

ROOT = Path(__file__).resolve().parent.parent
N5 = "http://www.arkivverket.no/standarder/noark5/"
AS = {"a": N5 + "arkivstruktur"}
NAME, PHONE = "Kari Nordmann", "+4791234567"
TITLE = "Byggesak for Kari Nordmann"
BODIES = ["Hei, jeg lurer på byggesøknaden min.", "Takk, vi ser på den."]


@pytest.fixture
def noark(monkeypatch):
    monkeypatch.setenv("NOARK_TOKEN_TEST", "test-token")
    with FakeNoark5(token="test-token") as fake:
        yield fake
        fake.release()


@pytest.fixture
def fiks(tmp_path):
    folders = {"outgoing_dir": str(tmp_path / "ut"), "incoming_dir": str(tmp_path / "inn")}
    return folders, FakeFiksArchive(tmp_path / "ut", tmp_path / "inn")


def journal(factory, tasks, adapter="embedded", config=None, bodies=BODIES, **details):
    """A named citizen's SMS thread (question, answer) flagged by Siri and approved."""
    tenant = factory.tenant(records_adapter=adapter, records_config=config or {})
    staff = factory.user(tenant, Role.CASEWORKER, name="Siri Saksbehandler")
    officer = factory.user(tenant, Role.RECORDS_OFFICER, name="Rita Arkivar")
    conv = thread(factory.channel(tenant, ChannelKind.SMS), staff, list(bodies), name=NAME)
    types = details.pop("types", None)
    if types:
        msgs = triage.archivable_messages(conv)
        details["types"] = {msgs[i].id: t for i, t in types.items()}
    item = flagged(conv, staff, title=details.pop("title", TITLE), **details)
    triage.approve(item, officer)
    db.session.commit()
    return tenant, item, tasks.run_all()


def rest(noark):
    return {"base_url": noark.url, "token_env": "NOARK_TOKEN_TEST", "timeout": 5}


def rest_entries(noark, item):
    db.session.expire_all()
    item = db.session.get(ArchiveItem, item.id)
    return [noark.entries(entry_key(item, part))[0] for part in range(len(item.messages))]


def deposit(app, tenant, tmp_path, *, open_period=False):
    """The export of the closed period, or (open_period) of the period as journalled."""
    out = tmp_path / "uttrekk"
    if open_period:
        export(app, tenant, out, "--open")
    else:
        close(app, tenant)
        export(app, tenant, out)
    return {
        name: (out / f"{name}.xml").read_bytes()
        for name in ("arkivstruktur", "loependeJournal", "offentligJournal")
    }


def arkivmelding(archive):
    [folder] = archive.pending()
    return assert_valid(OPPRETT_XSD, (folder / "arkivmelding.xml").read_bytes())


# -- screening ----------------------------------------------------------------------------------


def test_flag_form_offers_skjermingmetadata_codes_and_stores_them(client, login, factory):
    tenant = factory.tenant()
    staff = factory.user(tenant, Role.CASEWORKER)
    conv = thread(factory.channel(tenant, ChannelKind.SMS), staff, BODIES, name=NAME)
    login(staff)
    page = client.get(f"/c/{conv.id}").get_data(as_text=True)
    for code, label in (
        ("NA", "Skjerming navn avsender"),
        ("TRO", "Skjerming tittel registrering"),
    ):
        assert f'name="screening_fields" value="{code}"' in page and label in page
    assert '<option value="13"' in page and '<option value="UO"' in page
    resp = client.post(
        f"/c/{conv.id}/archive/flag",
        data={
            "new_case_title": "Byggesak",
            "title": TITLE,
            "correspondent_name": NAME,
            "screening_code": "13",
            "screening_fields": ["NA", "TRO"],
        },
    )
    assert resp.status_code == 303
    item = db.session.query(ArchiveItem).one()
    # Codes, in the code list's order; the legal basis follows from the code when left empty.
    assert (item.screening_code, item.screening_fields, item.screening_basis) == (
        "13",
        "TRO,NA",
        "Offl. § 13",
    )


def test_migration_turns_free_text_into_codes():
    path = ROOT / "migrations" / "versions" / "records_noark_rules.py"
    spec = importlib.util.spec_from_file_location("records_noark_rules", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.to_codes("avsenders navn") == "NA"
    assert module.to_codes("korrespondansepartNavn") == "NA,NM"  # the old tokens
    assert module.to_codes("tittelRegistrering") == "TRO"
    assert module.to_codes("mottakers navn og tittel") == "NM,TRO"
    assert module.to_codes("noe helt annet") == ""  # unknown: title and names (the default)
    assert module.to_codes("NA,TRO") == "NA,TRO"


def test_public_journal_hides_a_screened_sender_named_by_code(app, factory, tasks, tmp_path):
    tenant, _item, results = journal(
        factory, tasks, screening_code="13", screening_basis="Offl. § 13", screening_fields="NA"
    )
    assert results == ["journalled"]
    files = deposit(app, tenant, tmp_path)
    public = files["offentligJournal"].decode()
    assert NAME in files["loependeJournal"].decode()
    assert "Kari" not in public and "Nordmann" not in public and PHONE not in public
    # The public sees the code and its legal basis, not what is hidden.
    doc = etree.fromstring(files["offentligJournal"])
    ns = {"o": N5 + "offentligJournal"}
    assert doc.findtext(".//o:journalpost/o:tilgangsrestriksjon", namespaces=ns) == "13"
    assert doc.findtext(".//o:journalpost/o:skjermingshjemmel", namespaces=ns) == "Offl. § 13"
    assert "*****" in doc.findtext(".//o:journalpost/o:offentligTittel", namespaces=ns)


def test_screening_with_no_field_chosen_screens_title_and_names_everywhere(
    app, factory, tasks, tmp_path, noark, fiks
):
    # Fiks Arkiv: offentligTittel replaces the screened words; the named party is erSkjermet.
    folders, archive = fiks
    journal(
        factory, tasks, "fiks_arkiv", folders, screening_code="13", screening_basis="Offl. § 13"
    )
    jp = arkivmelding(archive).find("a:registrering", NSMAP)
    public_title = jp.findtext("a:offentligTittel", namespaces=NSMAP)
    assert public_title and "Kari" not in public_title and "Byggesak" not in public_title
    assert jp.findtext("a:korrespondansepart/a:erSkjermet", namespaces=NSMAP) == "true"
    assert jp.findtext("a:skjerming/a:tilgangsrestriksjon/m:kode", namespaces=NSMAP) == "13"
    assert jp.findtext("a:skjerming/a:skjermingshjemmel", namespaces=NSMAP) == "Offl. § 13"
    # Embedded journal: the public journal.
    tenant, _item, _ = journal(
        factory, tasks, screening_code="13", screening_basis="Offl. § 13", screening_fields=""
    )
    public = deposit(app, tenant, tmp_path)["offentligJournal"].decode()
    assert "Kari" not in public and "Byggesak for" not in public
    # Noark 5 REST: offentligTittel and skjermingMetadata.
    _tenant, item, results = journal(
        factory,
        tasks,
        "noark5_rest",
        rest(noark),
        screening_code="13",
        screening_basis="Offl. § 13",
    )
    assert results == ["journalled"]
    for jp in rest_entries(noark, item):
        assert "Kari" not in jp["offentligTittel"] and "Byggesak" not in jp["offentligTittel"]
        assert jp["tittel"].startswith(TITLE)
        codes = {c["kode"] for c in jp["skjerming"]["skjermingMetadata"]}
        # The title, and the citizen's name in the citizen's role: avsender (I), mottaker (U).
        citizen = "NA" if jp["journalposttype"]["kode"] == "I" else "NM"
        assert {"TRO", citizen} <= codes
        assert jp["skjerming"]["tilgangsrestriksjon"] == {"kode": "13"}


def test_anonymous_citizen_has_no_name_or_contact_and_is_not_screened(
    app, factory, tasks, tmp_path, noark, fiks
):
    tenant, _item, _ = journal(factory, tasks, anonymous=True, title="Byggesøknad")
    for name, data in deposit(app, tenant, tmp_path).items():
        text = data.decode()
        assert NAME not in text and PHONE not in text, name
        assert "skjerming" not in text.lower(), name
    _tenant, item, _ = journal(
        factory, tasks, "noark5_rest", rest(noark), anonymous=True, title="Byggesøknad"
    )
    for jp in rest_entries(noark, item):
        assert "skjerming" not in jp and "offentligTittel" not in jp
        [part] = noark.of_kind("korrespondansepartperson", jp["systemID"])
        assert part["navn"] == "Anonym innbygger" and "kontaktinformasjon" not in part
    folders, archive = fiks
    journal(factory, tasks, "fiks_arkiv", folders, anonymous=True, title="Byggesøknad")
    [folder] = archive.pending()
    text = (folder / "arkivmelding.xml").read_text()
    assert PHONE not in text and NAME not in text
    assert "erSkjermet" not in text and "skjerming" not in text


# -- correspondents, status, titles -------------------------------------------------------------


def test_rest_entries_carry_the_standards_values(app, factory, tasks, noark):
    _tenant, item, results = journal(factory, tasks, "noark5_rest", rest(noark))
    assert results == ["journalled"]
    question, answer = rest_entries(noark, item)
    assert (question["journalposttype"]["kode"], question["journalstatus"]["kode"]) == ("I", "J")
    assert (answer["journalposttype"]["kode"], answer["journalstatus"]["kode"]) == ("U", "E")
    [asker] = noark.of_kind("korrespondansepartperson", question["systemID"])
    [receiver] = noark.of_kind("korrespondansepartperson", answer["systemID"])
    assert (asker["korrespondanseparttype"]["kode"], asker["navn"]) == ("EA", NAME)
    assert (receiver["korrespondanseparttype"]["kode"], receiver["navn"]) == ("EM", NAME)
    assert asker["kontaktinformasjon"] == {"mobiltelefon": PHONE}
    assert question["tittel"] != answer["tittel"]
    assert question["tittel"] == f"{TITLE} – spørsmål fra innbygger"
    assert answer["tittel"] == f"{TITLE} – svar til innbygger"
    assert question["opprettetAv"] == "Siri Saksbehandler"
    # The message's own time: received for the question, sent for the answer.
    assert question["mottattDato"] == "2026-03-02T09:00:00+00:00"
    assert answer["sendtDato"] == "2026-03-02T09:01:00+00:00"
    assert "sendtDato" not in question and "mottattDato" not in answer
    for jp in (question, answer):
        [doc] = noark.of_kind("dokumentbeskrivelse", jp["systemID"])
        assert doc["dokumenttype"]["kode"] != "B"


def test_internal_note_has_internal_parties_only(app, factory, tasks, tmp_path, noark):
    _tenant, item, results = journal(factory, tasks, "noark5_rest", rest(noark), types={1: "X"})
    assert results == ["journalled"]
    _question, note = rest_entries(noark, item)
    assert noark.of_kind("korrespondansepartperson", note["systemID"]) == []
    parts = noark.of_kind("korrespondansepartintern", note["systemID"])
    assert sorted(p["korrespondanseparttype"]["kode"] for p in parts) == ["IA", "IM"]
    assert {p.get("saksbehandler") for p in parts} >= {"Siri Saksbehandler"}
    # The embedded journal: the same rule, in the deposit.
    tenant, _item, _ = journal(factory, tasks, types={1: "N"})
    structure = etree.fromstring(deposit(app, tenant, tmp_path)["arkivstruktur"])
    entries = structure.findall(".//a:registrering", AS)
    note = next(
        e for e in entries if e.findtext("a:journalposttype", namespaces=AS).startswith("Org")
    )
    kinds = [
        p.findtext("a:korrespondanseparttype", namespaces=AS)
        for p in note.iterfind("a:korrespondansepart", AS)
    ]
    assert kinds == ["Intern avsender", "Intern mottaker"]
    names = [
        p.findtext("a:korrespondansepartNavn", namespaces=AS)
        for p in note.iterfind("a:korrespondansepart", AS)
    ]
    assert NAME not in names and "Siri Saksbehandler" in names


def test_deposit_entries_carry_the_standards_values(app, factory, tasks, tmp_path):
    tenant, _item, _ = journal(factory, tasks)
    # The statuses as journalled; closing the period makes both Arkivert (test_records_deposit).
    package = deposit(app, tenant, tmp_path, open_period=True)
    structure = etree.fromstring(package["arkivstruktur"])
    question, answer = structure.findall(".//a:registrering", AS)

    def text(el, name):
        return el.findtext(f"a:{name}", namespaces=AS)

    assert (text(question, "journalstatus"), text(answer, "journalstatus")) == (
        "Journalført",
        "Ekspedert",
    )
    parts = [
        text(e.find("a:korrespondansepart", AS), "korrespondanseparttype")
        for e in (question, answer)
    ]
    assert parts == ["Avsender", "Mottaker"]
    assert text(question, "tittel") != text(answer, "tittel")
    assert text(question, "opprettetAv") == "Siri Saksbehandler"
    assert structure.findtext(".//a:dokumentbeskrivelse/a:dokumenttype", namespaces=AS) != "Brev"
    assert (text(question, "dokumentetsDato"), text(question, "mottattDato")) == (
        "2026-03-02",
        "2026-03-02T09:00:00+00:00",
    )
    assert text(answer, "sendtDato") == "2026-03-02T09:01:00+00:00"
    assert text(question, "sendtDato") is None and text(answer, "mottattDato") is None


def test_arkivmelding_carries_the_standards_values(app, factory, tasks, fiks):
    folders, archive = fiks
    _tenant, item, _ = journal(factory, tasks, "fiks_arkiv", folders)
    jp = arkivmelding(archive).find("a:registrering", NSMAP)
    assert jp.findtext("a:journalstatus/m:kode", namespaces=NSMAP) == "J"
    assert (
        jp.findtext("a:korrespondansepart/a:korrespondanseparttype/m:kode", namespaces=NSMAP)
        == "EA"
    )
    assert jp.findtext("a:opprettetAv", namespaces=NSMAP) == "Siri Saksbehandler"
    assert jp.findtext("a:tittel", namespaces=NSMAP) == f"{TITLE} – spørsmål fra innbygger"
    assert jp.findtext("a:mottattDato", namespaces=NSMAP).startswith("2026-03-02T09:00:00")
    assert jp.findtext("a:dokumentbeskrivelse/a:dokumenttype/m:kode", namespaces=NSMAP) != "B"
    archive.process()
    poll_now(item.id)
    assert journal_item(item.id) == "awaiting receipt"
    # The answer's message (the question's was processed and removed).
    answer = arkivmelding(archive).find("a:registrering", NSMAP)
    assert answer.findtext("a:journalstatus/m:kode", namespaces=NSMAP) == "E"
    assert (
        answer.findtext("a:korrespondansepart/a:korrespondanseparttype/m:kode", namespaces=NSMAP)
        == "EM"
    )
    assert answer.findtext("a:sendtDato", namespaces=NSMAP).startswith("2026-03-02T09:01:00")


def test_fake_noark5_refuses_names_the_standard_does_not_define(app, noark):
    case = noark.add_case(2026, 1, "Sak")
    jp = noark._store("journalpost", case["systemID"], {"tittel": "T"})
    url = noark._url("journalpost", jp["systemID"], "/ny-korrespondansepartperson")
    headers = {"Authorization": "Bearer test-token", "Content-Type": MEDIA_TYPE}
    wrong = {"korrespondanseparttype": {"kode": "EA"}, "korrespondansepartNavn": "Kari"}
    resp = requests.post(url, json=wrong, headers=headers, timeout=5)
    assert resp.status_code == 400 and "korrespondansepartNavn" in resp.json()["message"]
    right = {"korrespondanseparttype": {"kode": "EA"}, "navn": "Kari"}
    assert requests.post(url, json=right, headers=headers, timeout=5).status_code == 201
    untyped = {"korrespondanseparttype": "EA", "navn": "Kari"}
    assert requests.post(url, json=untyped, headers=headers, timeout=5).status_code == 400
