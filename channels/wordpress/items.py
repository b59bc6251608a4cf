"""A comment item of the WordPress REST API checked for shape before use.

https://developer.wordpress.org/rest-api/reference/comments/#schema: `id`, `post`, `parent` and
`author` are integers, `content.rendered` is HTML, `date_gmt` is an ISO date-time without offset
(UTC). A plug-in or a broken site can send anything; an item that does not fit raises
InvalidPayload and is skipped alone, the rest of the page is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from channels.interfaces import InvalidPayload
from channels.validation import EARLIEST, clean_text, is_text, optional_text
from channels.wordpress.services import Comment
from channels.wordpress.text import html_to_text

MAX_ID = 2**63 - 1
MAX_URL = 2048
MAX_HTML_CHARS = 200_000


@dataclass
class Item:
    """What the poll needs of an item besides the comment itself."""

    id: int
    status: str
    author: int
    comment: Comment


def whole_number(value: Any, what: str, *, optional: bool = False) -> int:
    """A non-negative JSON integer (or its decimal string) within 64 bits."""
    if value is None and optional:
        return 0
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise InvalidPayload(f"{what} is not a whole number")
    return value


def parse_item(raw: Any) -> Item:
    """One item of GET /wp/v2/comments as an Item; raises InvalidPayload."""
    if not isinstance(raw, dict):
        raise InvalidPayload("comment item is not an object")
    comment_id = whole_number(raw.get("id"), "id")
    if comment_id == 0:
        raise InvalidPayload("id is 0")
    post = whole_number(raw.get("post"), "post", optional=True)
    parent = whole_number(raw.get("parent"), "parent", optional=True)
    content = raw.get("content")
    if content is not None and not isinstance(content, dict):
        raise InvalidPayload("content is not an object")
    rendered = (content or {}).get("rendered")
    if rendered is not None and not isinstance(rendered, str):
        raise InvalidPayload("content.rendered is not a string")
    link = raw.get("link")
    page_url = None
    if isinstance(link, str) and link.startswith(("https://", "http://")):
        link = link.split("#", 1)[0]
        if len(link) <= MAX_URL and is_text(link) and not any(c.isspace() for c in link):
            page_url = link
    email = optional_text(raw.get("author_email"), 254)  # edit context only
    status = raw.get("status", "approved")
    return Item(
        id=comment_id,
        status=status if isinstance(status, str) else "",
        author=whole_number(raw.get("author"), "author", optional=True),
        comment=Comment(
            comment_id=str(comment_id),
            thread_key=f"post:{post}",
            page_url=page_url,
            page_title=None,
            author_name=optional_text(raw.get("author_name"), 200),
            author_email=email if email and "@" in email and " " not in email else None,
            body=clean_text(html_to_text(clean_text(rendered or "", MAX_HTML_CHARS))),
            created_at=_gmt(raw.get("date_gmt")),
            parent_id=str(parent) if parent else None,
            post_id=post,
        ),
    )


def _gmt(value: Any) -> datetime | None:
    """WordPress's date_gmt has no offset ("2026-11-20T10:15:00"); it is UTC. None when
    missing, malformed or implausible (then the time we received it is used)."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if not EARLIEST.year <= parsed.year < 9000:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.replace(tzinfo=None) - (parsed.utcoffset() or timedelta(0))
    return parsed.replace(tzinfo=UTC)
