"""A fake WordPress site speaking the REST API over real HTTP (wp/v2 comments, posts, users/me).

Shapes follow https://developer.wordpress.org/rest-api/reference/comments/: comments ordered and
paginated as asked, X-WP-Total / X-WP-TotalPages headers, WP_Error bodies
({"code", "message", "data": {"status"}}), Basic auth with an application password (WordPress
ignores the spaces it shows the password with).
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from werkzeug.wrappers import Request, Response

from tests.fakes.server import FakeProvider, json_response

API = "/wp-json/wp/v2"


def wp_error(code: str, message: str, status: int) -> Response:
    return json_response({"code": code, "message": message, "data": {"status": status}}, status)


class FakeWordPress(FakeProvider):
    def __init__(
        self, user: str = "servicetorg", app_password: str = "abcd EFGH 1234 ijkl"
    ) -> None:
        super().__init__()
        self.user, self.app_password = user, app_password.replace(" ", "")
        self.user_id = 7
        self.comments: list[dict[str, Any]] = []
        self.posts: dict[int, dict[str, Any]] = {}
        self._next_id = 1
        self.raw: dict[int, str] = {}  # what we posted, for duplicate detection
        self.emails: dict[int, str] = {}  # author_email, shown only with context=edit
        self.failing_pages: list[int] = []  # comment-list pages that answer 500 once each
        self.route("GET", f"{API}/comments", self._list)
        self.route("POST", f"{API}/comments", self._create)
        self.route("GET", rf"{API}/posts/(\d+)", self._post)
        self.route("GET", rf"{API}/pages/(\d+)", self._missing)
        self.route("GET", f"{API}/users/me", self._me)

    # -- test helpers ---------------------------------------------------------------
    def add_post(self, post_id: int, title: str) -> None:
        self.posts[post_id] = {"title": title, "link": f"{self.url}/{post_id}/side-{post_id}/"}

    def add_comment(
        self,
        post: int,
        html: str,
        author_name: str = "Kari Nordmann",
        parent: int = 0,
        status: str = "approved",
        author: int = 0,
        author_email: str = "",
    ) -> int:
        cid = self._next_id
        self.emails[cid] = author_email
        self._next_id += 1
        self.comments.append(
            {
                "id": cid,
                "post": post,
                "parent": parent,
                "author": author,
                "author_name": author_name,
                "author_url": "",
                "date": "2026-11-20T11:15:00",
                "date_gmt": "2026-11-20T10:15:00",
                "content": {"rendered": html},
                "link": f"{self.url}/{post}/side-{post}/#comment-{cid}",
                "status": status,
                "type": "comment",
                "author_avatar_urls": {"24": "https://secure.gravatar.com/avatar/x?s=24"},
                "meta": [],
            }
        )
        return cid

    def delete_comment(self, cid: int) -> None:
        self.comments = [c for c in self.comments if c["id"] != cid]

    def comment_requests(self) -> list[Any]:
        return [r for r in self.requests if r.path == f"{API}/comments"]

    # -- handlers -------------------------------------------------------------------
    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user == self.user and password.replace(" ", "") == self.app_password

    def _list(self, request: Request, match: re.Match[str]) -> Response:
        args = request.args
        per_page, page = int(args.get("per_page", 10)), int(args.get("page", 1))
        if page in self.failing_pages:
            self.failing_pages.remove(page)
            return wp_error("internal_server_error", "There has been a critical error.", 500)
        if not 1 <= per_page <= 100:
            return wp_error("rest_invalid_param", "Invalid parameter(s): per_page", 400)
        items = [c for c in self.comments if c["status"] == "approved"]
        if args.get("post"):
            wanted = {int(p) for p in args["post"].split(",")}
            items = [c for c in items if c["post"] in wanted]
        key = args.get("orderby", "date_gmt")
        items.sort(key=lambda c: c[key], reverse=args.get("order", "desc") == "desc")
        total = len(items)
        pages = max(1, -(-total // per_page)) if total else 0
        if page > 1 and page > pages:
            return wp_error(
                "rest_comment_invalid_page_number",
                "The page number requested is larger than the number of pages available.",
                400,
            )
        chunk = items[(page - 1) * per_page : page * per_page]
        if args.get("context") == "edit":
            if not self._authorised(request):
                return wp_error(
                    "rest_forbidden_context", "Sorry, you are not allowed to edit comments.", 401
                )
            chunk = [{**c, "author_email": self.emails.get(c["id"], "")} for c in chunk]
        return Response(
            json.dumps(chunk),
            mimetype="application/json",
            headers={"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)},
        )

    def _post(self, request: Request, match: re.Match[str]) -> Response:
        post = self.posts.get(int(match.group(1)))
        if post is None:
            return wp_error("rest_post_invalid_id", "Invalid post ID.", 404)
        return json_response(
            {"title": {"rendered": post["title"]}, "link": post["link"]}  # _fields=title,link
        )

    def _missing(self, request: Request, match: re.Match[str]) -> Response:
        return wp_error("rest_post_invalid_id", "Invalid post ID.", 404)

    def _me(self, request: Request, match: re.Match[str]) -> Response:
        if not self._authorised(request):
            return wp_error("rest_not_logged_in", "You are not currently logged in.", 401)
        return json_response({"id": self.user_id})

    def _create(self, request: Request, match: re.Match[str]) -> Response:
        if not self._authorised(request):
            return wp_error(
                "incorrect_password",
                "The provided password is an invalid application password.",
                401,
            )
        data = request.get_json(silent=True) or {}
        post, parent = int(data.get("post") or 0), int(data.get("parent") or 0)
        if post not in self.posts:
            return wp_error(
                "rest_comment_invalid_post_id",
                "Sorry, you are not allowed to create this comment without a post.",
                403,
            )
        if parent and not any(c["id"] == parent and c["post"] == post for c in self.comments):
            return wp_error("rest_comment_invalid_parent", "Invalid comment parent.", 400)
        content = str(data.get("content") or "")
        if any(
            c["author"] == self.user_id and c["post"] == post and self.raw.get(c["id"]) == content
            for c in self.comments
        ):
            return wp_error(
                "comment_duplicate",
                "Duplicate comment detected; it looks as though you’ve already said that!",
                409,
            )
        cid = self.add_comment(
            post,
            f"<p>{content}</p>\n",
            author_name="Servicetorget",
            parent=parent,
            author=self.user_id,
        )
        self.raw[cid] = content
        return json_response(self.comments[-1], 201)
