"""Fetching a provider's media file (an MMS image, a Messenger attachment) safely.

The URL comes from a webhook: whoever can get a URL into one must not make us fetch from
inside the network. So:
- only http(s); the host's addresses are checked after DNS resolution, and the address a
  connection actually reached is checked again (a DNS answer that changes in between gains
  nothing): private, loopback, link-local (169.254.169.254, the cloud metadata service),
  multicast, reserved and unspecified addresses are refused, also after a redirect;
- at most MAX_REDIRECTS redirects, MAX_ATTACHMENT_BYTES bytes, MEDIA_FETCH_TIMEOUT_SECONDS
  for the whole download;
- the type is what the bytes are (sniffed), not what the provider's header claims: an SVG or
  an HTML page labelled image/jpeg is refused.
Hosts in MEDIA_FETCH_ALLOW_PRIVATE_HOSTS skip the address check (a local fake provider in
tests or development); the list is empty by default.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import current_app
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

MAX_REDIRECTS = 3
CHUNK = 64 * 1024

# Types we keep, the extension we give them, and how their bytes begin. HEIC and MP4 share
# the ISO media "ftyp" box; the brand after it tells them apart.
KNOWN: dict[str, str] = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/heic": "heic",
    "application/pdf": "pdf",
    "video/mp4": "mp4",
    "video/3gpp": "3gp",
    "audio/mpeg": "mp3",
    "audio/ogg": "ogg",
    "audio/wav": "wav",
    "audio/amr": "amr",
}


class Refused(Exception):
    """The file breaks a rule (address, size, type); retrying will not help."""


class Unavailable(Exception):
    """The provider or the network failed; worth another try later."""


def sniff(data: bytes) -> str | None:
    """The type the bytes are, from their first bytes; None if not one we keep."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith((b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")):
        return "audio/mpeg"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"#!AMR"):
        return "audio/amr"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"):
            return "image/heic"
        if brand.startswith(b"3gp"):
            return "video/3gpp"
        return "video/mp4"
    return None


def _allowed_hosts() -> set[str]:
    return {str(h).lower() for h in current_app.config["MEDIA_FETCH_ALLOW_PRIVATE_HOSTS"]}


def public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved)


def _all_public(host: str, port: int) -> bool:
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return bool(infos) and all(public_address(str(info[4][0])) for info in infos)


def check_host(host: str, port: int) -> None:
    """Refuse a host any of whose addresses is not public (before connecting)."""
    if host.lower() in _allowed_hosts():
        return
    try:
        public = _all_public(host, port)
    except (OSError, UnicodeError) as exc:
        raise Unavailable(f"cannot resolve the host: {exc}") from exc
    if not public:
        raise Refused("address")


class _NotPublic(Exception):
    """Raised inside a connection (deliberately not an OSError, which urllib3 would retry)."""


class _PeerChecked:
    """After connecting, the address actually reached must be public (or the host allowed)."""

    host: str
    sock: Any

    def connect(self) -> None:
        allowed = self.host.lower() in _allowed_hosts()
        if not allowed and not _all_public(self.host, self.port):  # type: ignore[attr-defined]
            raise _NotPublic(self.host)  # also each redirect's host, before connecting
        super().connect()  # type: ignore[misc]
        if allowed:
            return
        peer = self.sock.getpeername()[0]
        if not public_address(peer):
            self.sock.close()
            raise _NotPublic(peer)


class _HTTPConnection(_PeerChecked, HTTPConnection):
    pass


class _HTTPSConnection(_PeerChecked, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment: the peer check must see the host
    session.max_redirects = MAX_REDIRECTS
    adapter = _GuardedAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def fetch(url: str, *, auth: tuple[str, str] | None = None) -> tuple[bytes, str]:
    """(bytes, sniffed type) of a media URL, within every limit above. Raises Refused or
    Unavailable."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("address")
    check_host(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    limit = int(current_app.config["MAX_ATTACHMENT_BYTES"])
    budget = float(current_app.config["MEDIA_FETCH_TIMEOUT_SECONDS"])
    deadline = time.monotonic() + budget
    try:
        with (
            _session() as session,
            session.get(url, auth=auth, stream=True, timeout=min(budget, 10)) as resp,
        ):
            if resp.status_code >= 500 or resp.status_code == 429:
                raise Unavailable(f"HTTP {resp.status_code}")
            if resp.status_code != 200:
                raise Refused("missing")
            if int(resp.headers.get("Content-Length") or 0) > limit:
                raise Refused("size")
            data = bytearray()
            for chunk in resp.iter_content(CHUNK):
                data += chunk
                if len(data) > limit:
                    raise Refused("size")
                if time.monotonic() > deadline:
                    raise Unavailable("took too long")
    except _NotPublic as exc:
        raise Refused("address") from exc
    except requests.TooManyRedirects as exc:
        raise Refused("redirects") from exc
    except (requests.RequestException, ValueError) as exc:
        raise Unavailable(str(exc)) from exc
    kind = sniff(bytes(data))
    if kind is None:
        raise Refused("type")
    return bytes(data), kind
