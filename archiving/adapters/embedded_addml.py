"""arkivuttrekk.xml: the ADDML description of a deposit, in the layout of Arkivverket's template
(the one Arkade 5 reads).

    dataset > reference         record creator, system, archival period (= the journals' dates)
    dataset > dataObjects > dataObject "Noark 5 arkivuttrekk"
        properties > info       FIRST property: type (Noark 5, version) and additionalInfo with
                                periode (inngaaendeSkille, utgaaendeSkille),
                                inneholderSkjermetInformasjon, omfatterDokumenterSomErKassert,
                                inneholderDokumenterSomSkalKasseres, antallDokumentfiler, …
        dataObjects > dataObject per XML file (arkivstruktur first):
            file   name, format, checksum (SHA256)
            schema one per XSD beside `file` (main schema first), each with its own file/checksum
            info   numberOfOccurrences whose own value is the element name and whose `value`
                   child holds the count (counted in the written XML)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import current_app
from lxml import etree

ADDML = "http://www.arkivverket.no/standarder/addml"
N5 = "http://www.arkivverket.no/standarder/noark5/"
XML_FORMAT = ("XML", {"version": "1.0"})
XSD_TYPE = ("XML Schema", {"version": "1.0"})
# The schemas of each XML file, main schema first (Noark 5 v5.0).
SCHEMAS = {
    "arkivstruktur.xml": ("arkivstruktur.xsd", "metadatakatalog.xsd"),
    "loependeJournal.xml": ("loependeJournal.xsd", "metadatakatalog.xsd"),
    "offentligJournal.xml": ("offentligJournal.xsd", "metadatakatalog.xsd"),
    "endringslogg.xml": ("endringslogg.xsd", "metadatakatalog.xsd"),
}
# What each file's numberOfOccurrences counts.
COUNTED = {
    "arkivstruktur.xml": ("mappe", "registrering"),
    "loependeJournal.xml": ("journalregistrering",),
    "offentligJournal.xml": ("journalregistrering",),
    "endringslogg.xml": ("endring",),
}


@dataclass
class Description:
    name: str  # dataset name
    description: str
    creator_name: str
    creator_id: str
    system: str
    start: str  # archival period, dates (YYYY-MM-DD)
    end: str
    extracted: str  # dateTime
    deposit: bool  # a closed period (sharp separation), or an open one (soft, not a deposit)
    kind: str  # said in words: what this package is
    documents: int
    xml: dict[str, bytes] = field(default_factory=dict)  # arkivstruktur.xml first
    schemas: dict[str, bytes] = field(default_factory=dict)  # the XSDs in the package


# A property tree: name -> value, or (value, {children}), or {children}.
Props = dict[str, Any]


def _addml(parent: etree._Element, name: str, text: Any = None) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ADDML}}}{name}")
    if text is not None:
        el.text = str(text)
    return el


def _property(parent: etree._Element, name: str, value: Any, data_type: str = "") -> None:
    prop = _addml(parent, "property")
    if data_type:
        prop.set("dataType", data_type)
    prop.set("name", name)
    children: Any = None
    if isinstance(value, tuple):
        value, children = value
    elif isinstance(value, (dict, list)):
        value, children = None, value
    if value is not None:
        _addml(prop, "value", str(value).lower() if isinstance(value, bool) else value)
    if children:
        _properties(prop, children)


def _properties(parent: etree._Element, items: Props | list[tuple[str, Any]]) -> None:
    props = _addml(parent, "properties")
    for name, value in items.items() if isinstance(items, dict) else items:
        kind = "boolean" if isinstance(value, bool) else "integer" if type(value) is int else ""
        _property(props, name, value, kind)


def _additional(parent: etree._Element, items: Props) -> None:
    elements = _addml(parent, "additionalElements")
    for key, value in items.items():
        el = _addml(elements, "additionalElement")
        el.set("name", key)
        if isinstance(value, dict):
            _properties(el, value)
        else:
            _addml(el, "value", value)


def _file(name: str, data: bytes) -> Props:
    return {
        "name": name,
        "format": XML_FORMAT,
        "checksum": {"algorithm": "SHA256", "value": hashlib.sha256(data).hexdigest()},
    }


def count(data: bytes, element: str) -> int:
    root = etree.fromstring(data)  # noqa: S320 (our own output)
    return sum(1 for el in root.iter() if etree.QName(el).localname == element)


def arkivuttrekk(d: Description) -> bytes:
    root = etree.Element(f"{{{ADDML}}}addml", nsmap={None: ADDML})
    root.set("name", "Noark 5-arkivuttrekk")
    dataset = _addml(root, "dataset")
    dataset.set("name", d.name)
    _addml(dataset, "description", d.description)
    ref = _addml(dataset, "reference")
    _additional(
        _addml(ref, "context"),
        {
            "recordCreators": {"recordCreator": {"name": d.creator_name, "id": d.creator_id}},
            "systemType": "Sakarkiv (Noark 5)",
            "systemName": d.system,
        },
    )
    _additional(
        _addml(ref, "content"),
        {"archivalPeriod": {"startDate": d.start, "endDate": d.end}, "extractionDate": d.extracted},
    )
    package = _addml(_addml(dataset, "dataObjects"), "dataObject")
    package.set("name", "Noark 5 arkivuttrekk")
    separation = "skarpt" if d.deposit else "mykt"
    structure = d.xml["arkivstruktur.xml"]
    _properties(
        package,
        {
            "info": [
                ("type", ("Noark 5", {"version": "5.0"})),
                (
                    "additionalInfo",
                    [
                        (
                            "periode",
                            {"inngaaendeSkille": separation, "utgaaendeSkille": separation},
                        ),
                        ("inneholderSkjermetInformasjon", count(structure, "skjerming") > 0),
                        (
                            "omfatterDokumenterSomErKassert",
                            count(structure, "utfoertKassasjon") > 0,
                        ),
                        ("inneholderDokumenterSomSkalKasseres", count(structure, "kassasjon") > 0),
                        ("inneholderVirksomhetsspesifikkeMetadata", False),
                        ("antallDokumentfiler", d.documents),
                        ("avlevering", d.deposit),
                        ("uttrekkstype", d.kind),
                    ],
                ),
            ]
        },
    )
    inner = _addml(package, "dataObjects")
    for name, data in d.xml.items():
        obj = _addml(inner, "dataObject")
        obj.set("name", name.removesuffix(".xml"))
        props: list[tuple[str, Any]] = [("file", _file(name, data))]
        for number, xsd in enumerate(SCHEMAS[name]):
            if xsd in d.schemas:
                schema = {
                    "file": _file(xsd, d.schemas[xsd]),
                    "type": ("XML Schema", {"version": "1.0"}),
                }
                props.append(("schema", ("main", schema) if number == 0 else schema))
        occurrences = [
            (
                "numberOfOccurrences",
                (element, {"elementPath": f"//{element}", "value": count(data, element)}),
            )
            for element in COUNTED[name]
        ]
        props.append(("info", occurrences))
        _properties(obj, props)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


SCHEMA_FILES = (
    "arkivstruktur.xsd",
    "metadatakatalog.xsd",
    "endringslogg.xsd",
    "loependeJournal.xsd",
    "offentligJournal.xsd",
)


def copy_schemas(out: Path) -> tuple[dict[str, bytes], str]:
    """Copy Arkivverket's official XSDs from NOARK5_SCHEMA_DIR into the package."""
    folder = current_app.config.get("NOARK5_SCHEMA_DIR")
    if not folder:
        return {}, "NOARK5_SCHEMA_DIR is not set"
    missing = [n for n in SCHEMA_FILES if not (Path(folder) / n).is_file()]
    if missing:
        return {}, f"{folder} lacks {', '.join(missing)}"
    schemas = {n: (Path(folder) / n).read_bytes() for n in SCHEMA_FILES}
    for name, data in schemas.items():
        (out / name).write_bytes(data)
    return schemas, ""
