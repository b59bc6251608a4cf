"""A local OpenID provider over real HTTP (OpenID Connect Core 1.0, Discovery 1.0, RFC 6749,
RFC 7636 PKCE, RFC 7517 JWKS), signing ID tokens with joserfc.

It checks requests against the specifications, not against what our client sends:
- /authorize: response_type=code, a registered client_id and redirect_uri, scope with
  "openid", a state, a nonce, and a PKCE code_challenge with method S256 (plain is refused).
- /token: POST form, grant_type=authorization_code, client authentication (client_secret_basic
  or client_secret_post), the code issued to that client and redirect_uri, used once, and a
  code_verifier of 43-128 unreserved characters whose BASE64URL(SHA256()) is the challenge.

The person who signs in is `self.user` (claims). Knobs make it misbehave the ways a real
provider or an attacker could: a wrong issuer, a token signed by a key not in its JWKS, a
nonce of another sign-in, an expired token, another audience. `rotate()` replaces the
signing key (the JWKS then lists the new key, and the old one is gone).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.wrappers import Request, Response

from tests.fakes.server import FakeProvider, json_response

_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class FakeOidcProvider(FakeProvider):
    def __init__(self, client_id: str = "servicetorg", client_secret: str = "s3cret") -> None:
        super().__init__()
        self.clients = {client_id: client_secret}
        self.client_id = client_id
        self.key = RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(8)})
        self.old_keys: list[RSAKey] = []
        self.user: dict[str, Any] = {
            "sub": "user-1",
            "email": "kari@kommune.test",
            "email_verified": True,
            "name": "Kari Nordmann",
            "groups": ["inbox-caseworkers"],
        }
        self.codes: dict[str, dict[str, Any]] = {}
        self.refusals: list[str] = []  # why requests were refused, for the tests to read
        # Misbehaviour.
        self.issuer_override: str | None = None
        self.audience_override: str | None = None
        self.nonce_override: str | None = None
        self.lifetime_seconds = 300
        self.issued_at_offset = 0
        self.sign_with_foreign_key = False
        self.extra_claims: dict[str, Any] = {}
        self.jwks_fetches = 0
        self.route("GET", r"/\.well-known/openid-configuration", self._discovery)
        self.route("GET", r"/authorize", self._authorize)
        self.route("POST", r"/token", self._token)
        self.route("GET", r"/jwks", self._jwks)

    @property
    def issuer(self) -> str:
        return self.url

    def rotate(self) -> None:
        """A new signing key with a new kid; the old one leaves the JWKS."""
        self.old_keys.append(self.key)
        self.key = RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(8)})

    def _refuse(self, why: str, status: int = 400, error: str = "invalid_request") -> Response:
        self.refusals.append(why)
        return json_response({"error": error, "error_description": why}, status)

    def _discovery(self, request: Request, match: re.Match[str]) -> Response:
        base = self.url
        return json_response(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{base}/authorize",
                "token_endpoint": f"{base}/token",
                "jwks_uri": f"{base}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
                "scopes_supported": ["openid", "email", "profile"],
            }
        )

    def _jwks(self, request: Request, match: re.Match[str]) -> Response:
        self.jwks_fetches += 1
        return json_response({"keys": [self.key.as_dict(private=False)]})

    def _authorize(self, request: Request, match: re.Match[str]) -> Response:
        q = request.args
        if q.get("response_type") != "code":
            return self._refuse("response_type must be code")
        if q.get("client_id") not in self.clients:
            return self._refuse("unknown client_id", error="unauthorized_client")
        if "openid" not in (q.get("scope") or "").split():
            return self._refuse("scope must include openid", error="invalid_scope")
        redirect_uri = q.get("redirect_uri")
        if not redirect_uri:
            return self._refuse("redirect_uri missing")
        for name in ("state", "nonce", "code_challenge"):
            if not q.get(name):
                return self._refuse(f"{name} missing")
        if q.get("code_challenge_method") != "S256":
            return self._refuse("code_challenge_method must be S256")
        code = secrets.token_urlsafe(24)
        self.codes[code] = {
            "client_id": q["client_id"],
            "redirect_uri": redirect_uri,
            "nonce": q["nonce"],
            "challenge": q["code_challenge"],
            "acr_values": q.get("acr_values"),
            "user": dict(self.user),
        }
        sep = "&" if "?" in redirect_uri else "?"
        location = redirect_uri + sep + urlencode({"code": code, "state": q["state"]})
        return Response(status=302, headers={"Location": location})

    def _client(self, request: Request) -> str | None:
        auth = request.authorization
        if auth is not None and auth.type == "basic":
            client_id, secret = auth.username, auth.password
        else:
            client_id, secret = request.form.get("client_id"), request.form.get("client_secret")
        if client_id in self.clients and secrets.compare_digest(
            self.clients[client_id], secret or ""
        ):
            return client_id
        return None

    def _token(self, request: Request, match: re.Match[str]) -> Response:
        if request.mimetype != "application/x-www-form-urlencoded":
            return self._refuse("the token request must be a form")
        form = request.form
        client_id = self._client(request)
        if client_id is None:
            return self._refuse("client authentication failed", 401, "invalid_client")
        if form.get("grant_type") != "authorization_code":
            return self._refuse("grant_type", error="unsupported_grant_type")
        grant = self.codes.pop(form.get("code", ""), None)  # a code is used once
        if grant is None or grant["client_id"] != client_id:
            return self._refuse("unknown or used code", error="invalid_grant")
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return self._refuse("redirect_uri differs", error="invalid_grant")
        verifier = form.get("code_verifier") or ""
        if not _VERIFIER.match(verifier):
            return self._refuse("code_verifier malformed", error="invalid_grant")
        if not secrets.compare_digest(_s256(verifier), grant["challenge"]):
            return self._refuse("code_verifier does not match", error="invalid_grant")
        return json_response(
            {
                "access_token": secrets.token_urlsafe(24),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": self.id_token(grant),
            },
            **{"Cache-Control": "no-store"},
        )

    def id_token(self, grant: dict[str, Any]) -> str:
        now = int(time.time()) + self.issued_at_offset
        claims = {
            **grant["user"],
            "iss": self.issuer_override or self.issuer,
            "aud": self.audience_override or grant["client_id"],
            "iat": now,
            "exp": now + self.lifetime_seconds,
            "nonce": self.nonce_override or grant["nonce"],
            **self.extra_claims,
        }
        key = self.key
        if self.sign_with_foreign_key:
            # Same kid, another key: the signature cannot be verified with the JWKS.
            key = RSAKey.generate_key(2048, parameters={"kid": self.key.kid})
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


class FakeIdporten(FakeOidcProvider):
    """ID-porten as its OpenID Connect integration guide describes it: acr_values must be
    idporten-loa-substantial or idporten-loa-high, the ID token carries the person's national
    identity number in `pid`, the level reached in `acr`, and how in `amr`; no e-mail."""

    LEVELS = ("idporten-loa-substantial", "idporten-loa-high")

    def __init__(self, pid: str, client_id: str = "kommune-chat") -> None:
        super().__init__(client_id=client_id, client_secret="idporten-secret")
        self.user = {"sub": "pairwise-" + secrets.token_hex(8), "pid": pid, "locale": "nb"}
        self.acr_override: str | None = None  # the level the person actually reached

    def _authorize(self, request: Request, match: re.Match[str]) -> Response:
        acr = request.args.get("acr_values")
        if acr is not None and acr not in self.LEVELS:
            return self._refuse("acr_values must be idporten-loa-substantial or -high")
        return super()._authorize(request, match)

    def id_token(self, grant: dict[str, Any]) -> str:
        acr = self.acr_override or grant.get("acr_values") or "idporten-loa-substantial"
        grant = {**grant, "user": {**grant["user"], "acr": acr, "amr": ["TestID"]}}
        return super().id_token(grant)
