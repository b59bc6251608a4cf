"""Who is calling: the bearer token, its scopes and its rate limit.

Only a bearer token authenticates an API request; the staff session cookie is never read here,
which is why the blueprint is exempt from CSRF (a cross-site form cannot set the header)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import g, request

from inbox.api.problems import ApiProblem
from inbox.models import ApiScope, ApiToken
from inbox.ratelimit import cfg, client_ip, limiter
from inbox.services import api_tokens


def bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def limit_key() -> str:
    """Per token: the hash of what was presented (never the token itself in the limiter's
    storage); per address for requests without one."""
    token = bearer()
    if token is None:
        return "api-ip:" + client_ip()
    return "api-t:" + hashlib.sha256(token.encode()).hexdigest()[:32]


per_token = limiter.limit(cfg("API_LIMIT_PER_TOKEN"), key_func=limit_key, scope="api-v1")


def authenticate() -> None:
    token = bearer()
    if token is None:
        raise ApiProblem(
            401, "Give an API token in the Authorization header: 'Bearer st_…'.", code="no-token"
        )
    row = api_tokens.authenticate(token)
    if row is None:
        raise ApiProblem(
            401, "The API token is not valid, or it has been revoked.", code="bad-token"
        )
    g.api_token = row
    g.api_actor = api_tokens.TokenActor.of(row)


def token() -> ApiToken:
    return g.api_token  # type: ignore[no-any-return]


def actor() -> api_tokens.TokenActor:
    return g.api_actor  # type: ignore[no-any-return]


def requires(*scopes: ApiScope) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The view needs one of `scopes`: 403 otherwise."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not any(token().allows(s) for s in scopes):
                names = " or ".join(f"'{s.value}'" for s in scopes)
                raise ApiProblem(403, f"This token does not have the {names} scope.", code="scope")
            return view(*args, **kwargs)

        wrapped.required_scopes = scopes  # type: ignore[attr-defined]
        return wrapped

    return decorate
