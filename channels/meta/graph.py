"""The one adapter around facebook-sdk 3.1.0, for every Meta channel (Facebook and Instagram).

facebook-sdk only accepts Graph API versions 2.8-3.1, all retired; we construct it with "3.1" and
then set the configured current version. Every call carries appsecret_proof
(https://developers.facebook.com/docs/graph-api/securing-requests) and errors come back as a
GraphError saying whether to retry, give up, or ask an admin for a new token.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import facebook
import requests
from flask import current_app

from inbox import secretstore
from inbox.models import ChannelAccount

# facebook-sdk reads the module global FACEBOOK_GRAPH_URL on every call; accounts may point at
# different hosts (tests), so the global is set and used under one lock.
_URL_LOCK = threading.Lock()

# Graph error codes worth retrying: unknown/service errors, throttling, temporary downtime.
# https://developers.facebook.com/docs/graph-api/guides/error-handling
TRANSIENT_CODES = {1, 2, 4, 17, 32, 341, 613}
TOKEN_EXPIRED = 190


class GraphError(Exception):
    """A failed Graph call. kind: "token" (admin must act), "transient" or "permanent"."""

    def __init__(self, kind: str, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code


def appsecret_proof(token: str, app_secret: str) -> str:
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def token_fingerprint(token: str | None) -> str:
    """A short digest of the token: tells whether an admin has replaced it since an alert."""
    return hashlib.sha256((token or "").encode()).hexdigest()[:16]


def page_token(account: ChannelAccount) -> str | None:
    return secretstore.resolve(account, "page_access_token")


class GraphClient:
    def __init__(self, account: ChannelAccount) -> None:
        cfg = current_app.config
        acc_cfg = account.config or {}
        self.token = page_token(account)
        self.app_secret = secretstore.resolve(account, "app_secret")
        if not self.token or not self.app_secret:
            raise GraphError(
                "token", "The page access token or app secret is not configured.", None
            )
        self.base_url = str(acc_cfg.get("graph_url") or cfg["FACEBOOK_GRAPH_URL"])
        if not self.base_url.endswith("/"):
            self.base_url += "/"
        self.graph = facebook.GraphAPI(
            self.token, timeout=cfg["FACEBOOK_TIMEOUT_SECONDS"], version="3.1"
        )
        self.graph.version = str(acc_cfg.get("graph_version") or cfg["FACEBOOK_GRAPH_VERSION"])
        self.proof = appsecret_proof(self.token, self.app_secret)

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        return self._call(path, args={**params, "appsecret_proof": self.proof})

    def post(self, path: str, **data: Any) -> dict[str, Any]:
        return self._call(
            path,
            args={"appsecret_proof": self.proof},
            post_args={**data, "access_token": self.token, "appsecret_proof": self.proof},
        )

    def pages(
        self, path: str, first: dict[str, Any] | None = None, **params: Any
    ) -> Iterator[dict]:
        """Each page of an edge, following paging.next (cursor- or time-based) with our proof."""
        page = first if first is not None else self.get(path, **params)
        while True:
            yield page
            nxt = (page.get("paging") or {}).get("next")
            if not nxt:
                return
            query = {
                k: v
                for k, v in parse_qsl(urlsplit(nxt).query)
                if k not in ("access_token", "appsecret_proof")
            }
            page = self.get(path, **{**params, **query})

    def _call(
        self, path: str, args: dict[str, Any], post_args: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        try:
            with _URL_LOCK:
                saved = facebook.FACEBOOK_GRAPH_URL
                facebook.FACEBOOK_GRAPH_URL = self.base_url
                try:
                    result = self.graph.request(
                        f"{self.graph.version}/{path.lstrip('/')}", args, post_args
                    )
                finally:
                    facebook.FACEBOOK_GRAPH_URL = saved
        except facebook.GraphAPIError as exc:
            raise _classify(exc) from exc
        except (requests.RequestException, ValueError) as exc:
            raise GraphError("transient", f"Facebook could not be reached: {exc}") from exc
        if not isinstance(result, dict):
            raise GraphError("transient", "Unexpected answer from Facebook.")
        return result


def _classify(exc: facebook.GraphAPIError) -> GraphError:
    code = exc.code if isinstance(exc.code, int) else None
    message = str(exc.message if isinstance(exc.message, str) else exc)
    if code == TOKEN_EXPIRED:
        return GraphError("token", message, code)
    if code is None or code in TRANSIENT_CODES:
        # No Graph error code: a proxy error page, an outage, a body we cannot read.
        return GraphError("transient", message, code)
    return GraphError("permanent", message, code)
