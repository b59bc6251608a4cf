"""A fake Noark 5 tjenestegrensesnitt (REST) over real HTTP.

It behaves like a strict records system: everything is discovered through `_links` from
`/api` (its URLs deliberately differ from anything a client could guess), POST answers
201 + Location, the declared checksum and size of a file are checked on upload (400 on a
mismatch), a file is never overwritten (409), codes must be objects and dates must carry a
time zone, and every field of a new object must be one the published standard defines for
that object type, with the standard's type (tests/fakes/noark5_spec.py): a wrong name is a 400,
as from a real server. It finds journal entries and cases by the client's key in
virksomhetsspesifikkeMetadata, and cases by saksnummer, through $filter.

Outages: `down = True` answers 503; `drop_after_create(kind)` stores the next object of that
kind and then drops the connection (an answer lost in transit); `hang_after_create(kind)`
stores it and then holds the answer until `release()` (a worker killed while waiting);
`corrupt_uploads = True` damages the bytes it receives (a checksum mismatch).
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Request, Response

from tests.fakes import noark5_spec
from tests.fakes.server import FakeProvider

MEDIA_TYPE = "application/vnd.noark5+json"
R = "https://rel.arkivverket.no/noark5/v5/api/"
P = "/noark5v5/x"  # our URL prefix; clients must not build URLs, so it looks nothing like /api
KEY = "vnd-servicetorg-v1:eksternnoekkel"  # the client's key, as its virksomhetsspesifikke field


def rel(area: str, name: str) -> str:
    return f"{R}{area}/{name}/"


def reply(data: Any, status: int = 200, **headers: str) -> Response:
    return Response(json.dumps(data), status=status, headers=headers, mimetype=MEDIA_TYPE)


def error(status: int, message: str) -> Response:
    return reply({"message": message}, status)


class FakeNoark5(FakeProvider):
    def __init__(self, token: str = "test-token") -> None:
        super().__init__()
        self.token = token
        self.down = False
        self.corrupt_uploads = False
        self.objects: dict[str, dict[str, Any]] = {}  # systemID -> object (with "_kind", "_parent")
        self.files: dict[str, bytes] = {}  # dokumentobjekt systemID -> bytes
        self._drop: set[str] = set()
        self._hang: set[str] = set()
        self._released = threading.Event()
        self.hanging = threading.Event()
        self._seq = {"sak": 0, "journal": 0}
        self.arkivdel = self._store("arkivdel", None, {"tittel": "Sakarkiv"})
        self._routes()

    # -- test controls -------------------------------------------------------------------------

    def drop_after_create(self, kind: str) -> None:
        self._drop.add(kind)

    def hang_after_create(self, kind: str) -> None:
        self._hang.add(kind)

    def release(self) -> None:
        self._released.set()

    def add_case(self, saksaar: int, sakssekvensnummer: int, tittel: str) -> dict[str, Any]:
        return self._store(
            "saksmappe",
            self.arkivdel["systemID"],
            {"tittel": tittel, "saksaar": saksaar, "sakssekvensnummer": sakssekvensnummer},
        )

    def of_kind(self, kind: str, parent: str | None = None) -> list[dict[str, Any]]:
        return [
            o
            for o in self.objects.values()
            if o["_kind"] == kind and (parent is None or o["_parent"] == parent)
        ]

    def entries(self, key: str | None = None) -> list[dict[str, Any]]:
        return [
            j
            for j in self.of_kind("journalpost")
            if key is None or j.get("virksomhetsspesifikkeMetadata", {}).get(KEY) == key
        ]

    # -- storage and representation ------------------------------------------------------------

    def _store(self, kind: str, parent: str | None, fields: dict[str, Any]) -> dict[str, Any]:
        obj = dict(fields, systemID=str(uuid.uuid4()), _kind=kind, _parent=parent)
        self.objects[obj["systemID"]] = obj
        return obj

    def _url(self, kind: str, sid: str, tail: str = "") -> str:
        return f"{self.url}{P}/{kind}-{sid}{tail}"

    def _view(self, obj: dict[str, Any]) -> dict[str, Any]:
        kind, sid = obj["_kind"], obj["systemID"]
        out = {k: v for k, v in obj.items() if not k.startswith("_")}
        links = {"self": {"href": self._url(kind, sid)}}
        children = {
            "arkivdel": [("sakarkiv", "ny-saksmappe")],
            "saksmappe": [("sakarkiv", "ny-journalpost"), ("arkivstruktur", "registrering")],
            "journalpost": [
                ("arkivstruktur", "ny-korrespondansepartperson"),
                ("arkivstruktur", "ny-korrespondansepartintern"),
                ("arkivstruktur", "korrespondansepart"),
                ("arkivstruktur", "ny-dokumentbeskrivelse"),
                ("arkivstruktur", "dokumentbeskrivelse"),
            ],
            "dokumentbeskrivelse": [
                ("arkivstruktur", "ny-dokumentobjekt"),
                ("arkivstruktur", "dokumentobjekt"),
            ],
            "dokumentobjekt": [("arkivstruktur", "fil")],
        }
        for area, name in children.get(kind, []):
            links[rel(area, name)] = {"href": self._url(kind, sid, f"/{name}")}
        if kind == "journalpost":
            links[rel("sakarkiv", "saksmappe")] = {"href": self._url("saksmappe", obj["_parent"])}
        out["_links"] = links
        return out

    # -- routes --------------------------------------------------------------------------------

    def _routes(self) -> None:
        self.route("GET", "/api", self._api)
        self.route("GET", r"/api/(arkivstruktur|sakarkiv)", self._area)
        self.route("GET", rf"{P}/search/(\w+)", self._search)
        self.route("GET", rf"{P}/(\w+)-([0-9a-f-]+)", self._get)
        self.route("GET", rf"{P}/(\w+)-([0-9a-f-]+)/ny-(\w+)", self._template)
        self.route("POST", rf"{P}/(\w+)-([0-9a-f-]+)/ny-(\w+)", self._create)
        self.route("GET", rf"{P}/(\w+)-([0-9a-f-]+)/(korrespondansepart|dokument\w+)", self._list)
        self.route("POST", rf"{P}/dokumentobjekt-([0-9a-f-]+)/fil", self._upload)
        self.route("HEAD", rf"{P}/dokumentobjekt-([0-9a-f-]+)/fil", self._has_file)
        self.route("GET", rf"{P}/dokumentobjekt-([0-9a-f-]+)/fil", self._download)

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        auth = environ.get("HTTP_AUTHORIZATION", "")
        if self.down:
            with self._lock:
                self.requests.append(_record(Request(environ)))
            return error(503, "records system is down for maintenance")(environ, start_response)
        if auth != f"Bearer {self.token}":
            return error(401, "missing or wrong bearer token")(environ, start_response)
        return super()._wsgi(environ, start_response)

    def _api(self, request: Request, m: re.Match[str]) -> Response:
        return reply(
            {
                "_links": {
                    R + "arkivstruktur/": {"href": f"{self.url}/api/arkivstruktur"},
                    R + "sakarkiv/": {"href": f"{self.url}/api/sakarkiv"},
                }
            }
        )

    def _area(self, request: Request, m: re.Match[str]) -> Response:
        if m[1] == "arkivstruktur":
            links = {rel("arkivstruktur", "arkivdel"): {"href": f"{self.url}{P}/search/arkivdel"}}
        else:
            links = {
                rel("sakarkiv", k): {
                    "href": f"{self.url}{P}/search/{k}{{?$filter,$top,$skip}}",
                    "templated": True,
                }
                for k in ("saksmappe", "journalpost")
            }
        return reply({"_links": links})

    def _search(self, request: Request, m: re.Match[str]) -> Response:
        found = self.of_kind(m[1])
        odata = request.args.get("$filter", "")
        for clause in filter(None, re.split(r"\s+and\s+", odata)):
            fm = re.fullmatch(r"([\w/:-]+) eq (?:'([^']*)'|(\d+))", clause.strip())
            if not fm:
                return error(400, f"unsupported $filter {clause!r}")
            path, value = fm[1].split("/"), fm[2] if fm[2] is not None else int(fm[3])
            found = [o for o in found if _dig(o, path) == value]
        top = int(request.args.get("$top", "100"))
        return reply({"results": [self._view(o) for o in found[:top]], "count": len(found)})

    def _get(self, request: Request, m: re.Match[str]) -> Response:
        obj = self.objects.get(m[2])
        if obj is None or obj["_kind"] != m[1]:
            return error(404, "no such object")
        return reply(self._view(obj))

    def _list(self, request: Request, m: re.Match[str]) -> Response:
        if m[3] == "korrespondansepart":
            found = [
                o
                for k in ("korrespondansepartperson", "korrespondansepartintern")
                for o in self.of_kind(k, m[2])
            ]
        else:
            found = self.of_kind(m[3], m[2])
        return reply({"results": [self._view(o) for o in found]})

    def _template(self, request: Request, m: re.Match[str]) -> Response:
        defaults: dict[str, Any] = {
            "journalpost": {"journalposttype": {"kode": "I"}, "journalstatus": {"kode": "J"}},
            "dokumentbeskrivelse": {"tilknyttetRegistreringSom": {"kode": "H"}},
            "dokumentobjekt": {"versjonsnummer": 1, "variantformat": {"kode": "A"}},
        }.get(m[3], {})
        return reply(defaults)

    def _create(self, request: Request, m: re.Match[str]) -> Response:
        parent = self.objects.get(m[2])
        if parent is None or parent["_kind"] != m[1]:
            return error(404, "no such parent")
        if request.mimetype != MEDIA_TYPE:
            return error(415, f"expected {MEDIA_TYPE}")
        try:
            body = json.loads(request.get_data())
        except ValueError:
            return error(400, "body is not JSON")
        kind = m[3]
        problem = _validate(kind, body)
        if problem:
            return error(400, problem)
        fields = {k: v for k, v in body.items() if not k.startswith("_")}
        with self._lock:
            if kind == "saksmappe":
                self._seq["sak"] += 1
                fields |= {"saksaar": datetime.now(UTC).year, "sakssekvensnummer": self._seq["sak"]}
            if kind == "journalpost":
                self._seq["journal"] += 1
                fields |= {
                    "journalaar": datetime.now(UTC).year,
                    "journalsekvensnummer": self._seq["journal"],
                    "journalpostnummer": 1 + len(self.of_kind("journalpost", parent["systemID"])),
                    "journaldato": datetime.now(UTC).isoformat(),
                }
            obj = self._store(kind, parent["systemID"], fields)
        view = self._view(obj)
        if kind in self._drop:
            self._drop.discard(kind)
            return _DropConnection()
        if kind in self._hang:
            self._hang.discard(kind)
            self.hanging.set()
            self._released.wait(60)
        return reply(view, 201, Location=view["_links"]["self"]["href"])

    def _upload(self, request: Request, m: re.Match[str]) -> Response:
        obj = self.objects.get(m[1])
        if obj is None:
            return error(404, "no such dokumentobjekt")
        if m[1] in self.files:
            return error(409, "the document object already has a file; it cannot be overwritten")
        data = request.get_data()
        if self.corrupt_uploads and data:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        if request.headers.get("Content-Length") != str(obj["filstoerrelse"]) or len(data) != int(
            obj["filstoerrelse"]
        ):
            return error(400, f"file size {len(data)} differs from filstoerrelse")
        if not request.headers.get("Content-Type"):
            return error(400, "Content-Type is required")
        if hashlib.sha256(data).hexdigest() != obj["sjekksum"]:
            return error(400, "sjekksum does not match the uploaded file")
        self.files[m[1]] = data
        if "fil" in self._drop:
            self._drop.discard("fil")
            return _DropConnection()
        return Response(status=201)

    def _has_file(self, request: Request, m: re.Match[str]) -> Response:
        return Response(status=200 if m[1] in self.files else 404)

    def _download(self, request: Request, m: re.Match[str]) -> Response:
        if m[1] not in self.files:
            return error(404, "no file")
        return Response(self.files[m[1]], mimetype=self.objects[m[1]].get("mimeType"))


class _DropConnection(Response):
    """Closes the connection without an answer: the object exists, the client never hears."""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        sock = environ.get("werkzeug.socket")
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
        start_response("201 Created", [("Content-Length", "0")])
        return []


def _record(request: Request) -> Any:
    from tests.fakes.server import Recorded

    return Recorded(request.method, request.path, {}, dict(request.headers), b"")


def _dig(obj: Any, path: list[str]) -> Any:
    for key in path:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def _validate(kind: str, body: dict[str, Any]) -> str | None:
    problem = noark5_spec.problem(kind, body)
    if problem:
        return problem
    if kind == "dokumentobjekt":
        if body["sjekksumAlgoritme"] != "SHA256":
            return "sjekksumAlgoritme must be SHA256"
        if not re.fullmatch(r"[0-9a-f]{64}", str(body["sjekksum"])):
            return "sjekksum must be a hex SHA-256"
        if body["filstoerrelse"] < 0:
            return "filstoerrelse must be a number of bytes"
    return None
