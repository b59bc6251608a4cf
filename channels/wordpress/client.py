"""A small WordPress REST API client (https://developer.wordpress.org/rest-api/reference/comments/).

Authentication is Basic with an application password (WordPress 5.6+), only for writing and for
/users/me; reading public comments needs none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from channels.wordpress.text import html_to_text

PER_PAGE = 100  # the API's maximum
TIMEOUT = (5, 30)


class WordPressError(Exception):
    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code

    @property
    def transient(self) -> bool:
        return self.status is None or self.status == 429 or self.status >= 500

    @property
    def auth(self) -> bool:
        return self.status in (401, 403)


@dataclass
class Page:
    items: list[dict[str, Any]]
    total: int
    total_pages: int


class WordPressClient:
    def __init__(
        self,
        api_root: str,
        user: str | None = None,
        password: str | None = None,
        per_page: int = PER_PAGE,
        edit_context: bool = False,
    ):
        self.api_root = api_root.rstrip("/")
        self.per_page = max(1, min(int(per_page), PER_PAGE))
        # context=edit adds author_email, but needs a user allowed to moderate comments.
        self.edit_context = edit_context
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "Servicetorg/1 (+web comments)"
        if user and password:
            self.session.auth = (user, password)
        self.has_auth = bool(user and password)

    def _call(self, method: str, path: str, **kw: Any) -> requests.Response:
        try:
            resp = self.session.request(method, f"{self.api_root}{path}", timeout=TIMEOUT, **kw)
        except requests.RequestException as exc:
            raise WordPressError(f"WordPress could not be reached: {exc}") from exc
        if resp.status_code >= 400:
            code, message = None, resp.reason
            try:
                body = resp.json()
                code, message = body.get("code"), body.get("message") or message
            except (ValueError, AttributeError):
                pass
            raise WordPressError(
                f"WordPress answered {resp.status_code}: {message}",
                status=resp.status_code,
                code=code,
            )
        return resp

    def comments(self, post: int | None, page: int) -> Page:
        params: dict[str, Any] = {
            "per_page": self.per_page,
            "page": page,
            "orderby": "id",
            "order": "asc",
        }
        if post is not None:
            params["post"] = post
        if self.edit_context and self.has_auth:
            params["context"] = "edit"
        resp = self._call("GET", "/wp/v2/comments", params=params)
        items = resp.json()
        if not isinstance(items, list):
            raise WordPressError("WordPress returned something other than a list of comments")
        return Page(
            items=items,
            total=_count(resp.headers.get("X-WP-Total"), len(items)),
            total_pages=_count(resp.headers.get("X-WP-TotalPages"), 1),
        )

    def title(self, post_id: int) -> tuple[str | None, str | None]:
        """(title, link) of the post or page a comment sits under."""
        for kind in ("posts", "pages"):
            try:
                resp = self._call(
                    "GET", f"/wp/v2/{kind}/{post_id}", params={"_fields": "title,link"}
                )
            except WordPressError as exc:
                if exc.status == 404:
                    continue
                raise
            data = resp.json()
            rendered = ((data or {}).get("title") or {}).get("rendered") or ""
            return html_to_text(rendered) or None, data.get("link")
        return None, None

    def me(self) -> int:
        return int(self._call("GET", "/wp/v2/users/me", params={"_fields": "id"}).json()["id"])

    def create_comment(self, post: int, parent: int | None, content: str) -> dict[str, Any]:
        payload: dict[str, Any] = {"post": post, "content": content}
        if parent:
            payload["parent"] = parent
        return self._call("POST", "/wp/v2/comments", json=payload).json()


def _count(header: str | None, default: int) -> int:
    """A count header; the default when it is missing or not a plain number."""
    value = (header or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else default
