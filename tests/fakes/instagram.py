"""A fake of the Graph API's Instagram edges over real HTTP, next to the Facebook ones
(tests/fakes/facebook.py: the same token and appsecret_proof checks, cursor paging and error
bodies), checking requests against the documented shapes:

- GET /{page-id}/conversations?platform=instagram&fields=participants,messages{…} and
  GET /{conversation-id}/messages (https://developers.facebook.com/docs/messenger-platform/conversations);
- GET /{ig-user-id}/media and GET /{ig-media-id}/comments, with `fields` limited to the fields
  the IG Media and IG Comment references list;
- POST /{page-id}/messages to an Instagram-scoped id (recipient {"id"}, message {"text"} of at
  most 1000 bytes, messaging_type RESPONSE/UPDATE/MESSAGE_TAG, tag HUMAN_AGENT only);
- POST /{ig-comment-id}/replies with `message` (the comment must exist and not be hidden).

Anything else falls through to the Facebook fake's routes. Plus helpers that build webhook
deliveries shaped as Meta's examples and sign them as Meta does.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
from typing import Any

from werkzeug.wrappers import Request, Response

from tests.fakes.facebook import VERSION, FakeGraph, fb_time, graph_error
from tests.fakes.server import json_response

# https://developers.facebook.com/docs/instagram-platform/reference/instagram-media
MEDIA_FIELDS = frozenset(
    [
        "alt_text",
        "boost_eligibility_info",
        "caption",
        "comments_count",
        "copyright_check_information",
        "id",
        "is_comment_enabled",
        "is_shared_to_feed",
        "legacy_instagram_media_id",
        "like_count",
        "media_product_type",
        "media_type",
        "media_url",
        "owner",
        "permalink",
        "shortcode",
        "thumbnail_url",
        "timestamp",
        "username",
    ]
)
# https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-comment
COMMENT_FIELDS = frozenset(
    [
        "from",
        "hidden",
        "id",
        "legacy_instagram_comment_id",
        "like_count",
        "media",
        "parent_id",
        "replies",
        "text",
        "timestamp",
        "user",
        "username",
    ]
)
# https://developers.facebook.com/docs/graph-api/reference/message (Instagram messages)
MESSAGE_FIELDS = frozenset(
    [
        "id",
        "created_time",
        "from",
        "to",
        "message",
        "attachments",
        "reactions",
        "shares",
        "story",
        "is_unsupported",
    ]
)
MAX_DM_BYTES = 1000


def _fields(value: str | None) -> tuple[set[str], dict[str, set[str]]]:
    """`a,b,c{x,y}` -> ({"a", "b", "c"}, {"c": {"x", "y"}})."""
    top: set[str] = set()
    nested: dict[str, set[str]] = {}
    for m in re.finditer(r"(\w+)(?:\{([^}]*)\})?", value or ""):
        top.add(m.group(1))
        if m.group(2) is not None:
            nested[m.group(1)] = {f for f in m.group(2).split(",") if f}
    return top, nested


class FakeInstagramGraph(FakeGraph):
    def __init__(self, token: str, app_secret: str, page_size: int = 2) -> None:
        super().__init__(token, app_secret, page_size)
        self.ig_accounts: dict[str, str] = {}  # Instagram account id -> linked page id
        self.ig_conversations: dict[str, list[dict[str, Any]]] = {}  # by Instagram account id
        self.ig_media: dict[str, list[dict[str, Any]]] = {}  # by Instagram account id, newest first
        self.ig_sent: list[dict[str, Any]] = []
        self.refused: list[str] = []  # why a request was refused as not matching the docs
        self._ig_ids = itertools.count(1)
        v = VERSION
        own = [
            ("GET", rf"/{v}/(\d+)/conversations", self._ig_conversations_route),
            ("GET", rf"/{v}/(aWdf[\w-]+)/messages", self._ig_messages),
            ("GET", rf"/{v}/(\d+)/media", self._ig_media_route),
            ("GET", rf"/{v}/(\d+)/comments", self._ig_comments),
            ("POST", rf"/{v}/(\d+)/messages", self._ig_send),
            ("POST", rf"/{v}/(\d+)/replies", self._ig_reply),
        ]
        facebook = self.routes
        self.routes = []
        for method, pattern, handler in own:
            self.route(method, pattern, handler)
        self.routes.extend(facebook)
        self._fb = {pattern.pattern: handler for _m, pattern, handler in facebook}

    # --- helpers used by tests -----------------------------------------------------------

    def link(self, ig_id: str, page_id: str) -> None:
        self.ig_accounts[ig_id] = page_id

    def add_ig_conversation(self, ig_id: str, igsid: str, username: str) -> dict[str, Any]:
        conv = {
            "id": f"aWdfZAG06{igsid}",
            "participants": [
                {"username": "kommunen", "id": ig_id},
                {"username": username, "id": igsid},
            ],
            "messages": [],
        }
        self.ig_conversations.setdefault(ig_id, []).insert(0, conv)
        return conv

    def add_ig_message(
        self, conv: dict[str, Any], mid: str, text: str, sender: dict[str, str], at: float
    ) -> None:
        ig_id, other = (p["id"] for p in conv["participants"])
        to = other if sender["id"] == ig_id else ig_id
        conv["messages"].insert(
            0,
            {
                "id": mid,
                "created_time": fb_time(at),
                "from": sender,
                "to": {"data": [{"id": to}]},
                "message": text,
            },
        )

    def add_media(self, ig_id: str, media_id: str, caption: str, at: float) -> dict[str, Any]:
        media = {
            "id": media_id,
            "caption": caption,
            "media_product_type": "FEED",
            "media_type": "IMAGE",
            "permalink": f"https://www.instagram.com/p/{media_id[-6:]}/",
            "timestamp": fb_time(at),
            "comments": [],
        }
        self.ig_media.setdefault(ig_id, []).insert(0, media)
        return media

    def add_comment(
        self, media: dict[str, Any], comment_id: str, text: str, igsid: str, user: str, at: float
    ) -> dict[str, Any]:
        comment = {
            "id": comment_id,
            "text": text,
            "timestamp": fb_time(at),
            "from": {"id": igsid, "username": user},
            "username": user,
            "hidden": False,
            "replies": [],
        }
        media["comments"].append(comment)
        return comment

    # --- checks --------------------------------------------------------------------------

    def _refuse(self, why: str) -> Response:
        self.refused.append(why)
        return graph_error(100, f"(#100) {why}")

    def _check_fields(self, request: Request, allowed: set[str], what: str) -> Response | None:
        top, nested = _fields(request.args.get("fields"))
        unknown = top - allowed
        if not top or unknown:
            return self._refuse(f"Tried accessing nonexisting field ({sorted(unknown)}) on {what}")
        return None

    def _media_by_id(self, media_id: str) -> dict[str, Any] | None:
        for rows in self.ig_media.values():
            for m in rows:
                if m["id"] == media_id:
                    return m
        return None

    def _comment_by_id(self, comment_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        for rows in self.ig_media.values():
            for m in rows:
                for c in m["comments"]:
                    if c["id"] == comment_id:
                        return m, c
        return None

    # --- routes --------------------------------------------------------------------------

    def _ig_conversations_route(self, request: Request, match) -> Response:  # type: ignore[no-untyped-def]
        page_id = match.group(1)
        if request.args.get("platform") != "instagram":
            return self._fb[rf"/{VERSION}/(\d+)/conversations$"](request, match)
        if (err := self._auth(request)) is not None:
            return err
        top, nested = _fields(request.args.get("fields"))
        if not top <= {"id", "participants", "messages", "updated_time", "message_count"}:
            return self._refuse(f"unknown conversation fields {sorted(top)}")
        if not nested.get("messages", set()) <= MESSAGE_FIELDS:
            return self._refuse(f"unknown message fields {sorted(nested['messages'])}")
        ig_id = next((i for i, p in self.ig_accounts.items() if p == page_id), None)
        if ig_id is None:
            return self._refuse("the page has no linked Instagram account")
        rows = [
            {
                "id": c["id"],
                "participants": {"data": c["participants"]},
                "messages": self._page_obj(
                    f"/{VERSION}/{c['id']}/messages",
                    {"fields": ",".join(sorted(nested.get("messages", {"id"})))},
                    self._project(c["messages"][: self.page_size], nested.get("messages")),
                    0,
                    len(c["messages"]),
                ),
            }
            for c in self.ig_conversations.get(ig_id, [])
        ]
        return json_response(self._paged(request, rows))

    def _project(self, rows: list[dict[str, Any]], fields: set[str] | None) -> list[dict]:  # type: ignore[type-arg]
        keep = (fields or {"id"}) | {"id"}
        return [{k: v for k, v in r.items() if k in keep} for r in rows]

    def _ig_messages(self, request: Request, match) -> Response:  # type: ignore[no-untyped-def]
        if (err := self._auth(request)) is not None:
            return err
        if (err := self._check_fields(request, MESSAGE_FIELDS, "Message")) is not None:
            return err
        top, _nested = _fields(request.args.get("fields"))
        for convs in self.ig_conversations.values():
            for c in convs:
                if c["id"] == match.group(1):
                    return json_response(self._paged(request, self._project(c["messages"], top)))
        return graph_error(100, "Unsupported get request.")

    def _ig_media_route(self, request: Request, match) -> Response:  # type: ignore[no-untyped-def]
        if (err := self._auth(request)) is not None:
            return err
        if match.group(1) not in self.ig_accounts:
            return graph_error(100, "Unsupported get request.")
        if (err := self._check_fields(request, MEDIA_FIELDS, "IGMedia")) is not None:
            return err
        top, _nested = _fields(request.args.get("fields"))
        rows = self._project(self.ig_media.get(match.group(1), []), top)
        return json_response(self._paged(request, rows))

    def _ig_comments(self, request: Request, match) -> Response:  # type: ignore[no-untyped-def]
        media = self._media_by_id(match.group(1))
        if media is None:
            return self._fb[rf"/{VERSION}/([\d_]+)/comments$"](request, match)
        if (err := self._auth(request)) is not None:
            return err
        if (err := self._check_fields(request, COMMENT_FIELDS, "IGComment")) is not None:
            return err
        top, _nested = _fields(request.args.get("fields"))
        return json_response(self._paged(request, self._project(media["comments"], top)))

    def _ig_send(self, request: Request, match) -> Response:  # type: ignore[no-untyped-def]
        page_id = match.group(1)
        ig_id = next((i for i, p in self.ig_accounts.items() if p == page_id), None)
        form = request.form.to_dict()
        try:
            recipient = json.loads(form.get("recipient", "")).get("id")
        except (ValueError, AttributeError):
            recipient = None
        igsids = {
            p["id"]
            for c in self.ig_conversations.get(ig_id or "", [])
            for p in c["participants"]
            if p["id"] != ig_id
        }
        if ig_id is None or recipient not in igsids:
            return self._fb[rf"/{VERSION}/(\d+)/messages$"](request, match)  # Messenger
        if (err := self._auth(request)) is not None:
            return err
        self.ig_sent.append({"path": request.path, "page_id": page_id, **form})
        try:
            message = json.loads(form.get("message", ""))
        except ValueError:
            return self._refuse("Param message must be JSON")
        if set(message) != {"text"} or not isinstance(message["text"], str):
            return self._refuse("message must be {text}")
        if len(message["text"].encode()) > MAX_DM_BYTES:
            return self._refuse("Param message[text] must be at most 1000 bytes")
        kind = form.get("messaging_type")
        if kind not in (None, "RESPONSE", "UPDATE", "MESSAGE_TAG"):
            return self._refuse("Param messaging_type must be one of RESPONSE, UPDATE, MESSAGE_TAG")
        if (kind == "MESSAGE_TAG") != ("tag" in form) or form.get("tag", "HUMAN_AGENT") != (
            "HUMAN_AGENT"
        ):
            return self._refuse("Instagram accepts only the HUMAN_AGENT tag, with MESSAGE_TAG")
        return json_response(
            {"recipient_id": recipient, "message_id": f"aWdfZAG1faXRlbTox{next(self._ig_ids)}"}
        )

    def _ig_reply(self, request: Request, match) -> Response:  # type: ignore[no-untyped-def]
        if (err := self._auth(request)) is not None:
            return err
        found = self._comment_by_id(match.group(1))
        message = request.form.get("message") or request.args.get("message")
        self.ig_sent.append(
            {"path": request.path, "comment_id": match.group(1), "message": message}
        )
        if found is None:
            return graph_error(100, "Unsupported post request. Object does not exist.")
        media, comment = found
        if comment["hidden"]:
            return self._refuse("You cannot reply to a hidden comment")
        if not message:
            return self._refuse("The parameter message is required")
        reply_id = f"1790{next(self._ig_ids):011d}"
        comment["replies"].append({"id": reply_id, "text": message, "parent_id": comment["id"]})
        return json_response({"id": reply_id})


# --- an Instagram account connected in Servicetorg, and Meta-shaped signed deliveries --------


class InstagramAccount:
    """An Instagram professional account connected as two channel accounts (direct messages
    and comments), linked to a Facebook page."""

    def __init__(  # type: ignore[no-untyped-def]
        self, factory, tenant, fake: FakeInstagramGraph, monkeypatch, ig_id: str, page_id: str
    ) -> None:
        from inbox.models import ChannelKind

        suffix = ig_id[-6:]
        refs = {
            "page_access_token": f"IG_PAGE_TOKEN_{suffix}",
            "app_secret": f"META_APP_SECRET_{suffix}",
            "verify_token": f"IG_VERIFY_{suffix}",
        }
        monkeypatch.setenv(refs["page_access_token"], fake.token)
        monkeypatch.setenv(refs["app_secret"], fake.app_secret)
        monkeypatch.setenv(refs["verify_token"], "verify-instagram")
        fake.link(ig_id, page_id)
        self.ig_id, self.page_id, self.fake, self.refs = ig_id, page_id, fake, refs
        self.tenant, self.monkeypatch = tenant, monkeypatch
        common = {
            "external_id": ig_id,
            "linked_page_id": page_id,
            "secret_refs": refs,
            "config": {"graph_url": fake.url},
        }
        self.dms = factory.channel(
            tenant, ChannelKind.INSTAGRAM, name="Kommunen (Instagram)", **common
        )
        self.comments = factory.channel(
            tenant,
            ChannelKind.INSTAGRAM_COMMENTS,
            name="Kommunen (Instagram-kommentarer)",
            **common,
        )

    def body(self, entries: list[dict[str, Any]]) -> bytes:
        return ig_body(entries)

    def sign(self, raw: bytes, secret: str | None = None) -> str:
        return sign(raw, secret or self.fake.app_secret)

    def deliver(  # type: ignore[no-untyped-def]
        self,
        client,
        entries: list[dict[str, Any]],
        signature: str | None = None,
        *,
        url_id: str | None = None,
        process: bool = True,
    ):
        """POST the delivery as Meta does; with `process`, the inbound worker's batch runs."""
        raw = self.body(entries)
        resp = client.post(
            f"/webhooks/instagram/{url_id or self.ig_id}",
            data=raw,
            content_type="application/json",
            headers={"X-Hub-Signature-256": signature or self.sign(raw)},
        )
        if process:
            from tests.conftest import run_inbound

            run_inbound(client.application)
        return resp


def ig_body(entries: list[dict[str, Any]]) -> bytes:
    # Compact JSON with non-ASCII escaped as \uXXXX, as Meta sends it; signed exactly so.
    return json.dumps({"object": "instagram", "entry": entries}, separators=(",", ":")).encode()


def sign(raw: bytes, secret: str) -> str:
    """X-Hub-Signature-256 as Meta computes it: HMAC-SHA256 of the raw body, app secret as key."""
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def dm_entry(ig_id: str, *events: dict[str, Any], time_ms: int = 1) -> dict[str, Any]:
    return {"id": ig_id, "time": time_ms, "messaging": list(events)}


def dm_event(ig_id: str, igsid: str, mid: str, text: str | None, ts_ms: int) -> dict[str, Any]:
    message: dict[str, Any] = {"mid": mid}
    if text is not None:
        message["text"] = text
    return {
        "sender": {"id": igsid},
        "recipient": {"id": ig_id},
        "timestamp": ts_ms,
        "message": message,
    }


def comments_entry(ig_id: str, *values: dict[str, Any], time_ms: int = 1) -> dict[str, Any]:
    return {
        "id": ig_id,
        "time": time_ms,
        "changes": [{"field": "comments", "value": v} for v in values],
    }


def comment_value(
    comment_id: str,
    media_id: str,
    text: str,
    sender: tuple[str, str] = ("17841455500000001", "kari.nordmann"),
    *,
    parent_id: str | None = None,
    product: str = "FEED",
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "from": {"id": sender[0], "username": sender[1]},
        "media": {"id": media_id, "media_product_type": product},
        "id": comment_id,
        "text": text,
    }
    if parent_id is not None:
        value["parent_id"] = parent_id
    return value
