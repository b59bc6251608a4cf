"""The fields each Noark 5 object may carry in a request, as the published standard names them.

Source: Arkivverket, Noark 5 tjenestegrensesnitt (github.com/arkivverket/
noark5-tjenestegrensesnitt-standard, commit 2a078e1),
kapitler/07-tjenester_og_informasjonsmodell.rst, chapter «Tjenester og informasjonsmodell» >
«Noark5v5»:
  - «Arkivstruktur»: Arkivenhet, Mappe, Registrering, Dokumentbeskrivelse, Dokumentobjekt,
    Korrespondansepart, KorrespondansepartPerson, KorrespondansepartIntern, Kontaktinformasjon,
    EnkelAdresse, Skjerming, Kassasjon, Gradering (each class's «Attributter» table, with the
    attributes of the class it «Arver» from);
  - «Sakarkiv»: Saksmappe (arver Mappe), Journalpost (arver Registrering);
  - «Kodelister»: attributes typed by a «codelist» class are code objects {"kode", "kodenavn"};
  - chapter 6, «Virksomhetsspesifikke metadata»: an object of namespaced keys
    (<type>-<versjon>:<felt> or vnd-<leverandør>-<versjon>:<felt>) on mappe and registrering.
Written from the standard's tables, not from any client, so that a client using a name the
standard does not define (korrespondansepartNavn on a KorrespondansepartPerson, say) is refused.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

# Types: "string", "integer", "datetime", "code" (a «codelist»), "metadata"
# (virksomhetsspesifikkeMetadata), a nested dataType by name, or [type] for [0..*] / [1..*].
STRING, INTEGER, DATETIME, CODE, META = "string", "integer", "datetime", "code", "metadata"

ARKIVENHET = {
    "systemID": STRING,
    "endretDato": DATETIME,
    "opprettetDato": DATETIME,
    "opprettetAv": STRING,
    "endretAv": STRING,
    "referanseEndretAv": STRING,
    "referanseOpprettetAv": STRING,
}
MAPPE = ARKIVENHET | {
    "mappeID": STRING,
    "tittel": STRING,
    "offentligTittel": STRING,
    "beskrivelse": STRING,
    "noekkelord": [STRING],
    "dokumentmedium": CODE,
    "oppbevaringssted": [STRING],
    "avsluttetDato": DATETIME,
    "avsluttetAv": STRING,
    "referanseAvsluttetAv": STRING,
    "kassasjon": "Kassasjon",
    "skjerming": "Skjerming",
    "gradering": "Gradering",
    "referanseForelderMappe": STRING,
    "virksomhetsspesifikkeMetadata": META,
}
SAKSMAPPE = MAPPE | {
    "saksaar": INTEGER,
    "sakssekvensnummer": INTEGER,
    "saksdato": DATETIME,
    "administrativEnhet": STRING,
    "referanseAdministrativEnhet": STRING,
    "saksansvarlig": STRING,
    "referanseSaksansvarlig": STRING,
    "journalenhet": STRING,
    "saksstatus": CODE,
    "utlaantDato": DATETIME,
    "utlaantTil": STRING,
    "referanseUtlaantTil": STRING,
}
REGISTRERING = ARKIVENHET | {
    "arkivertDato": DATETIME,
    "arkivertAv": STRING,
    "referanseArkivertAv": STRING,
    "kassasjon": "Kassasjon",
    "skjerming": "Skjerming",
    "gradering": "Gradering",
    "referanseArkivdel": STRING,
    "registreringsID": STRING,
    "tittel": STRING,
    "offentligTittel": STRING,
    "beskrivelse": STRING,
    "noekkelord": [STRING],
    "forfatter": [STRING],
    "dokumentmedium": CODE,
    "oppbevaringssted": [STRING],
    "virksomhetsspesifikkeMetadata": META,
}
JOURNALPOST = REGISTRERING | {
    "journalaar": INTEGER,
    "journalsekvensnummer": INTEGER,
    "journalpostnummer": INTEGER,
    "journalposttype": CODE,
    "journalstatus": CODE,
    "journaldato": DATETIME,
    "dokumentetsDato": DATETIME,
    "mottattDato": DATETIME,
    "sendtDato": DATETIME,
    "forfallsdato": DATETIME,
    "offentlighetsvurdertDato": DATETIME,
    "antallVedlegg": INTEGER,
    "utlaantDato": DATETIME,
    "utlaantTil": STRING,
    "referanseUtlaantTil": STRING,
    "journalenhet": STRING,
}
DOKUMENTBESKRIVELSE = ARKIVENHET | {
    "dokumenttype": CODE,
    "dokumentstatus": CODE,
    "tittel": STRING,
    "beskrivelse": STRING,
    "forfatter": [STRING],
    "dokumentmedium": CODE,
    "oppbevaringssted": STRING,
    "tilknyttetRegistreringSom": CODE,
    "dokumentnummer": INTEGER,
    "tilknyttetDato": DATETIME,
    "tilknyttetAv": STRING,
    "referanseTilknyttetAv": STRING,
    "kassasjon": "Kassasjon",
    "skjerming": "Skjerming",
    "gradering": "Gradering",
    "eksternReferanse": STRING,
    "virksomhetsspesifikkeMetadata": META,
}
DOKUMENTOBJEKT = ARKIVENHET | {
    "versjonsnummer": INTEGER,
    "variantformat": CODE,
    "format": CODE,
    "formatDetaljer": STRING,
    "referanseDokumentfil": STRING,
    "filnavn": STRING,
    "sjekksum": STRING,
    "mimeType": STRING,
    "sjekksumAlgoritme": STRING,
    "filstoerrelse": INTEGER,
}
KORRESPONDANSEPART = {
    "systemID": STRING,
    "korrespondanseparttype": CODE,
    "virksomhetsspesifikkeMetadata": META,
}

OBJECTS: dict[str, dict[str, Any]] = {
    "saksmappe": SAKSMAPPE,
    "journalpost": JOURNALPOST,
    "dokumentbeskrivelse": DOKUMENTBESKRIVELSE,
    "dokumentobjekt": DOKUMENTOBJEKT,
    "korrespondansepartperson": KORRESPONDANSEPART
    | {
        "personidentifikator": [STRING],
        "navn": STRING,
        "postadresse": "EnkelAdresse",
        "bostedsadresse": "EnkelAdresse",
        "kontaktinformasjon": "Kontaktinformasjon",
    },
    "korrespondansepartintern": KORRESPONDANSEPART
    | {
        "administrativEnhet": STRING,
        "referanseAdministrativEnhet": STRING,
        "saksbehandler": STRING,
        "referanseSaksbehandler": STRING,
    },
}
DATATYPES: dict[str, dict[str, Any]] = {
    "Skjerming": {
        "tilgangsrestriksjon": CODE,
        "skjermingshjemmel": STRING,
        "skjermingMetadata": [CODE],
        "skjermingDokument": CODE,
        "skjermingsvarighet": INTEGER,
        "skjermingOpphoererDato": DATETIME,
    },
    "Kontaktinformasjon": {"epostadresse": STRING, "mobiltelefon": STRING, "telefon": STRING},
    "EnkelAdresse": {
        "adresselinje1": STRING,
        "adresselinje2": STRING,
        "adresselinje3": STRING,
        "postnr": STRING,
        "poststed": STRING,
        "landkode": CODE,
    },
    "Kassasjon": {
        "kassasjonsvedtak": CODE,
        "kassasjonshjemmel": STRING,
        "bevaringstid": INTEGER,
        "kassasjonsdato": DATETIME,
    },
    "Gradering": {
        "graderingskode": CODE,
        "graderingsdato": DATETIME,
        "gradertAv": STRING,
        "referanseGradertAv": STRING,
        "nedgraderingsdato": DATETIME,
        "nedgradertAv": STRING,
        "referanseNedgradertAv": STRING,
    },
}
# [1..1] attributes a client must give (the rest the server fills in or may be left out).
REQUIRED = {
    "saksmappe": ("tittel",),
    "journalpost": ("tittel", "journalposttype"),
    "dokumentbeskrivelse": ("tittel",),
    "dokumentobjekt": ("format", "sjekksum", "sjekksumAlgoritme", "filstoerrelse"),
    "korrespondansepartperson": ("korrespondanseparttype", "navn"),
    "korrespondansepartintern": ("korrespondanseparttype",),
}
REQUIRED_IN = {"Skjerming": ("tilgangsrestriksjon", "skjermingshjemmel", "skjermingMetadata")}
# Chapter 6: <type>-<versjon>:<felt> or vnd-<leverandør>-<versjon>:<felt>, a-z and 0-9 only.
METADATA_KEY = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*-v[0-9]+:[a-z0-9]+")


def problem(kind: str, body: dict[str, Any]) -> str | None:
    """Why a request body for a new object of this kind breaks the standard, or None."""
    fields = OBJECTS.get(kind)
    if fields is None:
        return f"unknown object type {kind}"
    unknown = _check(kind, fields, body)
    if unknown:
        return unknown
    for name in REQUIRED.get(kind, ()):
        if body.get(name) in (None, "", []):
            return f"{kind}.{name} is required"
    return None


def _check(where: str, fields: dict[str, Any], body: dict[str, Any]) -> str | None:
    for name, value in body.items():
        if name.startswith("_"):
            continue
        if name not in fields:
            return f"{where} has no attribute {name!r} in Noark 5 tjenestegrensesnitt"
        found = _value(f"{where}.{name}", fields[name], value)
        if found:
            return found
    return None


def _value(where: str, kind: Any, value: Any) -> str | None:
    if isinstance(kind, list):
        if not isinstance(value, list):
            return f"{where} must be a list"
        return next((p for v in value if (p := _value(where, kind[0], v))), None)
    if kind == STRING:
        return None if isinstance(value, str) else f"{where} must be a string"
    if kind == INTEGER:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else f"{where} must be an integer"
    if kind == DATETIME:
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            return f"{where} is not a date-time"
        return None if parsed.tzinfo is not None else f"{where} has no time zone"
    if kind == CODE:
        if not (isinstance(value, dict) and isinstance(value.get("kode"), str) and value["kode"]):
            return f"{where} must be a code object {{'kode': ...}}"
        extra = set(value) - {"kode", "kodenavn"}
        return f"{where} has unknown keys {sorted(extra)}" if extra else None
    if kind == META:
        if not isinstance(value, dict):
            return f"{where} must be an object"
        bad = [k for k in value if not METADATA_KEY.fullmatch(k)]
        return f"{where} has keys not named as the standard says: {bad}" if bad else None
    if not isinstance(value, dict):
        return f"{where} must be an object ({kind})"
    for name in REQUIRED_IN.get(kind, ()):
        if value.get(name) in (None, "", []):
            return f"{where}.{name} is required"
    return _check(where, DATATYPES[kind], value)
