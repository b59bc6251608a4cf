""" "Test connection" on the admin pages: ask the provider with the settings as stored, and
say exactly what failed: the name not found (DNS), TLS, refused connection, timeout, the
provider's own message on 401/403, a token of another page, a missing permission.

Plain HTTP requests against the providers' documented read-only endpoints; nothing is sent
to a citizen and nothing is changed at the provider.

The texts are translatable (the admin's language on the page); the provider's own message,
HTTP status and error code go into them unchanged as placeholders.
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
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext as _nl
from flask_babel.speaklater import LazyString

from inbox import secretstore
from inbox.models import ChannelAccount, Tenant

TIMEOUT = 10


@dataclass
class Result:
    ok: bool
    # Each step: (ok, text), in the language of the page (the admin's): technical, with the
    # provider's own message, HTTP status and error code quoted unchanged. Plain text, escaped
    # when shown (a lazy string would pass through the template unescaped).
    steps: list[tuple[bool, str]] = field(default_factory=list)
    # The first failed step in English, for the audit log (kept in one language).
    problem: str | None = None

    def good(self, text: str | LazyString) -> None:
        self.steps.append((True, str(text)))

    def fail(self, text: str | LazyString) -> Result:
        self.steps.append((False, str(text)))
        if self.problem is None:
            with force_locale("en"):
                self.problem = str(text)
        self.ok = False
        return self


class _Stop(Exception):
    def __init__(self, text: str | LazyString) -> None:
        super().__init__(text)
        self.text = text


def _network_error(url: str, exc: requests.RequestException) -> LazyString:
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
        return _l(
            "TLS: the secure connection to %(host)s failed (certificate or TLS version): %(error)s",
            host=host,
            error=_short(exc),
        )
    if isinstance(exc, requests.exceptions.Timeout):
        return _l(
            "Timeout: %(host)s did not answer within %(seconds)s seconds",
            host=host,
            seconds=TIMEOUT,
        )
    if (
        any(isinstance(e, socket.gaierror) for e in chain)
        or "NameResolutionError" in names
        or ("Name or service not known" in names or "nodename nor servname" in names)
    ):
        return _l("DNS: the name %(host)s could not be found", host=host)
    if "Connection refused" in names or any(isinstance(e, ConnectionRefusedError) for e in chain):
        return _l(
            "Connection refused by %(host)s (nothing listens at that address and port)",
            host=host,
        )
    return _l("Network: %(host)s could not be reached: %(error)s", host=host, error=_short(exc))


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
            raise _Stop(_l("Not configured: the account SID or the auth token is missing"))
        base = str(cfg.get("api_base_url") or "https://api.twilio.com").rstrip("/")
        resp = _get(f"{base}/2010-04-01/Accounts/{sid}.json", auth=(sid, token))
        body = _json(resp)
        message = str(body.get("message") or resp.reason)
        if resp.status_code in (401, 403):
            if body.get("code"):
                raise _Stop(
                    _l(
                        "Twilio refused the account SID and auth token "
                        "(%(status)s, error %(code)s: %(message)s)",
                        status=resp.status_code,
                        code=str(body.get("code")),
                        message=message,
                    )
                )
            raise _Stop(
                _l(
                    "Twilio refused the account SID and auth token (%(status)s: %(message)s)",
                    status=resp.status_code,
                    message=message,
                )
            )
        if resp.status_code != 200:
            raise _Stop(
                _l(
                    "Twilio answered %(status)s: %(message)s",
                    status=resp.status_code,
                    message=message,
                )
            )
        r.good(
            _l(
                "Twilio accepted the credentials of account %(sid)s (%(status)s)",
                sid=sid,
                status=str(body.get("status", "?")),
            )
        )
        if cfg.get("messaging_service_sid"):
            return
        resp = _get(
            f"{base}/2010-04-01/Accounts/{sid}/IncomingPhoneNumbers.json",
            params={"PhoneNumber": account.external_id},
            auth=(sid, token),
        )
        numbers = _json(resp).get("incoming_phone_numbers") or []
        if resp.status_code != 200:
            raise _Stop(
                _l("Twilio answered %(status)s listing the numbers", status=resp.status_code)
            )
        if not any(n.get("phone_number") == account.external_id for n in numbers):
            raise _Stop(
                _l(
                    "Wrong number: %(number)s is not a number of account %(sid)s",
                    number=account.external_id,
                    sid=sid,
                )
            )
        r.good(_l("%(number)s is a number of the account", number=account.external_id))

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
            raise _Stop(_l("Not configured: the page access token or the app secret is missing"))
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
                    _l(
                        "Facebook refused the page access token (code %(code)s: %(message)s)",
                        code=code,
                        message=str(err.get("message")),
                    )
                )
            if code == 100 and "appsecret_proof" in str(err.get("message")):
                raise _Stop(
                    _l(
                        "The app secret does not belong to the token's app "
                        "(code %(code)s: %(message)s)",
                        code=code,
                        message=str(err.get("message")),
                    )
                )
            raise _Stop(
                _l(
                    "Facebook answered %(status)s (code %(code)s: %(message)s)",
                    status=resp.status_code,
                    code=str(code),
                    message=str(err.get("message") or resp.reason),
                )
            )
        if str(body.get("id")) != page_id:
            raise _Stop(
                _l(
                    "Wrong page id: the token is for the page %(name)s (id %(id)s), "
                    "not for page id %(page_id)s",
                    name=repr(body.get("name")),
                    id=str(body.get("id")),
                    page_id=page_id,
                )
            )
        r.good(
            _l(
                "The token is a page token for %(name)s (id %(id)s)",
                name=repr(body.get("name")),
                id=str(body.get("id")),
            )
        )
        extra = {"platform": "instagram"} if instagram else {}
        resp = _get(
            f"{base}/{version}/{page_id}/conversations",
            params={"limit": "1", "fields": "id", **extra, **auth},
        )
        if resp.status_code != 200:
            err = _json(resp).get("error") or {}
            code = err.get("code")
            if code == 10 or (isinstance(code, int) and 200 <= code <= 299):
                raise _Stop(
                    _l(
                        "Missing permission (code %(code)s: %(message)s)",
                        code=str(code),
                        message=str(err.get("message")),
                    )
                )
            raise _Stop(
                _l(
                    "Facebook answered %(status)s reading the page's conversations "
                    "(code %(code)s: %(message)s)",
                    status=resp.status_code,
                    code=str(code),
                    message=str(err.get("message")),
                )
            )
        r.good(
            _l("The token may read the Instagram account's direct messages")
            if instagram
            else _l("The token may read the page's Messenger conversations")
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
            raise _Stop(_l("Not configured: the user name or the application password is missing"))
        resp = _get(f"{api_root}/wp/v2/users/me", auth=(str(user), password))
        body = _json(resp)
        if resp.status_code in (401, 403):
            raise _Stop(
                _l(
                    "WordPress refused the user name and application password "
                    "(%(status)s %(code)s: %(message)s)",
                    status=resp.status_code,
                    code=str(body.get("code")),
                    message=str(body.get("message")),
                )
            )
        if resp.status_code == 404:
            raise _Stop(
                _l(
                    "No WordPress REST API at %(url)s (%(status)s)",
                    url=str(api_root),
                    status=resp.status_code,
                )
            )
        if resp.status_code != 200:
            raise _Stop(
                _l(
                    "WordPress answered %(status)s: %(message)s",
                    status=resp.status_code,
                    message=str(body.get("message") or resp.reason),
                )
            )
        r.good(
            _l(
                "WordPress accepted the application password (user id %(id)s)",
                id=str(body.get("id")),
            )
        )

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
            r.good(_l("The embedded journal is kept in %(path)s", path=str(path)))
            return
        if adapter == "noark5_rest":
            base = str(cfg.get("base_url") or "").rstrip("/")
            if not base:
                raise _Stop(_l("Not configured: the Noark 5 address is missing"))
            headers = {"Accept": "application/vnd.noark5+json"}
            token = secretstore.resolve(tenant, "records_token")
            if token:
                headers["Authorization"] = f"Bearer {token}"
            resp = _get(base, headers=headers)
            body = _json(resp)
            if resp.status_code in (401, 403):
                raise _Stop(
                    _l(
                        "The records system refused the token (%(status)s: %(message)s)",
                        status=resp.status_code,
                        message=str(body.get("message") or resp.reason),
                    )
                )
            if resp.status_code != 200 or not body.get("_links"):
                raise _Stop(
                    _l(
                        "No Noark 5 service at %(url)s (%(status)s)",
                        url=base,
                        status=resp.status_code,
                    )
                )
            r.good(
                _nl(
                    "The Noark 5 service at %(url)s answers and lists %(num)d link",
                    "The Noark 5 service at %(url)s answers and lists %(num)d links",
                    len(body["_links"]),
                    url=base,
                )
            )
            return
        if adapter == "fiks_arkiv":
            _fiks(tenant, cfg, r)
            return
        raise _Stop(_l("Unknown records system %(name)s", name=repr(adapter)))

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
        raise _Stop(_l("Fiks Arkiv settings refused: %(error)s", error=str(exc))) from None
    for outgoing, folder in ((True, adapter.outgoing), (False, adapter.incoming)):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            where = {"folder": str(folder), "error": str(exc.strerror)}
            raise _Stop(
                _l("The outgoing folder %(folder)s cannot be made: %(error)s", **where)
                if outgoing
                else _l("The incoming folder %(folder)s cannot be made: %(error)s", **where)
            ) from None
        if not os.access(folder, os.W_OK | os.R_OK):
            raise _Stop(
                _l("The outgoing folder %(folder)s cannot be read and written", folder=str(folder))
                if outgoing
                else _l(
                    "The incoming folder %(folder)s cannot be read and written", folder=str(folder)
                )
            )
    r.good(
        _l(
            "The Fiks Arkiv folders %(outgoing)s and %(incoming)s can be used",
            outgoing=str(adapter.outgoing),
            incoming=str(adapter.incoming),
        )
    )
    key_path = cfg.get("private_key_path")
    if not key_path:
        return
    try:
        data = Path(str(key_path)).read_bytes()
    except OSError as exc:
        raise _Stop(
            _l(
                "The private key file %(path)s cannot be read: %(error)s",
                path=str(key_path),
                error=str(exc.strerror),
            )
        ) from None
    password = secretstore.resolve(tenant, "fiks_key_password")
    try:
        load_pem_private_key(data, password.encode() if password else None)
    except (ValueError, TypeError) as exc:
        raise _Stop(
            _l(
                "The private key in %(path)s does not load: %(error)s",
                path=str(key_path),
                error=str(exc),
            )
        ) from None
    r.good(_l("The private key in %(path)s loads", path=str(key_path)))
