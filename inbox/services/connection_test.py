""" "Test connection" on the admin pages: ask the provider with the settings as stored, and
say exactly what failed: the name not found (DNS), TLS, refused connection, timeout, the
provider's own message on 401/403, a token of another page, a missing permission.

Plain HTTP requests against the providers' documented read-only endpoints; nothing is sent
to a citizen and nothing is changed at the provider.
"""

from __future__ import annotations

import hashlib
import hmac
import socket
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import current_app

from inbox import secretstore
from inbox.models import ChannelAccount, Tenant

TIMEOUT = 10


@dataclass
class Result:
    ok: bool
    # Each step: (ok, text), in English: technical, with the provider's own message quoted.
    steps: list[tuple[bool, str]] = field(default_factory=list)

    def good(self, text: str) -> None:
        self.steps.append((True, text))

    def fail(self, text: str) -> Result:
        self.steps.append((False, text))
        self.ok = False
        return self

    @property
    def problem(self) -> str | None:
        return next((t for ok, t in self.steps if not ok), None)


class _Stop(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def _network_error(url: str, exc: requests.RequestException) -> str:
    host = urlsplit(url).hostname or url
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and len(chain) < 10:
        chain.append(cur)
        cur = (
            cur.__cause__
            or cur.__context__
            or (cur.args[0] if cur.args and isinstance(cur.args[0], BaseException) else None)
        )
        if cur is not None:
            reason = getattr(cur, "reason", None)
            if isinstance(reason, BaseException):
                chain.append(reason)
    names = " ".join(type(e).__name__ for e in chain) + " " + " ".join(str(e) for e in chain)
    if isinstance(exc, requests.exceptions.SSLError) or any(
        isinstance(e, ssl.SSLError) for e in chain
    ):
        return (
            f"TLS: the secure connection to {host} failed (certificate or TLS version): "
            f"{_short(exc)}"
        )
    if isinstance(exc, requests.exceptions.Timeout):
        return f"Timeout: {host} did not answer within {TIMEOUT} seconds"
    if (
        any(isinstance(e, socket.gaierror) for e in chain)
        or "NameResolutionError" in names
        or ("Name or service not known" in names or "nodename nor servname" in names)
    ):
        return f"DNS: the name {host} could not be found"
    if "Connection refused" in names or any(isinstance(e, ConnectionRefusedError) for e in chain):
        return f"Connection refused by {host} (nothing listens at that address and port)"
    return f"Network: {host} could not be reached: {_short(exc)}"


def _short(exc: BaseException) -> str:
    return str(exc)[:300]


def _get(url: str, **kw: Any) -> requests.Response:
    try:
        return requests.get(url, timeout=TIMEOUT, **kw)
    except requests.RequestException as exc:
        raise _Stop(_network_error(url, exc)) from None


def _json(resp: requests.Response) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _run(steps: Any) -> Result:
    result = Result(True)
    try:
        steps(result)
    except _Stop as stop:
        result.fail(stop.text)
    return result


# -- Twilio -------------------------------------------------------------------------------------


def twilio(account: ChannelAccount) -> Result:
    def steps(r: Result) -> None:
        cfg = account.config or {}
        sid = str(cfg.get("account_sid") or "")
        token = secretstore.resolve(account, "auth_token")
        if not sid or not token:
            raise _Stop("Not configured: the account SID or the auth token is missing")
        base = str(cfg.get("api_base_url") or "https://api.twilio.com").rstrip("/")
        resp = _get(f"{base}/2010-04-01/Accounts/{sid}.json", auth=(sid, token))
        body = _json(resp)
        if resp.status_code in (401, 403):
            raise _Stop(
                f"Twilio refused the account SID and auth token ({resp.status_code}"
                f"{', error ' + str(body.get('code')) if body.get('code') else ''}: "
                f"{body.get('message') or resp.reason})"
            )
        if resp.status_code != 200:
            raise _Stop(f"Twilio answered {resp.status_code}: {body.get('message') or resp.reason}")
        r.good(f"Twilio accepted the credentials of account {sid} ({body.get('status', '?')})")
        if cfg.get("messaging_service_sid"):
            return
        resp = _get(
            f"{base}/2010-04-01/Accounts/{sid}/IncomingPhoneNumbers.json",
            params={"PhoneNumber": account.external_id},
            auth=(sid, token),
        )
        numbers = _json(resp).get("incoming_phone_numbers") or []
        if resp.status_code != 200:
            raise _Stop(f"Twilio answered {resp.status_code} listing the numbers")
        if not any(n.get("phone_number") == account.external_id for n in numbers):
            raise _Stop(f"Wrong number: {account.external_id} is not a number of account {sid}")
        r.good(f"{account.external_id} is a number of the account")

    return _run(steps)


# -- Facebook (Graph API) -----------------------------------------------------------------------


def facebook(account: ChannelAccount) -> Result:
    return _meta(account, account.external_id, instagram=False)


def instagram(account: ChannelAccount) -> Result:
    """The token must be the linked page's, and may read the Instagram account's messages."""
    return _meta(account, str(account.linked_page_id or ""), instagram=True)


def _meta(account: ChannelAccount, page_id: str, *, instagram: bool) -> Result:
    def steps(r: Result) -> None:
        cfg = account.config or {}
        token = secretstore.resolve(account, "page_access_token")
        app_secret = secretstore.resolve(account, "app_secret")
        if not token or not app_secret:
            raise _Stop("Not configured: the page access token or the app secret is missing")
        base = str(cfg.get("graph_url") or current_app.config["FACEBOOK_GRAPH_URL"]).rstrip("/")
        version = str(cfg.get("graph_version") or current_app.config["FACEBOOK_GRAPH_VERSION"])
        proof = hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
        auth = {"access_token": token, "appsecret_proof": proof}
        resp = _get(f"{base}/{version}/me", params={"fields": "id,name", **auth})
        body = _json(resp)
        if resp.status_code != 200:
            err = body.get("error") or {}
            code = err.get("code")
            if code == 190:
                raise _Stop(
                    f"Facebook refused the page access token (code 190: {err.get('message')})"
                )
            if code == 100 and "appsecret_proof" in str(err.get("message")):
                raise _Stop(
                    "The app secret does not belong to the token's app "
                    f"(code 100: {err.get('message')})"
                )
            raise _Stop(
                f"Facebook answered {resp.status_code} "
                f"(code {code}: {err.get('message') or resp.reason})"
            )
        if str(body.get("id")) != page_id:
            raise _Stop(
                f"Wrong page id: the token is for the page {body.get('name')!r} "
                f"(id {body.get('id')}), not for page id {page_id}"
            )
        r.good(f"The token is a page token for {body.get('name')!r} (id {body.get('id')})")
        extra = {"platform": "instagram"} if instagram else {}
        resp = _get(
            f"{base}/{version}/{page_id}/conversations",
            params={"limit": "1", "fields": "id", **extra, **auth},
        )
        if resp.status_code != 200:
            err = _json(resp).get("error") or {}
            code = err.get("code")
            if code == 10 or (isinstance(code, int) and 200 <= code <= 299):
                raise _Stop(f"Missing permission (code {code}: {err.get('message')})")
            raise _Stop(
                f"Facebook answered {resp.status_code} reading the page's conversations "
                f"(code {code}: {err.get('message')})"
            )
        r.good(
            "The token may read the Instagram account's direct messages"
            if instagram
            else "The token may read the page's Messenger conversations"
        )

    return _run(steps)


# -- WordPress ----------------------------------------------------------------------------------


def wordpress(account: ChannelAccount) -> Result:
    def steps(r: Result) -> None:
        cfg = account.config or {}
        api_root = cfg.get("api_root") or f"{str(cfg.get('base_url') or '').rstrip('/')}/wp-json"
        user = cfg.get("user") or secretstore.resolve(account, "user")
        password = secretstore.resolve(account, "app_password")
        if not user or not password:
            raise _Stop("Not configured: the user name or the application password is missing")
        resp = _get(f"{api_root}/wp/v2/users/me", auth=(str(user), password))
        body = _json(resp)
        if resp.status_code in (401, 403):
            raise _Stop(
                "WordPress refused the user name and application password "
                f"({resp.status_code} {body.get('code')}: {body.get('message')})"
            )
        if resp.status_code == 404:
            raise _Stop(f"No WordPress REST API at {api_root} (404)")
        if resp.status_code != 200:
            raise _Stop(
                f"WordPress answered {resp.status_code}: {body.get('message') or resp.reason}"
            )
        r.good(f"WordPress accepted the application password (user id {body.get('id')})")

    return _run(steps)


# -- records systems ----------------------------------------------------------------------------


def records(tenant: Tenant) -> Result:
    def steps(r: Result) -> None:
        adapter = tenant.records_adapter
        cfg = tenant.records_config or {}
        if adapter == "embedded":
            from pathlib import Path

            path = Path(current_app.config["RECORDS_DIR"])
            path.mkdir(parents=True, exist_ok=True)
            r.good(f"The embedded journal is kept in {path}")
            return
        if adapter == "noark5_rest":
            base = str(cfg.get("base_url") or "").rstrip("/")
            if not base:
                raise _Stop("Not configured: the Noark 5 address is missing")
            headers = {"Accept": "application/vnd.noark5+json"}
            token = secretstore.resolve(tenant, "records_token")
            if token:
                headers["Authorization"] = f"Bearer {token}"
            resp = _get(base, headers=headers)
            body = _json(resp)
            if resp.status_code in (401, 403):
                raise _Stop(
                    f"The records system refused the token "
                    f"({resp.status_code}: {body.get('message') or resp.reason})"
                )
            if resp.status_code != 200 or not body.get("_links"):
                raise _Stop(f"No Noark 5 service at {base} ({resp.status_code})")
            r.good(f"The Noark 5 service at {base} answers and lists {len(body['_links'])} links")
            return
        if adapter == "fiks_arkiv":
            _fiks(tenant, cfg, r)
            return
        raise _Stop(f"Unknown records system {adapter!r}")

    return _run(steps)


def _fiks(tenant: Tenant, cfg: dict[str, Any], r: Result) -> None:
    """The folders the adapter hands messages over in can be written and read, and the
    private key (Fiks IO's, PEM) loads when one is configured."""
    import os
    from pathlib import Path

    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from archiving.adapters.fiks_arkiv import FiksArkiv

    try:
        adapter = FiksArkiv(tenant)
    except Exception as exc:  # noqa: BLE001 - the adapter's own refusal, said as it is
        raise _Stop(f"Fiks Arkiv settings refused: {exc}") from None
    for what, folder in (("outgoing", adapter.outgoing), ("incoming", adapter.incoming)):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _Stop(f"The {what} folder {folder} cannot be made: {exc.strerror}") from None
        if not os.access(folder, os.W_OK | os.R_OK):
            raise _Stop(f"The {what} folder {folder} cannot be read and written")
    r.good(f"The Fiks Arkiv folders {adapter.outgoing} and {adapter.incoming} can be used")
    key_path = cfg.get("private_key_path")
    if not key_path:
        return
    try:
        data = Path(str(key_path)).read_bytes()
    except OSError as exc:
        raise _Stop(f"The private key file {key_path} cannot be read: {exc.strerror}") from None
    password = secretstore.resolve(tenant, "fiks_key_password")
    try:
        load_pem_private_key(data, password.encode() if password else None)
    except (ValueError, TypeError) as exc:
        raise _Stop(f"The private key in {key_path} does not load: {exc}") from None
    r.good(f"The private key in {key_path} loads")
