"""Noark 5 tjenestegrensesnitt (the standard REST API of Norwegian records systems).

Link-driven: we start at `GET {base_url}/api` and only follow the `_links` rel names the server
offers; no URL is built here except by expanding the query part of a templated link.

Exactly once: the journalpost carries our external key as a virksomhetsspesifikt metadata field
(`virksomhetsspesifikkeMetadata` {"vnd-servicetorg-v1:eksternnoekkel": key}, the standard's
way to add a client's own field, chapter 6), and both find_entry() and journal() look for it
first. journal() resumes a journalpost a dead worker left
half-made (korrespondansepart, dokumentbeskrivelse, dokumentobjekt, file), so a retry never makes
a second entry. The number of documents is declared up front (`antallVedlegg`), so an entry is
only reported complete when every document and file is there.

Tenant.records_config: {"base_url": "https://arkiv.example.kommune.no/noark5v5",
"token_env": "NOARK_TOKEN_EXAMPLE", "arkivdel": "<title or systemID, optional>",
"timeout": 30, "fagsystem": "Servicetorg"}.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import requests

from archiving import noark
from archiving.interfaces import (
    CaseInfo,
    Document,
    JournalRequest,
    Receipt,
    RecordsRejected,
    RecordsUnavailable,
)
from inbox import secretstore
from inbox.models import Tenant

MEDIA_TYPE = "application/vnd.noark5+json"
REL = "https://rel.arkivverket.no/noark5/v5/api/"
ARKIVSTRUKTUR = REL + "arkivstruktur/"
SAKARKIV = REL + "sakarkiv/"
FAGSYSTEM = "Servicetorg"
KEY_FIELD = "vnd-servicetorg-v1:eksternnoekkel"


def rel(area: str, name: str) -> str:
    return f"{REL}{area}/{name}/"


class Noark5Rest:
    name = "noark5_rest"

    def __init__(self, tenant: Tenant) -> None:
        cfg = tenant.records_config or {}
        self.base_url = str(cfg.get("base_url") or "").rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise RecordsRejected(f"records_config.base_url is missing for {tenant.slug}")
        self.timeout = float(cfg.get("timeout", 30))
        self.arkivdel = cfg.get("arkivdel")
        self.fagsystem = str(cfg.get("fagsystem") or FAGSYSTEM)
        token = secretstore.resolve(tenant, "records_token")
        if cfg.get("token_env") and not token:
            raise RecordsUnavailable(f"environment variable {cfg['token_env']} is not set")
        self.session = requests.Session()
        self.session.headers["Accept"] = MEDIA_TYPE
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self._root: dict[str, Any] | None = None
        self._areas: dict[str, dict[str, Any]] = {}
        self._looked_up: dict[str, dict[str, Any] | None] = {}

    # -- the interface ------------------------------------------------------------------------

    def find_entry(self, external_key: str) -> Receipt | None:
        jp = self._find_journalpost(external_key)
        self._looked_up[external_key] = jp  # journal() right after need not search again
        if jp is None or not self._complete(jp):
            return None
        return self._receipt(jp)

    def journal(self, request: JournalRequest) -> Receipt:
        key = request.external_key
        jp = self._looked_up.pop(key) if key in self._looked_up else self._find_journalpost(key)
        fresh = jp is None  # a journalpost we just made has no parts yet: no need to look
        case = None
        if jp is None:
            case = self._case(request)
            jp = self._create(case, rel("sakarkiv", "ny-journalpost"), _journalpost(request, self))
        self._ensure_correspondents(jp, request, fresh)
        for number, doc in enumerate(request.documents, start=1):
            self._ensure_document(jp, number, doc, fresh)
        return self._receipt(jp, case)

    def lookup_case(self, case_number: str) -> CaseInfo | None:
        m = re.fullmatch(r"\s*(\d{4})\s*/\s*(\d+)\s*", case_number)
        if not m:
            return None
        case = self._search(
            SAKARKIV,
            rel("sakarkiv", "saksmappe"),
            f"saksaar eq {int(m[1])} and sakssekvensnummer eq {int(m[2])}",
        )
        if case is None:
            return None
        status = case.get("saksstatus")
        code = status.get("kode") if isinstance(status, dict) else status
        return CaseInfo(
            f"{case.get('saksaar')}/{case.get('sakssekvensnummer')}",
            str(case.get("tittel") or ""),
            closed=code in ("A", "U"),  # avsluttet, utgår (Noark 5 M052)
        )

    # -- finding ------------------------------------------------------------------------------

    def _find_journalpost(self, key: str) -> dict[str, Any] | None:
        return self._search(SAKARKIV, rel("sakarkiv", "journalpost"), _key_filter(key))

    def _case(self, request: JournalRequest) -> dict[str, Any]:
        if request.case_number:
            m = re.fullmatch(r"\s*(\d{4})\s*/\s*(\d+)\s*", request.case_number)
            if not m:
                raise RecordsRejected(f"invalid case number {request.case_number!r}")
            case = self._search(
                SAKARKIV,
                rel("sakarkiv", "saksmappe"),
                f"saksaar eq {int(m[1])} and sakssekvensnummer eq {int(m[2])}",
            )
            if case is None:
                raise RecordsRejected(f"case {request.case_number} does not exist")
            return case
        # A new case; keyed too, so a retry after a lost answer finds the case it made.
        case_key = f"{request.external_key}:sak"
        case = self._search(SAKARKIV, rel("sakarkiv", "saksmappe"), _key_filter(case_key))
        if case is not None:
            return case
        title = request.new_case_title or request.title
        body = {"tittel": title, "virksomhetsspesifikkeMetadata": {KEY_FIELD: case_key}}
        if request.public_case_title:  # no screened name in the case's public title either
            body["offentligTittel"] = request.public_case_title
        return self._create(self._arkivdel(), rel("sakarkiv", "ny-saksmappe"), body)

    def _arkivdel(self) -> dict[str, Any]:
        listing = self._get(_href(self._area(ARKIVSTRUKTUR), rel("arkivstruktur", "arkivdel")))
        for arkivdel in listing.get("results", []):
            if self.arkivdel in (None, arkivdel.get("tittel"), _system_id(arkivdel)):
                return arkivdel
        raise RecordsRejected(f"no arkivdel {self.arkivdel or ''} to open a new case in".strip())

    def _search(self, area: str, relname: str, odata: str) -> dict[str, Any] | None:
        listing = self._get(_href(self._area(area), relname), {"$filter": odata, "$top": "2"})
        results = listing.get("results", [])
        if len(results) > 1:
            raise RecordsRejected(f"more than one match for {odata}")
        return results[0] if results else None

    def _area(self, relname: str) -> dict[str, Any]:
        if self._root is None:
            self._root = self._get(self.base_url + "/api")
        if relname not in self._areas:
            self._areas[relname] = self._get(_href(self._root, relname))
        return self._areas[relname]

    # -- the parts of a journalpost -----------------------------------------------------------

    def _ensure_correspondents(
        self, jp: dict[str, Any], request: JournalRequest, fresh: bool
    ) -> None:
        existing = [] if fresh else self._children(jp, rel("arkivstruktur", "korrespondansepart"))
        for c in request.correspondents[len(existing) :]:
            body: dict[str, Any] = {"korrespondanseparttype": _code(c.role, "part")}
            if c.internal:  # KorrespondansepartIntern: the unit and the caseworker
                body |= {"administrativEnhet": c.unit or c.display_name}
                if c.caseworker:
                    body["saksbehandler"] = c.caseworker
                self._create(jp, rel("arkivstruktur", "ny-korrespondansepartintern"), body)
                continue
            body["navn"] = c.display_name
            if c.national_id and c.name:  # verified through ID-porten
                body["personidentifikator"] = [c.national_id]
            if c.name and c.address:  # an anonymous party is sent with no contact details
                kind = "epostadresse" if "@" in c.address else "mobiltelefon"
                body["kontaktinformasjon"] = {kind: c.address}
            self._create(jp, rel("arkivstruktur", "ny-korrespondansepartperson"), body)

    def _ensure_document(self, jp: dict[str, Any], number: int, doc: Document, fresh: bool) -> None:
        existing = {
            d.get("dokumentnummer"): d
            for d in (
                [] if fresh else self._children(jp, rel("arkivstruktur", "dokumentbeskrivelse"))
            )
        }
        made = number not in existing
        db = existing.get(number) or self._create(
            jp,
            rel("arkivstruktur", "ny-dokumentbeskrivelse"),
            {
                "tittel": doc.title,
                "dokumentnummer": number,
                "tilknyttetRegistreringSom": {"kode": doc.tilknyttet},
                "dokumenttype": {"kode": noark.DOKUMENTTYPE[0], "kodenavn": noark.DOKUMENTTYPE[1]},
                "dokumentstatus": {"kode": "F", "kodenavn": "Dokumentet er ferdigstilt"},
            },
        )
        objects = [] if made else self._children(db, rel("arkivstruktur", "dokumentobjekt"))
        obj = objects[0] if objects else None
        if obj is None:
            obj = self._create(
                db,
                rel("arkivstruktur", "ny-dokumentobjekt"),
                {
                    "versjonsnummer": 1,
                    "variantformat": {"kode": "A", "kodenavn": "Arkivformat"},
                    "format": {"kode": doc.puid},
                    "filnavn": doc.filename,
                    "mimeType": doc.mime_type,
                    "sjekksum": doc.sha256,
                    "sjekksumAlgoritme": "SHA256",
                    "filstoerrelse": len(doc.data),
                },
            )
        elif obj.get("sjekksum") != doc.sha256:
            raise RecordsRejected(
                f"document {number} of the entry has checksum {obj.get('sjekksum')}, "
                f"not {doc.sha256}"
            )
        self._upload(obj, doc)

    def _upload(self, obj: dict[str, Any], doc: Document) -> None:
        href = _href(obj, rel("arkivstruktur", "fil"))
        resp = self._call(
            "POST",
            href,
            data=doc.data,
            headers={"Content-Type": doc.mime_type, "Content-Length": str(len(doc.data))},
            ok=(200, 201, 204, 409),
        )
        if resp.status_code == 409:
            # Uploaded before (by a worker that died before it heard the answer). The server
            # checked that file against the declared checksum, so the same checksum means done.
            current = self._get(_href(obj, "self"))
            if current.get("sjekksum") != doc.sha256:
                raise RecordsRejected(_message(resp))

    # -- HTTP ---------------------------------------------------------------------------------

    def _create(self, parent: dict[str, Any], relname: str, body: dict[str, Any]) -> dict[str, Any]:
        href = _href(parent, relname)
        defaults = self._get(href)  # the template the server proposes for a new object
        payload = {k: v for k, v in defaults.items() if not k.startswith("_")}
        payload.update(body)
        resp = self._call(
            "POST", href, json=payload, headers={"Content-Type": MEDIA_TYPE}, ok=(200, 201)
        )
        if resp.content:
            return resp.json()
        location = resp.headers.get("Location")
        if not location:
            raise RecordsRejected(f"{href}: created, but the server gave no Location")
        return self._get(location)

    def _children(self, parent: dict[str, Any], relname: str) -> list[dict[str, Any]]:
        if relname not in parent.get("_links", {}):
            return []
        return self._get(_href(parent, relname)).get("results", [])

    def _get(self, href: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        return self._call("GET", href, params=params, ok=(200,)).json()

    def _call(self, method: str, href: str, ok: tuple[int, ...], **kw: Any) -> requests.Response:
        try:
            resp = self.session.request(method, href, timeout=self.timeout, **kw)
        except requests.RequestException as exc:
            raise RecordsUnavailable(f"{method} {href}: {exc.__class__.__name__}: {exc}") from exc
        if resp.status_code in ok:
            return resp
        message = f"{method} {href}: HTTP {resp.status_code}: {_message(resp)}"
        if resp.status_code >= 500 or resp.status_code in (401, 403, 408, 429):
            raise RecordsUnavailable(message)
        raise RecordsRejected(message)

    # -- receipts -----------------------------------------------------------------------------

    def _complete(self, jp: dict[str, Any]) -> bool:
        expected = 1 + int(jp.get("antallVedlegg") or 0)
        docs = self._children(jp, rel("arkivstruktur", "dokumentbeskrivelse"))
        if len(docs) < expected:
            return False
        for d in docs:
            objects = self._children(d, rel("arkivstruktur", "dokumentobjekt"))
            if not objects or not all(self._has_file(o) for o in objects):
                return False
        return True

    def _has_file(self, obj: dict[str, Any]) -> bool:
        href = _href(obj, rel("arkivstruktur", "fil"))
        return self._call("HEAD", href, ok=(200, 204, 404)).status_code == 200

    def _receipt(self, jp: dict[str, Any], case: dict[str, Any] | None = None) -> Receipt:
        if case is None:
            case = self._get(_href(jp, rel("sakarkiv", "saksmappe")))
        case_number = f"{case.get('saksaar')}/{case.get('sakssekvensnummer')}"
        return Receipt(
            system_id=_system_id(jp),
            case_number=case_number,
            journalpostnummer=f"{case_number}-{jp.get('journalpostnummer')}",
            journal_date=_parse_date(jp.get("journaldato")),
            raw={
                k: jp.get(k)
                for k in ("journalaar", "journalsekvensnummer", "journalpostnummer", "journaldato")
            }
            | {"href": _href(jp, "self")},
        )


def _journalpost(request: JournalRequest, adapter: Noark5Rest) -> dict[str, Any]:
    status = noark.journalstatus(request.journalposttype)
    body: dict[str, Any] = {
        "tittel": request.title,
        "journalposttype": _code(request.journalposttype, "type"),
        "journalstatus": _code(status, "status"),
        "dokumentetsDato": _date(request.document_date),
        "antallVedlegg": sum(1 for d in request.documents if d.tilknyttet == "V"),
        "virksomhetsspesifikkeMetadata": {KEY_FIELD: request.external_key},
    }
    if request.created_by:
        body["opprettetAv"] = request.created_by
    if request.journalposttype == "I":
        body["mottattDato"] = _date(request.document_date)
    elif request.journalposttype == "U":
        body["sendtDato"] = _date(request.document_date)
    screening = noark.Screening.from_dict(request.screening)
    if screening.active:
        body["offentligTittel"] = request.public_title or noark.SCREENED
        body["skjerming"] = {
            "tilgangsrestriksjon": {"kode": screening.code},
            "skjermingshjemmel": screening.basis,
            "skjermingMetadata": [
                {"kode": c, "kodenavn": noark.SKJERMING_METADATA[c]}
                for c in sorted(screening.fields)
            ],
        }
    return body


def _code(code: str, kind: str) -> dict[str, str]:
    names = {
        "type": noark.JOURNALPOSTTYPE,
        "status": noark.JOURNALSTATUS,
        "part": noark.KORRESPONDANSEPARTTYPE,
    }[kind]
    return {"kode": code, "kodenavn": names[code]} if code in names else {"kode": code}


def _key_filter(key: str) -> str:
    return f"virksomhetsspesifikkeMetadata/{KEY_FIELD} eq '{key}'"


def _href(obj: dict[str, Any], relname: str) -> str:
    link = obj.get("_links", {}).get(relname)
    if not link or "href" not in link:
        raise RecordsRejected(f"the records system offers no link {relname}")
    # A templated link ends in an RFC 6570 query template ({?$filter,$top}); we pass the
    # query as parameters instead.
    return re.sub(r"\{[^}]*\}$", "", link["href"])


def _system_id(obj: dict[str, Any]) -> str:
    sid = obj.get("systemID")
    return str(sid.get("value") if isinstance(sid, dict) else sid)


def _date(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def _parse_date(value: Any) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return datetime.now(UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _message(resp: requests.Response) -> str:
    try:
        data = resp.json()
    except ValueError:
        return resp.text[:500]
    if isinstance(data, dict):
        for key in ("message", "melding", "error", "feilmelding", "detail"):
            if data.get(key):
                return str(data[key])[:500]
    return str(data)[:500]
