"""The error-producing Noark 5 tests of Arkivverket's Arkade 5, as its code describes them.

Written afresh in Python from reading Arkade 5's test classes
(src/Arkivverket.Arkade.Core/Testing/Noark5/, N5.01-N5.64) and its ADDML reading
(Base/ArchiveDetails.cs, Testing/Noark5/Noark5TestHelper.cs): each function takes an unpacked
package folder and returns the errors Arkade would report (an empty list: the test passes).
Like Arkade, the ADDML is read by position where Arkade reads it by position: the package
dataObject's first property is `info`, whose second property is `additionalInfo`.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path

from lxml import etree

A = "{http://www.arkivverket.no/standarder/addml}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
STRUCTURE, ADDML_FILE = "arkivstruktur.xml", "arkivuttrekk.xml"
PUBLIC, RUNNING, CHANGELOG = "offentligJournal.xml", "loependeJournal.xml", "endringslogg.xml"
# Arkade's own idea of which schemas each file has (ArchiveDetails.GetStandardXmlUnits).
STANDARD_SCHEMAS = {
    STRUCTURE: ("arkivstruktur.xsd", "metadatakatalog.xsd"),
    CHANGELOG: ("endringslogg.xsd", "metadatakatalog.xsd"),
    RUNNING: ("loependeJournal.xsd", "metadatakatalog.xsd"),
    PUBLIC: ("offentligJournal.xsd", "metadatakatalog.xsd"),
}


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def _xml(package: Path, name: str) -> etree._Element:
    return etree.parse(str(package / name)).getroot()  # noqa: S320 (a package under test)


def _all(package: Path, name: str, element: str) -> Iterator[etree._Element]:
    return (el for el in _xml(package, name).iter() if _local(el) == element)


def _child(el: etree._Element, name: str) -> etree._Element | None:
    return next((c for c in el if isinstance(c.tag, str) and _local(c) == name), None)


def _text(el: etree._Element, name: str) -> str | None:
    child = _child(el, name)
    return None if child is None else (child.text or "")


def _parent_is(el: etree._Element, name: str) -> bool:
    parent = el.getparent()
    return parent is not None and _local(parent) == name


# -- ADDML, read as Arkade reads it ----------------------------------------------------------


def _props(el: etree._Element | None) -> list[etree._Element]:
    if el is None:
        return []
    props = el.find(f"{A}properties")
    return [] if props is None else props.findall(f"{A}property")


def _named(el: etree._Element | None, name: str) -> list[etree._Element]:
    return [p for p in _props(el) if p.get("name") == name]


def _value(prop: etree._Element | None) -> str | None:
    return None if prop is None else prop.findtext(f"{A}value")


def _package_object(package: Path) -> etree._Element:
    return _xml(package, ADDML_FILE).find(f"{A}dataset/{A}dataObjects/{A}dataObject")


def _file_objects(package: Path) -> list[etree._Element]:
    return _package_object(package).findall(f"{A}dataObjects/{A}dataObject")


def _additional_info(package: Path) -> etree._Element:
    """dataObject[0].properties[0] (info) .properties[1] (additionalInfo); raises like Arkade."""
    return _props(_props(_package_object(package))[0])[1]


def _documented_flag(package: Path, name: str) -> bool:
    prop = next(iter(_named(_additional_info(package), name)), None)
    return prop is not None and _value(prop) == "true"


def _documented_count(package: Path, element: str) -> int | None:
    info = next(iter(_named(_file_objects(package)[0], "info")), None)
    for occ in _named(info, "numberOfOccurrences"):
        if _value(occ) == element:
            value = _value(next(iter(_named(occ, "value")), None))
            return None if value is None else int(value)
    return None


def _period_is_sharp(package: Path) -> bool:
    periode = _named(_additional_info(package), "periode")[0]
    inbound, outbound = _props(periode)[:2]
    return _value(inbound) == "skarpt" and _value(outbound) == "skarpt"


def documented_xml_units(package: Path) -> dict[str, list[str]]:
    """ArchiveDetails.GetDocumentedXmlUnits: each file with the schemas beside it."""
    units = {}
    for obj in _file_objects(package):
        name = _value(next(iter(_named(next(iter(_named(obj, "file")), None), "name")), None))
        if not name:
            continue
        schemas = []
        for schema in _named(obj, "schema"):
            file = next(iter(_named(schema, "file")), None)
            xsd = _value(next(iter(_named(file, "name")), None))
            if xsd:
                schemas.append(xsd)
        units[name] = schemas
    return units


# -- the tests -------------------------------------------------------------------------------


def n5_01(package: Path) -> list[str]:
    """N5.01 Structure file exists: every XML file the ADDML documents, and every schema
    documented beside it, is in the package."""
    missing = []
    for name, schemas in documented_xml_units(package).items():
        missing += [f for f in [name, *schemas] if not (package / f).is_file()]
    return [f"missing file {f}" for f in missing]


def n5_02(package: Path) -> list[str]:
    """N5.02 ADDML checksums: each `file` property of a file dataObject, and the `file` of each
    `schema` property, has a checksum with algorithm SHA256 (or SHA-256) and a value that
    matches the file."""
    errors = []
    for obj in _file_objects(package):
        files = _named(obj, "file")
        for schema in _named(obj, "schema"):
            files += _named(schema, "file")
        for file in files:
            name = _value(next(iter(_named(file, "name")), None)) or ""
            checksum = next(iter(_named(file, "checksum")), None)
            if checksum is None:
                errors.append(f"{name}: no checksum")
                continue
            algorithm = _value(next(iter(_named(checksum, "algorithm")), None))
            if algorithm not in ("SHA256", "SHA-256"):
                errors.append(f"{name}: checksum algorithm {algorithm!r}")
                continue
            expected = _value(next(iter(_named(checksum, "value")), None)) or ""
            if not (package / name).is_file():
                errors.append(f"{name}: not found")
            elif hashlib.sha256((package / name).read_bytes()).hexdigest() != expected.lower():
                errors.append(f"{name}: checksum does not match")
    return errors


def n5_03(package: Path) -> list[str]:
    """N5.03 XML against schema: each documented file is validated against the schemas
    documented beside it; a standard schema the package does not document makes Arkade use its
    built-in copy, which it reports as an error."""
    errors = []
    for name, schemas in documented_xml_units(package).items():
        for xsd in STANDARD_SCHEMAS.get(name, ()):
            if xsd not in schemas:
                errors.append(f"{name}: {xsd} not in the package, Arkade's built-in one used")
        if not schemas or not all((package / s).is_file() for s in schemas):
            continue
        xsd = etree.XMLSchema(etree.parse(str(package / schemas[0])))
        if not xsd.validate(etree.parse(str(package / name))):
            errors += [f"{name} line {e.line}: {e.message}" for e in xsd.error_log]
    return errors


def n5_10(package: Path) -> list[str]:
    """N5.10 Number of folders: the mappe elements in arkivstruktur.xml equal the ADDML's
    numberOfOccurrences whose value is "mappe" (its `value` child; 0 when not documented)."""
    actual = sum(1 for _ in _all(package, STRUCTURE, "mappe"))
    documented = _documented_count(package, "mappe") or 0
    return [] if actual == documented else [f"{documented} folders documented, {actual} found"]


def _superclasses_with(package: Path, child: str) -> list[str]:
    found = []
    for klasse in _all(package, STRUCTURE, "klasse"):
        names = {_local(c) for c in klasse if isinstance(c.tag, str)}
        if "klasse" in names and child in names:
            found.append(_text(klasse, "systemID") or "")
    return found


def n5_12(package: Path) -> list[str]:
    """N5.12 No superclass has folders: a klasse with sub-klasser holds no mappe itself."""
    return [f"klasse {s} has subclasses and folders" for s in _superclasses_with(package, "mappe")]


def n5_15(package: Path) -> list[str]:
    """N5.15 Case folder statuses: every saksstatus (in a mappe) is Avsluttet or Utgår."""
    statuses = Counter(
        s.text for s in _all(package, STRUCTURE, "saksstatus") if _parent_is(s, "mappe")
    )
    return [
        f"saksstatus {k!r}: {n}" for k, n in statuses.items() if k not in ("Avsluttet", "Utgår")
    ]


def n5_16(package: Path) -> list[str]:
    """N5.16 Number of registrations: the registrering elements equal the ADDML's
    numberOfOccurrences "registrering" (Arkade fails when it is not documented)."""
    actual = sum(1 for _ in _all(package, STRUCTURE, "registrering"))
    documented = _documented_count(package, "registrering")
    if documented is None:
        return ["numberOfOccurrences 'registrering' not documented"]
    return [] if actual == documented else [f"{documented} documented, {actual} found"]


def _journalposts(package: Path) -> list[etree._Element]:
    return [r for r in _all(package, STRUCTURE, "registrering") if r.get(XSI_TYPE) == "journalpost"]


def n5_17(package: Path) -> list[str]:
    """N5.17 Journal post types: every journalpost has a (non-empty) journalposttype."""
    return [
        f"journalpost {_text(r, 'systemID')} without journalposttype"
        for r in _journalposts(package)
        if not (_text(r, "journalposttype") or "").strip()
    ]


def n5_19(package: Path) -> list[str]:
    """N5.19 No superclass has registrations: a klasse with sub-klasser holds no registrering."""
    return [f"klasse {s}" for s in _superclasses_with(package, "registrering")]


def n5_22(package: Path) -> list[str]:
    """N5.22 Journal statuses: every journalstatus (in a registrering) is Arkivert or Utgår."""
    statuses = Counter(
        s.text for s in _all(package, STRUCTURE, "journalstatus") if _parent_is(s, "registrering")
    )
    return [
        f"journalstatus {k!r}: {n}" for k, n in statuses.items() if k not in ("Arkivert", "Utgår")
    ]


def n5_25(package: Path) -> list[str]:
    """N5.25 Document statuses: every dokumentstatus is "Dokumentet er ferdigstilt"."""
    return [
        f"dokumentstatus {s.text!r}"
        for s in _all(package, STRUCTURE, "dokumentstatus")
        if _parent_is(s, "dokumentbeskrivelse") and s.text != "Dokumentet er ferdigstilt"
    ]


def _xml_datetime(value: str | None) -> datetime | date | None:
    try:
        return datetime.fromisoformat(value or "")
    except ValueError:
        return None


def n5_27(package: Path) -> list[str]:
    """N5.27 First and last registration: every registrering's opprettetDato is a valid date."""
    return [
        f"registrering opprettetDato {d.text!r} is not a date"
        for d in _all(package, STRUCTURE, "opprettetDato")
        if _parent_is(d, "registrering") and _xml_datetime(d.text) is None
    ]


def _document_files(package: Path) -> set[str]:
    folder = package / "DOKUMENT"
    return {p.relative_to(package).as_posix() for p in folder.rglob("*") if p.is_file()}


def n5_28(package: Path) -> list[str]:
    """N5.28 Number of document files: the DOKUMENT folder exists and holds files, and their
    number equals additionalInfo's antallDokumentfiler."""
    if not (package / "DOKUMENT").is_dir():
        return ["DOKUMENT folder not found"]
    actual = len(_document_files(package))
    errors = [] if actual else ["no document files"]
    try:
        prop = _named(_additional_info(package), "antallDokumentfiler")[0]
        documented = int(_value(prop) or "")
    except (IndexError, ValueError):
        return [*errors, "antallDokumentfiler not documented"]
    return errors if documented == actual else [*errors, f"{documented} documented, {actual}"]


def _objects(package: Path) -> list[etree._Element]:
    return list(_all(package, STRUCTURE, "dokumentobjekt"))


def n5_29(package: Path) -> list[str]:
    """N5.29 Document formats: each dokumentobjekt's `format`, lower-cased, must equal its
    referanseDokumentfil's extension without the dot ("pdf" for x.pdf); else a mismatch."""
    errors = []
    for obj in _objects(package):
        fmt, ref = (_text(obj, "format") or "").lower(), _text(obj, "referanseDokumentfil") or ""
        if fmt and ref and Path(ref).suffix.lower() != f".{fmt}":
            errors.append(f"{ref}: format {fmt}")
    return errors


def n5_30(package: Path) -> list[str]:
    """N5.30 Document file checksums: each referenced file's checksum (by sjekksumAlgoritme)
    equals the dokumentobjekt's sjekksum."""
    errors = []
    for obj in _objects(package):
        ref = _text(obj, "referanseDokumentfil") or ""
        algorithm = (_text(obj, "sjekksumAlgoritme") or "").replace("-", "").upper()
        if algorithm != "SHA256" or not (package / ref).is_file():
            errors.append(f"{ref}: cannot check ({algorithm})")
            continue
        actual = hashlib.sha256((package / ref).read_bytes()).hexdigest()
        if actual != (_text(obj, "sjekksum") or "").lower():
            errors.append(f"{ref}: checksum mismatch")
    return errors


def n5_32(package: Path) -> list[str]:
    """N5.32 Document files exist: every referanseDokumentfil names a file in the package."""
    refs = [r.text or "" for r in _all(package, STRUCTURE, "referanseDokumentfil")]
    return [f"{r} missing" for r in refs if r not in _document_files(package)]


def n5_33(package: Path) -> list[str]:
    """N5.33 Document files referenced: every file under DOKUMENT is referenced."""
    refs = {r.text for r in _all(package, STRUCTURE, "referanseDokumentfil")}
    return [f"{f} not referenced" for f in sorted(_document_files(package) - refs)]


def _flag_matches(package: Path, flag: str, elements: list[etree._Element]) -> list[str]:
    documented = _documented_flag(package, flag)
    if documented and not elements:
        return [f"{flag} is true, none found"]
    if not documented and elements:
        return [f"{flag} is false, {len(elements)} found"]
    return []


def n5_42(package: Path) -> list[str]:
    """N5.42 Restrictions: skjerming elements exist exactly when additionalInfo's
    inneholderSkjermetInformasjon is true."""
    found = list(_all(package, STRUCTURE, "skjerming"))
    return _flag_matches(package, "inneholderSkjermetInformasjon", found)


def n5_44(package: Path) -> list[str]:
    """N5.44 Disposal resolutions: kassasjon elements exist exactly when
    inneholderDokumenterSomSkalKasseres is true."""
    found = list(_all(package, STRUCTURE, "kassasjon"))
    return _flag_matches(package, "inneholderDokumenterSomSkalKasseres", found)


def n5_45(package: Path) -> list[str]:
    """N5.45 Disposals executed: utfoertKassasjon (in arkivdel or dokumentbeskrivelse) exists
    exactly when omfatterDokumenterSomErKassert is true."""
    found = [
        el
        for el in _all(package, STRUCTURE, "utfoertKassasjon")
        if _parent_is(el, "arkivdel") or _parent_is(el, "dokumentbeskrivelse")
    ]
    return _flag_matches(package, "omfatterDokumenterSomErKassert", found)


def _system_ids(package: Path) -> list[str]:
    return [el.text or "" for el in _all(package, STRUCTURE, "systemID")]


def n5_47(package: Path) -> list[str]:
    """N5.47 Unique systemIDs: no systemID occurs twice in arkivstruktur.xml."""
    return [f"systemID {s} x{n}" for s, n in Counter(_system_ids(package)).items() if n > 1]


def n5_48(package: Path) -> list[str]:
    """N5.48 Archive part references: every referanseArkivdel names an arkivdel's systemID."""
    parts = {_text(a, "systemID") for a in _all(package, STRUCTURE, "arkivdel")}
    return [
        f"referanseArkivdel {r.text}"
        for r in _all(package, STRUCTURE, "referanseArkivdel")
        if r.text not in parts
    ]


def n5_51(package: Path) -> list[str]:
    """N5.51 Class references: every saksmappe's referanseSekundaerKlassifikasjon names a
    klasse's systemID."""
    classes = {_text(k, "systemID") for k in _all(package, STRUCTURE, "klasse")}
    return [
        f"referanseSekundaerKlassifikasjon {r.text}"
        for r in _all(package, STRUCTURE, "referanseSekundaerKlassifikasjon")
        if _parent_is(r, "mappe") and r.text not in classes
    ]


def _head(package: Path, name: str) -> tuple[str, str, int]:
    head = next(_all(package, name, "journalhode"))
    return (
        _text(head, "journalStartDato") or "",
        _text(head, "journalSluttDato") or "",
        int(_text(head, "antallJournalposter") or "-1"),
    )


def n5_59(package: Path) -> list[str]:
    """N5.59 Number of journal posts: the two journals' antallJournalposter are equal and, when
    the ADDML's periode says skarpt both ways, equal the journalpost registrations."""
    try:
        public, running = _head(package, PUBLIC)[2], _head(package, RUNNING)[2]
    except (OSError, StopIteration, ValueError):
        return ["journals could not be read"]
    errors = [] if public == running else [f"public {public}, running {running}"]
    actual = len(_journalposts(package))
    if _period_is_sharp(package) and not public == running == actual:
        errors.append(f"journals {public}/{running}, arkivstruktur {actual}")
    return errors


def n5_60(package: Path) -> list[str]:
    """N5.60 Start and end dates: the journals' journalStartDato/journalSluttDato are equal
    and, with skarpt periode, equal the first and last journaldato of the registrations."""
    try:
        public, running = _head(package, PUBLIC)[:2], _head(package, RUNNING)[:2]
    except (OSError, StopIteration):
        return ["journals could not be read"]
    days = sorted(
        d
        for el in _all(package, STRUCTURE, "journaldato")
        if _parent_is(el, "registrering") and (d := _xml_datetime(el.text)) is not None
    )
    if not days:
        return ["no journaldato found"]
    errors = [] if public == running else [f"public {public}, running {running}"]
    structure = (days[0].isoformat()[:10], days[-1].isoformat()[:10])
    if _period_is_sharp(package) and not (public == running == structure):
        errors.append(f"journals {public}, arkivstruktur {structure}")
    return errors


def n5_61(package: Path) -> list[str]:
    """N5.61 Changes logged: endringslogg.xml exists and can be read."""
    try:
        _xml(package, CHANGELOG)
    except OSError:
        return ["endringslogg.xml not found"]
    return []


def n5_62(package: Path) -> list[str]:
    """N5.62 Change log references: every referanseArkivenhet is a systemID in
    arkivstruktur.xml."""
    try:
        refs = [r.text for r in _all(package, CHANGELOG, "referanseArkivenhet")]
    except OSError:
        return ["endringslogg.xml not found"]
    ids = set(_system_ids(package))
    return [f"referanseArkivenhet {r} unknown" for r in refs if r not in ids]


def n5_63(package: Path) -> list[str]:
    """N5.63 Elements have content: no element of arkivstruktur.xml without child elements is
    empty (or whitespace only)."""
    return [
        f"empty <{_local(el)}>"
        for el in _xml(package, STRUCTURE).iter()
        if isinstance(el.tag, str) and len(el) == 0 and not (el.text or "").strip()
    ]


CHECKS: dict[str, Callable[[Path], list[str]]] = {
    f"N5.{name[3:]}": fn for name, fn in sorted(globals().items()) if name.startswith("n5_")
}


def run(test: str, package: Path) -> list[str]:
    """One check's errors; a package Arkade cannot read (e.g. an ADDML without the template's
    `info`/`additionalInfo`) stops the test, which Arkade reports as an error too."""
    try:
        return CHECKS[test](package)
    except (IndexError, KeyError, TypeError, ValueError, AttributeError) as exc:
        return [f"the test could not run: {exc!r}"]


def run_all(package: Path) -> dict[str, list[str]]:
    """Every check's errors, by test id; checks that pass are left out."""
    return {test: errors for test in CHECKS if (errors := run(test, package))}
