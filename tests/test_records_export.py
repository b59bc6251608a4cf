"""The embedded records system's deposit package (arkivuttrekk): all five XML files valid
against Arkivverket's schemas, every file referenced exactly once with its checksum, and the
public journal hiding what is screened."""

from __future__ import annotations

import hashlib
import re
from collections import Counter

from archiving.models import ArchiveItem
from inbox.extensions import db
from inbox.models import Tenant
from tests.records_helpers import approved_item, flag_in
from tests.schemas import assert_valid

N5 = "http://www.arkivverket.no/standarder/noark5/"
AS = {"a": N5 + "arkivstruktur"}
ADDML = {"d": "http://www.arkivverket.no/standarder/addml"}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def journalled_tenant(factory, tasks):
    """Two cases' worth of entries; the second entry screened under offentleglova."""
    first = approved_item(factory)
    tasks.run_all()
    db.session.expire_all()
    first = db.session.get(ArchiveItem, first.id)
    case = first.receipts[0].case_number
    tenant = db.session.get(Tenant, first.tenant_id)
    # A second conversation in the same municipality, in the same case, screened.
    flag_in(
        factory,
        tenant,
        case_number=case,
        answer=False,
        screening_code="U",
        screening_basis="Offl. § 13 jf. fvl. § 13",
        screening_fields="korrespondansepartNavn",
        correspondent_name="Kari Skjermet",
        anonymous=False,
    )
    assert tasks.run_all() == ["journalled"]
    return tenant


def run_cli(app, *args, command="export-records"):
    from inbox.cli import main

    return app.test_cli_runner().invoke(main.commands[command], list(args))


def close(app, tenant, by="Arkivar Anne"):
    result = run_cli(app, "--tenant", tenant.slug, "--by", by, command="close-period")
    assert result.exit_code == 0, result.output
    return result.output


def export(app, tenant, out, *extra):
    result = run_cli(app, "--tenant", tenant.slug, "--out", str(out), *extra)
    assert result.exit_code == 0, result.output
    return result.output


def test_arkivuttrekk_is_schema_valid_and_complete(app, factory, tasks, tmp_path):
    tenant = journalled_tenant(factory, tasks)
    out = tmp_path / "uttrekk"
    close(app, tenant)
    assert "3 journal entries, 3 files" in export(app, tenant, out)

    files = {
        name: (out / name).read_bytes()
        for name in (
            "arkivuttrekk.xml",
            "arkivstruktur.xml",
            "endringslogg.xml",
            "loependeJournal.xml",
            "offentligJournal.xml",
        )
    }
    docs = {
        name: assert_valid(f"noark5-v5.0/{xsd}", data)
        for name, data, xsd in [
            (n, d, "addml.xsd" if n == "arkivuttrekk.xml" else n.replace(".xml", ".xsd"))
            for n, d in files.items()
        ]
    }

    # Every file under DOKUMENT/ is referenced exactly once, with its checksum and size.
    structure = docs["arkivstruktur.xml"]
    objects = structure.findall(".//a:dokumentobjekt", AS)
    refs = Counter(o.findtext("a:referanseDokumentfil", namespaces=AS) for o in objects)
    on_disk = {p.relative_to(out).as_posix() for p in (out / "DOKUMENT").rglob("*") if p.is_file()}
    assert set(refs) == on_disk and set(refs.values()) == {1} and len(on_disk) == 3
    for o in objects:
        data = (out / o.findtext("a:referanseDokumentfil", namespaces=AS)).read_bytes()
        assert o.findtext("a:sjekksum", namespaces=AS) == hashlib.sha256(data).hexdigest()
        assert int(o.findtext("a:filstoerrelse", namespaces=AS)) == len(data)
        assert o.findtext("a:sjekksumAlgoritme", namespaces=AS) == "SHA256"

    # Subtypes are marked, and every systemID is a distinct UUID.
    xsi = "{http://www.w3.org/2001/XMLSchema-instance}type"
    assert {m.get(xsi) for m in structure.iterfind(".//a:mappe", AS)} == {"saksmappe"}
    assert {r.get(xsi) for r in structure.iterfind(".//a:registrering", AS)} == {"journalpost"}
    ids = [e.text for e in structure.iterfind(".//a:systemID", AS)]
    assert all(UUID.fullmatch(i) for i in ids) and len(ids) == len(set(ids))
    assert len(structure.findall(".//a:mappe", AS)) == 1  # the second item went into the case

    # The ADDML description names each XML file once, with its checksum.
    described = {}
    for obj in docs["arkivuttrekk.xml"].iterfind(
        "d:dataset/d:dataObjects/d:dataObject/d:dataObjects/d:dataObject/d:properties", ADDML
    ):
        file = obj.find("d:property[@name='file']/d:properties", ADDML)
        name = file.findtext("d:property[@name='name']/d:value", namespaces=ADDML)
        described[name] = file.findtext(
            "d:property[@name='checksum']/d:properties/d:property[@name='value']/d:value",
            namespaces=ADDML,
        )
    assert described == {
        n: hashlib.sha256(d).hexdigest() for n, d in files.items() if n != "arkivuttrekk.xml"
    }

    # Screening: the running journal keeps the name, the public journal does not.
    assert b"Kari Skjermet" in files["loependeJournal.xml"]
    assert b"Kari Skjermet" not in files["offentligJournal.xml"]
    assert "Offl. § 13 jf. fvl. § 13" in files["offentligJournal.xml"].decode()


def test_export_refuses_an_empty_journal_or_a_used_folder(app, factory, tasks, tmp_path):
    empty = factory.tenant()
    result = run_cli(app, "--tenant", empty.slug, "--out", str(tmp_path / "x"))
    assert result.exit_code != 0 and "no closed period" in result.output
    result = run_cli(app, "--tenant", empty.slug, "--out", str(tmp_path / "x"), "--open")
    assert result.exit_code != 0 and "holds no journal entries" in result.output
    result = run_cli(app, "--tenant", empty.slug, "--by", "A", command="close-period")
    assert result.exit_code != 0 and "holds no journal entries" in result.output
    tenant = journalled_tenant(factory, tasks)
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "old.txt").write_text("x")
    result = run_cli(app, "--tenant", tenant.slug, "--out", str(tmp_path / "used"), "--open")
    assert result.exit_code != 0 and "is not empty" in result.output
    result = run_cli(app, "--tenant", "nope", "--out", str(tmp_path / "y"))
    assert result.exit_code != 0 and "no municipality" in result.output
