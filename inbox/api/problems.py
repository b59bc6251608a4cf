"""Errors as application/problem+json (RFC 9457): type, title, status, detail, instance.

`type` is a URN naming the problem ("urn:servicetorg:problem:<code>"); clients branch on it or
on the status, and show `detail` to a person. Validation problems (422) list what is wrong in
`errors`, each with the field ("transcript[2].body") and a message.
"""

from __future__ import annotations

from typing import Any

from flask import Response, json, request
from werkzeug.exceptions import HTTPException

MEDIA_TYPE = "application/problem+json"

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}
CODES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "too-large",
    415: "unsupported-media-type",
    422: "invalid",
    429: "rate-limited",
    500: "server-error",
    503: "unavailable",
}


class ApiProblem(Exception):
    """Raised by API views; answered as problem+json."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str | None = None,
        title: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail
        self.code = code or CODES.get(status, "error")
        self.title = title or TITLES.get(status, "Error")
        self.errors, self.headers = errors, headers or {}


def invalid(field: str, message: str, code: str = "invalid") -> ApiProblem:
    return ApiProblem(
        422,
        f"{field}: {message}",
        code=code,
        errors=[{"field": field, "message": message}],
    )


def response(problem: ApiProblem) -> Response:
    body: dict[str, Any] = {
        "type": f"urn:servicetorg:problem:{problem.code}",
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": request.path,
    }
    if problem.errors:
        body["errors"] = problem.errors
    resp = Response(json.dumps(body), status=problem.status, mimetype=MEDIA_TYPE)
    resp.headers.update(problem.headers)
    if problem.status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="servicetorg"'
    return resp


def from_http_exception(exc: HTTPException) -> Response:
    """Werkzeug's errors (unknown path, wrong method, body over MAX_CONTENT_LENGTH, a rate
    limit) in the API's shape; never the description of an internal error."""
    status = exc.code or 500
    detail = exc.description if status < 500 else "The error has been logged."
    headers: dict[str, str] = {}
    methods = getattr(exc, "valid_methods", None)
    if status == 405 and methods:
        headers["Allow"] = ", ".join(methods)
    if status == 429:
        headers["Retry-After"] = str(_retry_after())
        detail = "Too many requests with this token. Wait and try again."
    return response(ApiProblem(status, str(detail or TITLES.get(status, "")), headers=headers))


def _retry_after() -> int:
    """Seconds until the token's window resets (Flask-Limiter's view of it), at least 1."""
    import time

    from inbox.ratelimit import limiter

    current = limiter.current_limit
    if current is None:
        return 60
    return max(1, int(current.reset_at - time.time()) + 1)
