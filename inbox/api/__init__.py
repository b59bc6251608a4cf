"""The JSON API for other systems (/api/v1): bearer tokens per municipality, problem+json
errors (RFC 9457) and an OpenAPI 3.1 document kept true by tests/test_api_schema.py."""

PREFIX = "/api/v1"


def blueprint():  # type: ignore[no-untyped-def]
    """The /api/v1 blueprint with every operation registered (read and write)."""
    from inbox.api import actions, views  # noqa: F401  (actions registers its routes)

    return views.bp


def is_api_request() -> bool:
    from flask import request

    return request.path == PREFIX or request.path.startswith(PREFIX + "/")
