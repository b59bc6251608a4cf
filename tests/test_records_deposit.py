"""A deposit (avlevering) of the embedded journal as Arkivverket's Arkade 5 would test it.

Data is made through the app's own paths (flag, review, the journalling task), the period is
closed by records staff as its own action, and the exported package is run through the official
XSDs and through each error-producing Arkade test (tests/arkade_checks.py)."""

from __future__ import annotations

import json
from pathlib import Path

from lxml import etree
from sqlalchemy import select

from archiving.adapters.embedded_models import RecordsCase, RecordsChange, RecordsEntry
from archiving.models import ArchiveItem
from inbox.extensions import db
from tests import arkade_checks
from tests.records_helpers import flag_in
from tests.schemas import standards_dir
from tests.test_records_export import close, export, journalled_tenant, run_cli

N5 = "http://www.arkivverket.no/standarder/noark5/"
AS = {"a": N5 + "arkivstruktur"}


def _pronom_extensions() -> dict[str, set[str]]:
    base = standards_dir()
    assert base is not None, "the official standards folder is needed (../shared/standards)"
    formats = json.loads((base / "archive-file-formats.json").read_text())["file_formats"]
    table: dict[str, set[str]] = {}
    for f in formats:
        for puid in f["puid"]:
            ext = f["file_extension"]
            table.setdefault(puid.lower(), set()).update(
                e.lower() for e in (ext if isinstance(ext, list) else [ext])
            )
    return table


def _statuses(tenant):
    db.session.expire_all()
    cases = db.session.scalars(select(RecordsCase).where(RecordsCase.tenant_id == tenant.id))
    entries = db.session.scalars(select(RecordsEntry).where(RecordsEntry.tenant_id == tenant.id))
    return sorted(c.saksstatus for c in cases), sorted(e.journalstatus for e in entries)


def test_deposit_of_a_closed_period_passes_every_arkade_test(app, factory, tasks, tmp_path):
    tenant = journalled_tenant(factory, tasks)
    close(app, tenant)
    out = tmp_path / "deposit"
    output = export(app, tenant, out)
    assert "deposit of closed period 1" in output and "NOT A DEPOSIT" not in output

    errors = arkade_checks.run_all(out)
    # N5.29 compares `format` with the file extension; the package writes PRONOM ids, as
    # Arkivverket's format list asks. Each "mismatch" must be a PRONOM id registered for
    # exactly that extension (docs/archiving.md explains this to records staff).
    pronom = _pronom_extensions()
    for obj in etree.parse(str(out / "arkivstruktur.xml")).iterfind(".//a:dokumentobjekt", AS):
        puid = obj.findtext("a:format", namespaces=AS).lower()
        ext = Path(obj.findtext("a:referanseDokumentfil", namespaces=AS)).suffix[1:].lower()
        assert ext in pronom[puid], (puid, ext)
    assert all(e.split(": format ")[1].startswith(("fmt/", "x-fmt/")) for e in errors["N5.29"])
    del errors["N5.29"]
    assert errors == {}

    # The package carries the XSDs it declares, byte for byte the official ones.
    official = standards_dir() / "noark5-v5.0"
    for xsd in ("arkivstruktur.xsd", "metadatakatalog.xsd", "endringslogg.xsd"):
        assert (out / xsd).read_bytes() == (official / xsd).read_bytes()
    assert "schemas included" in output
    # The ADDML describes every file of the package (documents by their number).
    described = {
        n for unit in arkade_checks.documented_xml_units(out).items() for n in [unit[0], *unit[1]]
    }
    top = {p.name for p in out.iterdir() if p.is_file()} - {"arkivuttrekk.xml"}
    assert described == top

    # The journals list the same entries as the structure.
    structure_ids = {
        r.findtext("a:systemID", namespaces=AS)
        for r in etree.parse(str(out / "arkivstruktur.xml")).iterfind(".//a:registrering", AS)
    }
    for name in ("loependeJournal", "offentligJournal"):
        ns = {"j": N5 + name}
        doc = etree.parse(str(out / f"{name}.xml"))
        ids = {e.text for e in doc.iterfind(".//j:journalpost/j:systemID", ns)}
        assert ids == structure_ids


def test_closing_a_period_is_an_action_recorded_as_it_happens(app, factory, tasks, tmp_path):
    tenant = journalled_tenant(factory, tasks)
    # Exporting does not close anything, and invents no change.
    output = export(app, tenant, tmp_path / "open", "--open")
    assert "NOT A DEPOSIT" in output
    cases, entries = _statuses(tenant)
    assert cases == ["B"] and set(entries) <= {"J", "E"}
    assert db.session.scalars(select(RecordsChange)).all() == []
    assert not (tmp_path / "open" / "endringslogg.xml").exists()
    assert "no endringslogg.xml" in output

    close(app, tenant, by="Arkivar Anne")
    cases, entries = _statuses(tenant)
    assert cases == ["A"] and set(entries) == {"A"}
    changes = db.session.scalars(select(RecordsChange).order_by(RecordsChange.id)).all()
    # One change per entry, one per case, one for the arkivdel; each by the one who closed.
    assert [c.referanse_metadata for c in changes].count("journalstatus") == len(entries)
    assert [c.referanse_metadata for c in changes].count("saksstatus") == 1
    assert [c.referanse_metadata for c in changes][-1] == "arkivdelstatus"
    assert {c.endret_av for c in changes} == {"Arkivar Anne"}

    out = tmp_path / "deposit"
    export(app, tenant, out)
    export(app, tenant, tmp_path / "again")  # a second export changes nothing either
    assert len(db.session.scalars(select(RecordsChange)).all()) == len(changes)
    log = etree.parse(str(out / "endringslogg.xml")).getroot()
    ns = {"e": N5 + "endringslogg"}
    assert [e.findtext("e:endretAv", namespaces=ns) for e in log.iterfind("e:endring", ns)] == [
        "Arkivar Anne"
    ] * len(changes)

    # A closed case takes no new entries: the item fails with the reason shown.
    case_number = db.session.scalars(select(RecordsCase)).first().case_number
    item = flag_in(factory, tenant, case_number=case_number, answer=False)
    tasks.run_all()
    db.session.expire_all()
    item = db.session.get(ArchiveItem, item.id)
    assert "closed" in (item.last_error or "")


def test_open_period_export_says_plainly_it_is_not_a_deposit(app, factory, tasks, tmp_path):
    tenant = journalled_tenant(factory, tasks)
    result = run_cli(app, "--tenant", tenant.slug, "--out", str(tmp_path / "x"))
    assert result.exit_code != 0 and "no closed period" in result.output
    out = tmp_path / "open"
    assert "NOT A DEPOSIT" in export(app, tenant, out, "--open")
    addml = (out / "arkivuttrekk.xml").read_text()
    assert "IKKE et avleveringsuttrekk" in addml and "<value>mykt</value>" in addml
    structure = etree.parse(str(out / "arkivstruktur.xml"))
    assert {s.text for s in structure.iterfind(".//a:saksstatus", AS)} == {"Under behandling"}
    assert structure.findtext(".//a:arkivdelstatus", namespaces=AS) == "Aktiv periode"
    assert "Arkivert" not in {s.text for s in structure.iterfind(".//a:journalstatus", AS)}


def test_arkiv_and_arkivdel_dates_cover_their_content(app, factory, tasks, tmp_path):
    tenant = journalled_tenant(factory, tasks)
    close(app, tenant)
    export(app, tenant, tmp_path / "d")
    root = etree.parse(str(tmp_path / "d" / "arkivstruktur.xml")).getroot()
    first_case = min(
        m.findtext("a:opprettetDato", namespaces=AS) for m in root.iterfind(".//a:mappe", AS)
    )
    for path in ("a:opprettetDato", "a:arkivdel/a:opprettetDato"):
        assert root.findtext(path, namespaces=AS) <= first_case


def test_export_says_when_it_cannot_include_the_schemas(app, factory, tasks, tmp_path):
    tenant = journalled_tenant(factory, tasks)
    close(app, tenant)
    app.config["NOARK5_SCHEMA_DIR"] = None
    result = run_cli(app, "--tenant", tenant.slug, "--out", str(tmp_path / "d"))
    assert result.exit_code == 0
    assert "schema files (XSD) are NOT in the package" in result.output
    assert not list((tmp_path / "d").glob("*.xsd"))
    assert "N5.03" in arkade_checks.run_all(tmp_path / "d")  # Arkade reports its fallback
    app.config["NOARK5_SCHEMA_DIR"] = str(tmp_path / "nowhere")
    result = run_cli(app, "--tenant", tenant.slug, "--out", str(tmp_path / "e"))
    assert "lacks arkivstruktur.xsd" in result.output


def test_export_can_close_the_period_first(app, factory, tasks, tmp_path):
    tenant = journalled_tenant(factory, tasks)
    result = run_cli(app, "--tenant", tenant.slug, "--out", str(tmp_path / "a"), "--close-period")
    assert result.exit_code != 0 and "say who closes the period" in result.output
    assert _statuses(tenant)[0] == ["B"]
    output = export(app, tenant, tmp_path / "b", "--close-period", "--by", "Anne")
    assert "period 1 closed by Anne" in output and "deposit of closed period 1" in output
    assert _statuses(tenant)[0] == ["A"]
    assert "deposit of closed period 1" in export(app, tenant, tmp_path / "c", "--period", "1")
    result = run_cli(app, "--tenant", tenant.slug, "--out", str(tmp_path / "d"), "--period", "2")
    assert result.exit_code != 0 and "no closed period 2" in result.output
