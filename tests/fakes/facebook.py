"""A fake Graph API over real HTTP, with the documented shapes: cursor paging
({"data": [...], "paging": {"cursors": {"before", "after"}, "next": url}}), Graph error bodies
({"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}), appsecret_proof checks,
the Messenger Send API and comment replies, and a CDN path for attachments.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from tests.fakes.server import FakeProvider, json_response

VERSION = "v21.0"


def graph_error(code: int, message: str, subcode: int | None = None, status: int = 400) -> Response:
    body: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbCdEfGhIjK",
    }
    if subcode is not None:
        body["error_subcode"] = subcode
    return json_response({"error": body}, status=status)


def fb_time(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


class FakeGraph(FakeProvider):
    def __init__(self, token: str, app_secret: str, page_size: int = 2) -> None:
        super().__init__()
        self.token, self.app_secret, self.page_size = token, app_secret, page_size
        self.expired = False
        # page id -> list of conversations {"id", "participants": [...], "messages": [...]}
        # (messages newest first, as the Graph API lists them)
        self.conversations: dict[str, list[dict[str, Any]]] = {}
        # page id -> list of posts {"id", "message", "created_time", "comments": [...]}
        self.posts: dict[str, list[dict[str, Any]]] = {}
        self.files: dict[str, tuple[bytes, str]] = {}
        self.redirects: dict[str, str] = {}  # CDN file name -> Location of a 302
        self.sent: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        v = VERSION
        # GET /me with a page token is the page itself ({"id", "name"}); None: not set up.
        self.me: dict[str, str] | None = None
        # Permissions the token lacks: reading conversations without pages_messaging answers
        # a permission error (Graph error codes 200-299), as Graph does.
        self.missing_permissions: set[str] = set()
        self.route("GET", rf"/{v}/me", self._me)
        self.route("GET", rf"/{v}/(\d+)/conversations", self._conversations)
        self.route("GET", rf"/{v}/(t_[\w-]+)/messages", self._conversation_messages)
        self.route("GET", rf"/{v}/(\d+)/feed", self._feed)
        self.route("GET", rf"/{v}/([\d_]+)/comments", self._post_comments)
        self.route("POST", rf"/{v}/(\d+)/messages", self._send)
        self.route("POST", rf"/{v}/([\d_]+)/comments", self._comment_reply)
        self.route("GET", r"/cdn/([\w.-]+)", self._file)

    # --- helpers used by tests -----------------------------------------------------------

    def add_conversation(self, page_id: str, psid: str, name: str, conv_id: str | None = None):  # type: ignore[no-untyped-def]
        conv = {
            "id": conv_id or f"t_{psid}",
            "participants": [{"name": name, "id": psid}, {"name": "Kommunen", "id": page_id}],
            "messages": [],
        }
        self.conversations.setdefault(page_id, []).insert(0, conv)
        return conv

    def add_post(self, page_id: str, post_id: str, text: str, created: float) -> dict[str, Any]:
        post = {"id": post_id, "message": text, "created_time": fb_time(created), "comments": []}
        self.posts.setdefault(page_id, []).insert(0, post)
        return post

    # --- auth and paging -----------------------------------------------------------------

    def _auth(self, request: Request) -> Response | None:
        values = request.form if request.method == "POST" else request.args
        token = values.get("access_token") or request.args.get("access_token")
        proof = values.get("appsecret_proof") or request.args.get("appsecret_proof")
        if self.expired or token != self.token:
            return graph_error(
                190, "Error validating access token: Session has expired.", subcode=463
            )
        good = hmac.new(self.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
        if not proof or not hmac.compare_digest(proof, good):
            return graph_error(100, "Invalid appsecret_proof provided in the API argument")
        return None

    def _paged(self, request: Request, rows: list[Any]) -> dict[str, Any]:
        after = request.args.get("after")
        start = int(base64.b64decode(after).decode()) if after else 0
        chunk = rows[start : start + self.page_size]
        return self._page_obj(request.path, dict(request.args), chunk, start, len(rows))

    def _page_obj(
        self, path: str, args: dict[str, str], chunk: list[Any], start: int, total: int
    ) -> dict[str, Any]:
        out: dict[str, Any] = {"data": chunk}
        if not chunk:
            return out
        end = start + len(chunk)
        cursors = {
            "before": base64.b64encode(str(start).encode()).decode(),
            "after": base64.b64encode(str(end).encode()).decode(),
        }
        out["paging"] = {"cursors": cursors}
        if end < total:
            query = {**args, "after": cursors["after"], "limit": str(self.page_size)}
            out["paging"]["next"] = f"{self.url}{path}?{urlencode(query)}"
        return out

    # --- routes --------------------------------------------------------------------------

    def _me(self, request: Request, match) -> Response:  # type: ignore[no-untyped-def]
        if (err := self._auth(request)) is not None:
            return err
        if self.me is None:
            return graph_error(100, "Unsupported get request.")
        fields = (request.args.get("fields") or "id").split(",")
        return json_response({k: v for k, v in self.me.items() if k in fields or k == "id"})

    def _conversations(self, request: Request, match) -> Response:  # type: ignore[no-untyped-def]
        if (err := self._auth(request)) is not None:
            return err
        if "pages_messaging" in self.missing_permissions:
            return graph_error(
                230, "(#230) Requires pages_messaging permission to manage the object", status=403
            )
        page_id = match.group(1)
        rows = [
            {
                "id": c["id"],
                "participants": {"data": c["participants"]},
                "messages": self._page_obj(
                    f"/{VERSION}/{c['id']}/messages",
                    {},
                    c["messages"][: self.page_size],
                    0,
                    len(c["messages"]),
                ),
            }
            for c in self.conversations.get(page_id, [])
        ]
        return json_response(self._paged(request, rows))

    def _conversation_messages(self, request: Request, match) -> Response:  # type: ignore[no-untyped-def]
        if (err := self._auth(request)) is not None:
            return err
        for convs in self.conversations.values():
            for c in convs:
                if c["id"] == match.group(1):
                    return json_response(self._paged(request, c["messages"]))
        return graph_error(100, "Unsupported get request.")

    def _feed(self, request: Request, match) -> Response:  # type: ignore[no-untyped-def]
        if (err := self._auth(request)) is not None:
            return err
        rows = [
            {
                "id": p["id"],
                "message": p["message"],
                "created_time": p["created_time"],
                "comments": self._page_obj(
                    f"/{VERSION}/{p['id']}/comments",
                    {},
                    p["comments"][: self.page_size],
                    0,
                    len(p["comments"]),
                ),
            }
            for p in self.posts.get(match.group(1), [])
        ]
        return json_response(self._paged(request, rows))

    def _post_comments(self, request: Request, match) -> Response:  # type: ignore[no-untyped-def]
        if (err := self._auth(request)) is not None:
            return err
        for posts in self.posts.values():
            for p in posts:
                if p["id"] == match.group(1):
                    return json_response(self._paged(request, p["comments"]))
        return graph_error(100, "Unsupported get request.")

    def _send(self, request: Request, match) -> Response:  # type: ignore[no-untyped-def]
        if (err := self._auth(request)) is not None:
            return err
        form = request.form.to_dict()
        self.sent.append({"page_id": match.group(1), **form})
        if form.get("messaging_type") not in ("RESPONSE", "MESSAGE_TAG", "UPDATE"):
            return graph_error(100, "(#100) Param messaging_type must be one of ...")
        n = next(self._ids)
        recipient = json.loads(form["recipient"])["id"]
        return json_response({"recipient_id": recipient, "message_id": f"m_out{n}"})

    def _comment_reply(self, request: Request, match) -> Response:  # type: ignore[no-untyped-def]
        if (err := self._auth(request)) is not None:
            return err
        form = request.form.to_dict()
        self.sent.append({"comment_id": match.group(1), **form})
        return json_response({"id": f"{match.group(1).split('_')[0]}_9{next(self._ids)}"})

    def _file(self, request: Request, match) -> Response:  # type: ignore[no-untyped-def]
        if match.group(1) in self.redirects:
            return Response("", status=302, headers={"Location": self.redirects[match.group(1)]})
        data, ctype = self.files.get(match.group(1), (b"", ""))
        if not ctype:
            return json_response({"error": "gone"}, status=404)
        return Response(data, mimetype=ctype)


# --- helpers for tests: a connected page and Meta-style signed deliveries -------------------


class Page:
    """A Facebook page connected as two channel accounts (Messenger and comments)."""

    def __init__(self, factory, tenant, fake: FakeGraph, monkeypatch, page_id: str) -> None:  # type: ignore[no-untyped-def]
        from inbox.models import ChannelKind

        suffix = page_id[-6:]
        refs = {
            "page_access_token": f"FB_TOKEN_{suffix}",
            "app_secret": f"FB_APP_SECRET_{suffix}",
            "verify_token": f"FB_VERIFY_{suffix}",
        }
        monkeypatch.setenv(refs["page_access_token"], fake.token)
        monkeypatch.setenv(refs["app_secret"], fake.app_secret)
        monkeypatch.setenv(refs["verify_token"], "verify-me-please")
        self.page_id, self.fake, self.refs, self.monkeypatch = page_id, fake, refs, monkeypatch
        self.tenant = tenant
        common = {"external_id": page_id, "secret_refs": refs, "config": {"graph_url": fake.url}}
        self.messenger = factory.channel(
            tenant, ChannelKind.MESSENGER, name="Kommunen (Messenger)", **common
        )
        self.comments = factory.channel(
            tenant, ChannelKind.FACEBOOK_COMMENTS, name="Kommunen (kommentarer)", **common
        )

    def replace_token(self, token: str) -> None:
        self.fake.token = token
        self.fake.expired = False
        self.monkeypatch.setenv(self.refs["page_access_token"], token)

    def body(self, entries: list[dict[str, Any]]) -> bytes:
        # Meta sends compact JSON with non-ASCII escaped as \uXXXX; we sign exactly these bytes.
        return json.dumps({"object": "page", "entry": entries}, separators=(",", ":")).encode()

    def sign(self, raw: bytes) -> str:
        digest = hmac.new(self.fake.app_secret.encode(), raw, hashlib.sha256).hexdigest()
        return f"sha256={digest}"

    def deliver(  # type: ignore[no-untyped-def]
        self,
        client,
        entries: list[dict[str, Any]],
        signature: str | None = None,
        *,
        process: bool = True,
    ):
        """POST the page webhook as Meta does; with `process`, the inbound worker's batch
        (queued by the webhook) runs after it, as a worker would."""
        raw = self.body(entries)
        resp = client.post(
            f"/webhooks/facebook/{self.page_id}",
            data=raw,
            content_type="application/json",
            headers={"X-Hub-Signature-256": signature or self.sign(raw)},
        )
        if process:
            from tests.conftest import run_inbound

            run_inbound(client.application)
        return resp


def messaging_entry(
    page_id: str | int, *events: dict[str, Any], time_ms: int = 0
) -> dict[str, Any]:
    return {"id": page_id, "time": time_ms or 1, "messaging": list(events)}


def text_event(
    page_id: str | int, psid: str | int, mid: str, text: str, ts_ms: int
) -> dict[str, Any]:
    return {
        "sender": {"id": psid},
        "recipient": {"id": page_id},
        "timestamp": ts_ms,
        "message": {"mid": mid, "text": text},
    }


def feed_entry(page_id: str | int, *values: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": page_id,
        "time": 1,
        "changes": [{"field": "feed", "value": v} for v in values],
    }


def comment_value(
    verb: str,
    post_id: str,
    comment_id: str,
    message: str | None = None,
    *,
    parent_id: str | None = None,
    sender: tuple[str | int, str] = ("1234567890", "Kari Nordmann"),
    created: int = 1_790_000_000,
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "item": "comment",
        "verb": verb,
        "post_id": post_id,
        "comment_id": comment_id,
        "parent_id": parent_id or post_id,
        "from": {"id": sender[0], "name": sender[1]},
        "created_time": created,
    }
    if message is not None:
        value["message"] = message
    return value
