"""The generic signed JSON webhook for publishing systems other than WordPress.

    POST /webhooks/comments/<account_id>
    X-Servicetorg-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>
    {"id": "c-123", "page_url": "https://...", "page_title": "...",
     "author": {"name": "...", "email": "..."}, "body": "plain text",
     "created_at": "2026-11-20T10:15:00+01:00", "parent_id": "c-100"}

The secret is per source: `secret_refs["webhook_secret"]` names the environment variable.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from channels.interfaces import InvalidPayload
from channels.validation import clean_text, is_text, iso_datetime
from channels.wordpress.services import Comment

SIGNATURE_HEADER = "X-Servicetorg-Signature"
_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
FIELDS = {"id", "page_url", "page_title", "author", "body", "created_at", "parent_id"}


class Invalid(InvalidPayload):
    """A field of the wrong shape; `field` names it (dotted for nested fields)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def sign(secret: str, raw: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def signature_ok(secret: str, raw: bytes, header: str | None) -> bool:
    return bool(header) and hmac.compare_digest(sign(secret, raw), (header or "").strip().lower())


def _text(data: dict[str, Any], field: str, limit: int, *, required: bool) -> str | None:
    """A short field (URL, title, name, address): refused when too long or not clean text."""
    value = data.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise Invalid(field, f"{field} must be a non-empty string")
    if len(value) > limit or not is_text(value) or any(ord(c) < 32 for c in value):
        raise Invalid(field, f"{field} is longer than {limit} characters or has control characters")
    return value.strip() or None


def _body(data: dict[str, Any]) -> str:
    """The comment itself: cleaned (NUL, control characters, lone surrogates) and cut to
    MAX_MESSAGE_CHARS with a mark, so a long comment is kept, not refused."""
    value = data.get("body")
    if not isinstance(value, str) or not value.strip():
        raise Invalid("body", "body must be a non-empty string")
    body = clean_text(value).strip()
    if not body:
        raise Invalid("body", "body must be a non-empty string")
    return body


def _id(value: Any, field: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _ID.match(value):
        raise Invalid(field, f"{field} must be 1-128 characters of A-Z a-z 0-9 . _ : -")
    return value


def parse(data: Any, max_body_chars: int | None = None) -> Comment:
    """Validate the documented shape strictly; raises Invalid naming the first bad field.

    The body is cut to MAX_MESSAGE_CHARS (`max_body_chars` is kept for callers; the request
    size limit already bounds it)."""
    if not isinstance(data, dict):
        raise Invalid("", "the body must be a JSON object")
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise Invalid(unknown[0], f"unknown field(s): {', '.join(unknown)}")
    comment_id = _id(data.get("id"), "id")
    page_url = _text(data, "page_url", 2048, required=True) or ""
    parts = urlsplit(page_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Invalid("page_url", "page_url must be an http(s) URL")
    author = data.get("author") or {}
    if not isinstance(author, dict) or set(author) - {"name", "email"}:
        raise Invalid("author", 'author must be an object with "name" and optionally "email"')
    name = _text(author, "name", 200, required=False)
    email = _text(author, "email", 254, required=False)
    if email and not _EMAIL.match(email):
        raise Invalid("author.email", "author.email is not an e-mail address")
    created = _text(data, "created_at", 64, required=True) or ""
    try:
        datetime.fromisoformat(created)
    except ValueError:
        raise Invalid("created_at", "created_at must be an ISO 8601 date-time") from None
    try:
        created_at = iso_datetime(created)
    except InvalidPayload as exc:
        if "offset" in str(exc):
            raise Invalid(
                "created_at", "created_at must include a UTC offset (Z or +01:00)"
            ) from None
        raise Invalid("created_at", f"created_at: {exc}") from None
    if created_at > datetime.now(UTC) + timedelta(days=1):
        raise Invalid("created_at", "created_at is in the future")
    parent = data.get("parent_id")
    return Comment(
        comment_id=comment_id,
        thread_key="page:" + hashlib.sha256(page_url.encode()).hexdigest()[:40],
        page_url=page_url,
        page_title=_text(data, "page_title", 300, required=False),
        author_name=name,
        author_email=email,
        body=_body(data),
        created_at=created_at,
        parent_id=_id(parent, "parent_id") if parent is not None else None,
    )
