"""OpenID Connect relying party: the authorization code flow with PKCE, state and nonce, for
staff single sign-on (inbox/services/sso.py) and citizens identified through ID-porten.

Authlib's OAuth2Session builds the authorization request and redeems the code; joserfc
checks the ID token's signature against the provider's JWKS (fetched again when a token names
a key it does not know, which is how providers rotate keys) and its claims: issuer, audience,
expiry, nonce. Every provider address must be https and, in production mode, resolve to
public addresses only (no server-side requests into the municipality's or our network).
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc6749.errors import OAuth2Error
from flask import current_app
from joserfc import jws, jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

from channels.media import public_address

TIMEOUT_SECONDS = 10
CACHE_SECONDS = 3600
LEEWAY_SECONDS = 60
MAX_DOCUMENT_BYTES = 256 * 1024
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]


class OidcError(Exception):
    """The sign-in is refused; str(exc) is a short code (see REASONS in the views)."""

    @property
    def code(self) -> str:
        return str(self.args[0]) if self.args else "failed"


@dataclass(frozen=True)
class Pending:
    """What the browser's session keeps between the redirect and the callback."""

    state: str
    nonce: str
    code_verifier: str


_lock = threading.Lock()
_discovery: dict[str, tuple[float, dict[str, Any]]] = {}
_jwks: dict[str, tuple[float, KeySet]] = {}


def clear_caches() -> None:
    with _lock:
        _discovery.clear()
        _jwks.clear()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        import ipaddress

        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> str:
    """Refuse a provider address we must not call: not https (plain http only for loopback
    when OIDC_ALLOW_HTTP_LOOPBACK is set), with credentials, or, in production mode, one
    that resolves to a private, loopback or link-local address."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise OidcError("insecure_url") from exc
    if not host or parts.username or parts.password or parts.fragment:
        raise OidcError("insecure_url")
    cfg = current_app.config
    if parts.scheme != "https" and not (
        parts.scheme == "http" and _loopback(host) and cfg.get("OIDC_ALLOW_HTTP_LOOPBACK")
    ):
        raise OidcError("insecure_url")
    if cfg.get("MODE") == "production":
        try:
            infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError) as exc:
            raise OidcError("unreachable") from exc
        if not infos or not all(public_address(str(i[4][0])) for i in infos):
            raise OidcError("private_url")
    return url


def _get_json(url: str) -> dict[str, Any]:
    check_url(url)
    try:
        resp = requests.get(
            url,
            timeout=TIMEOUT_SECONDS,
            allow_redirects=False,
            headers={"Accept": "application/json"},
        )
    except requests.RequestException as exc:
        raise OidcError("unreachable") from exc
    if resp.status_code != 200 or len(resp.content) > MAX_DOCUMENT_BYTES:
        raise OidcError("unreachable")
    try:
        data = resp.json()
    except ValueError as exc:
        raise OidcError("unreachable") from exc
    if not isinstance(data, dict):
        raise OidcError("unreachable")
    return data


def discover(issuer: str) -> dict[str, Any]:
    """The provider's metadata (OpenID Connect Discovery 1.0), checked: its issuer is the one
    configured, and every endpoint we call passes check_url."""
    issuer = issuer.rstrip("/")
    now = time.monotonic()
    with _lock:
        hit = _discovery.get(issuer)
    if hit and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    meta = _get_json(f"{issuer}/.well-known/openid-configuration")
    if str(meta.get("issuer", "")).rstrip("/") != issuer:
        raise OidcError("issuer")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(meta.get(key), str):
            raise OidcError("unreachable")
        check_url(meta[key])
    with _lock:
        _discovery[issuer] = (now, meta)
    return meta


def _keys(jwks_uri: str, *, refresh: bool = False) -> KeySet:
    now = time.monotonic()
    with _lock:
        hit = _jwks.get(jwks_uri)
    if hit and not refresh and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    data = _get_json(jwks_uri)
    try:
        keys = KeySet.import_key_set(data)  # type: ignore[arg-type]
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise OidcError("unreachable") from exc
    with _lock:
        _jwks[jwks_uri] = (now, keys)
    return keys


def _session(client_id: str, client_secret: str | None, redirect_uri: str, scope: str):  # type: ignore[no-untyped-def]
    return OAuth2Session(
        client_id,
        client_secret,
        scope=scope,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic" if client_secret else "none",
    )


def begin(
    meta: dict[str, Any],
    client_id: str,
    redirect_uri: str,
    scope: str = "openid email profile",
    **extra: str,
) -> tuple[str, Pending]:
    """The provider's authorization URL to send the browser to, and what to keep."""
    pending = Pending(
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        code_verifier=secrets.token_urlsafe(48),  # 64 characters (RFC 7636: 43-128)
    )
    with _session(client_id, None, redirect_uri, scope) as client:
        url, _state = client.create_authorization_url(
            meta["authorization_endpoint"],
            state=pending.state,
            code_verifier=pending.code_verifier,
            nonce=pending.nonce,
            **extra,
        )
    return url, pending


def finish(
    meta: dict[str, Any],
    *,
    issuer: str,
    client_id: str,
    client_secret: str | None,
    redirect_uri: str,
    pending: Pending,
    state: str | None,
    code: str | None,
    error: str | None = None,
) -> dict[str, Any]:
    """Redeem the code and return the ID token's checked claims; OidcError if anything is
    wrong (the state, the provider's answer, the token's signature or claims)."""
    if not state or not secrets.compare_digest(state, pending.state):
        raise OidcError("state")
    if error:
        raise OidcError("provider_error")
    if not code:
        raise OidcError("provider_error")
    token_url = check_url(meta["token_endpoint"])
    with _session(client_id, client_secret, redirect_uri, "openid") as client:
        try:
            token = client.fetch_token(
                token_url,
                code=code,
                code_verifier=pending.code_verifier,
                timeout=TIMEOUT_SECONDS,
                allow_redirects=False,
            )
        except (OAuth2Error, requests.RequestException, ValueError) as exc:
            raise OidcError("token_request") from exc
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise OidcError("token_request")
    return verify_id_token(id_token, meta, issuer=issuer, client_id=client_id, nonce=pending.nonce)


def verify_id_token(
    id_token: str, meta: dict[str, Any], *, issuer: str, client_id: str, nonce: str
) -> dict[str, Any]:
    try:
        header = jws.extract_compact(id_token.encode()).protected
    except (JoseError, ValueError) as exc:
        raise OidcError("signature") from exc
    if header.get("alg") not in ALGORITHMS:
        raise OidcError("signature")
    keys = _keys(meta["jwks_uri"])
    kid = header.get("kid")
    if kid and kid not in {k.kid for k in keys.keys}:
        keys = _keys(meta["jwks_uri"], refresh=True)  # the provider rotated its keys
    try:
        token = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
    except (BadSignatureError, JoseError, ValueError) as exc:
        raise OidcError("signature") from exc
    claims = dict(token.claims)
    registry = jwt.JWTClaimsRegistry(
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": issuer.rstrip("/")},
        sub={"essential": True},
        aud={"essential": True, "value": client_id},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    if str(claims.get("iss", "")).rstrip("/") == issuer.rstrip("/"):
        claims["iss"] = issuer.rstrip("/")
    try:
        registry.validate(claims)
    except ExpiredTokenError as exc:
        raise OidcError("expired") from exc
    except (InvalidClaimError, MissingClaimError) as exc:
        claim = getattr(exc, "claim", "") or ""
        raise OidcError(
            {"iss": "issuer", "aud": "audience", "nonce": "nonce"}.get(claim, "claims")
        ) from exc
    except JoseError as exc:
        raise OidcError("claims") from exc
    aud = claims.get("aud")
    if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != client_id:
        raise OidcError("audience")
    iat = claims.get("iat")
    if isinstance(iat, int | float) and iat > time.time() + LEEWAY_SECONDS:
        raise OidcError("expired")
    return claims
