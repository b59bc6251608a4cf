"""Channel accounts set up on the municipal admin pages: one form description per kind,
validation (all or nothing), secrets into the encrypted store, every change audited.

Kinds on the pages: "sms" (a Twilio number), "facebook" (a page: its Messenger and comments
accounts together), "wordpress" (a site's comments), "webhook" (a signed comment webhook).
"""

from __future__ import annotations

import re
import secrets as pysecrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from inbox import secretstore
from inbox.extensions import db
from inbox.models import ChannelAccount, ChannelKind, Team, Tenant, User
from inbox.services import audit

E164_RE = re.compile(r"^\+[1-9][0-9]{6,14}$")
ACCOUNT_SID_RE = re.compile(r"^AC[0-9a-f]{32}$")
SERVICE_SID_RE = re.compile(r"^MG[0-9a-f]{32}$")
PAGE_ID_RE = re.compile(r"^[0-9]{1,32}$")
GRAPH_VERSION_RE = re.compile(r"^v[0-9]{1,2}\.[0-9]$")
POSTS_RE = re.compile(r"^[0-9]{1,12}$")


@dataclass(frozen=True)
class Field:
    name: str
    kind: str = "text"  # text | secret | url | team | check | posts
    required: bool = False
    advanced: bool = False  # for test installations (a local fake provider's address)


FIELDS: dict[str, tuple[Field, ...]] = {
    "sms": (
        Field("name", required=True),
        Field("number", required=True),
        Field("account_sid", required=True),
        Field("auth_token", "secret", required=True),
        Field("messaging_service_sid"),
        Field("team_id", "team"),
        Field("api_base_url", "url", advanced=True),
    ),
    "facebook": (
        Field("name", required=True),
        Field("page_id", required=True),
        Field("page_access_token", "secret", required=True),
        Field("app_secret", "secret", required=True),
        Field("verify_token", "secret", required=True),
        Field("graph_version", required=True),
        Field("team_id", "team"),
        Field("graph_url", "url", advanced=True),
    ),
    "instagram": (
        Field("name", required=True),
        Field("ig_account_id", required=True),
        Field("linked_page_id", required=True),
        Field("page_access_token", "secret", required=True),
        Field("app_secret", "secret", required=True),
        Field("verify_token", "secret", required=True),
        Field("graph_version", required=True),
        Field("team_id", "team"),
        Field("graph_url", "url", advanced=True),
    ),
    "wordpress": (
        Field("name", required=True),
        Field("base_url", "url", required=True),
        Field("user", required=True),
        Field("app_password", "secret", required=True),
        Field("posts", "posts"),
        Field("team_id", "team"),
        Field("is_hearing", "check"),
    ),
    "webhook": (
        Field("name", required=True),
        Field("team_id", "team"),
        Field("is_hearing", "check"),
    ),
}
KINDS = {
    "sms": ChannelKind.SMS,
    "facebook": ChannelKind.MESSENGER,
    "instagram": ChannelKind.INSTAGRAM,
    "wordpress": ChannelKind.WEB_COMMENTS,
    "webhook": ChannelKind.WEB_COMMENTS,
}
# Facebook's Messenger webhook fields the page must subscribe the app to (docs/facebook.md).
FACEBOOK_FIELDS = ("messages", "messaging_postbacks", "message_echoes", "feed")
INSTAGRAM_FIELDS = ("messages", "comments")


class SetupError(ValueError):
    """`errors` maps a field name to an error code; nothing was stored."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass
class Saved:
    account: ChannelAccount
    generated_secret: str | None = None  # the webhook secret, shown once
    changed_secrets: list[str] = field(default_factory=list)


def page_kind(account: ChannelAccount) -> str | None:
    if account.kind is ChannelKind.SMS:
        return "sms"
    if account.kind is ChannelKind.MESSENGER:
        return "facebook"
    if account.kind is ChannelKind.INSTAGRAM:
        return "instagram"
    if account.kind is ChannelKind.WEB_COMMENTS:
        return "webhook" if (account.config or {}).get("source") == "webhook" else "wordpress"
    return None


def accounts(tenant_id: int) -> list[ChannelAccount]:
    return list(
        db.session.scalars(
            select(ChannelAccount)
            .where(ChannelAccount.tenant_id == tenant_id)
            .order_by(ChannelAccount.kind, ChannelAccount.name, ChannelAccount.id)
        )
    )


def account_in(tenant_id: int, account_id: int) -> ChannelAccount | None:
    acc = db.session.get(ChannelAccount, account_id)
    if acc is None or acc.tenant_id != tenant_id:
        return None
    return acc


def current_values(account: ChannelAccount | None) -> dict[str, Any]:
    """The form's values for an existing account (never a secret's value)."""
    if account is None:
        return {"graph_version": "v21.0"}
    cfg = account.config or {}
    return {
        "name": account.name,
        "number": account.external_id,
        "page_id": account.external_id,
        "ig_account_id": account.external_id,
        "linked_page_id": account.linked_page_id or "",
        "team_id": str(account.team_id or ""),
        "is_hearing": account.is_hearing,
        "account_sid": cfg.get("account_sid", ""),
        "messaging_service_sid": cfg.get("messaging_service_sid", ""),
        "api_base_url": cfg.get("api_base_url", ""),
        "graph_version": cfg.get("graph_version", "v21.0"),
        "graph_url": cfg.get("graph_url", ""),
        "base_url": cfg.get("base_url", ""),
        "user": cfg.get("user", ""),
        "posts": ", ".join(str(p) for p in cfg.get("posts") or []),
    }


def secret_states(account: ChannelAccount | None, kind: str) -> dict[str, Any]:
    return {f.name: secretstore.status(account, f.name) for f in FIELDS[kind] if f.kind == "secret"}


def _url(raw: str) -> str | None:
    url = raw.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 500:
        return None
    return url.rstrip("/")


def _validate(tenant: Tenant, kind: str, form: Any, account: ChannelAccount | None) -> dict:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for f in FIELDS[kind]:
        raw = str(form.get(f.name) or "")
        if f.kind == "check":
            values[f.name] = bool(form.get(f.name))
            continue
        if f.kind == "secret":
            value = raw.strip()
            has = account is not None and secretstore.status(account, f.name).is_set
            if not value and f.required and not has:
                errors[f.name] = "required"
            elif len(value) > secretstore.MAX_SECRET_CHARS or not value.isprintable():
                errors[f.name] = "invalid"
            values[f.name] = value
            continue
        text = " ".join(raw.split()) if f.name == "name" else raw.strip()
        if not text:
            if f.required:
                errors[f.name] = "required"
            values[f.name] = None
            continue
        if f.kind == "url":
            url = _url(text)
            if url is None:
                errors[f.name] = "url"
            values[f.name] = url
        elif f.kind == "team":
            team = db.session.get(Team, int(text)) if text.isdigit() and len(text) < 18 else None
            if team is None or team.tenant_id != tenant.id:
                errors[f.name] = "team"
            values[f.name] = team.id if team else None
        elif f.kind == "posts":
            ids = [p.strip() for p in text.replace(" ", ",").split(",") if p.strip()]
            if len(ids) > 100 or not all(POSTS_RE.match(p) for p in ids):
                errors[f.name] = "posts"
            values[f.name] = [int(p) for p in ids if POSTS_RE.match(p)]
        else:
            if len(text) > 200 or not text.isprintable():
                errors[f.name] = "invalid"
            values[f.name] = text
    checks = {
        "number": lambda v: E164_RE.match(v.replace(" ", "")),
        "account_sid": ACCOUNT_SID_RE.match,
        "messaging_service_sid": SERVICE_SID_RE.match,
        "page_id": PAGE_ID_RE.match,
        "ig_account_id": PAGE_ID_RE.match,
        "linked_page_id": PAGE_ID_RE.match,
        "graph_version": GRAPH_VERSION_RE.match,
    }
    for name, check in checks.items():
        if values.get(name) and name not in errors and not check(values[name]):
            errors[name] = "format"
    if values.get("number"):
        values["number"] = values["number"].replace(" ", "")
    if errors:
        raise SetupError(errors)
    return values


def _taken(kind: ChannelKind, external_id: str, own: ChannelAccount | None) -> bool:
    other = db.session.scalar(
        select(ChannelAccount).where(
            ChannelAccount.kind == kind, ChannelAccount.external_id == external_id
        )
    )
    return other is not None and (own is None or other.id != own.id)


def save(
    tenant: Tenant, kind: str, form: Any, actor: User, account: ChannelAccount | None = None
) -> Saved:
    """Create (account None) or update a channel account of the page kind `kind`."""
    v = _validate(tenant, kind, form, account)
    creating = account is None
    generated = None
    if kind == "sms":
        external = v["number"]
        cfg = {"account_sid": v["account_sid"]}
        if v["messaging_service_sid"]:
            cfg["messaging_service_sid"] = v["messaging_service_sid"]
        if v["api_base_url"]:
            cfg["api_base_url"] = v["api_base_url"]
    elif kind == "facebook":
        external = v["page_id"]
        cfg = {"graph_version": v["graph_version"]}
        if v["graph_url"]:
            cfg["graph_url"] = v["graph_url"] + "/"
    elif kind == "instagram":
        external = v["ig_account_id"]
        cfg = {"graph_version": v["graph_version"]}
        if v["graph_url"]:
            cfg["graph_url"] = v["graph_url"] + "/"
    elif kind == "wordpress":
        external = v["base_url"]
        cfg = {"source": "wordpress", "base_url": v["base_url"], "user": v["user"]}
        if v["posts"]:
            cfg["posts"] = v["posts"]
    else:
        external = account.external_id if account else f"webhook-{pysecrets.token_hex(8)}"
        cfg = {"source": "webhook"}
    if _taken(KINDS[kind], external, account):
        field_name = {
            "sms": "number",
            "facebook": "page_id",
            "instagram": "ig_account_id",
            "wordpress": "base_url",
        }[kind]
        raise SetupError({field_name: "taken"})
    if account is None:
        account = ChannelAccount(
            tenant_id=tenant.id, kind=KINDS[kind], external_id=external, secret_refs={}
        )
        db.session.add(account)
    account.external_id = external
    if kind == "instagram":
        account.linked_page_id = v["linked_page_id"]
    account.name = v["name"]
    account.team_id = v.get("team_id")
    account.is_hearing = bool(v.get("is_hearing"))
    old_cfg = dict(account.config or {})
    account.config = {**{k: x for k, x in old_cfg.items() if k not in _PAGE_KEYS}, **cfg}
    db.session.flush()
    changed = []
    for f in FIELDS[kind]:
        if f.kind == "secret" and v.get(f.name):
            secretstore.put(account, f.name, v[f.name], actor)
            changed.append(f.name)
    if kind == "webhook" and creating:
        generated = pysecrets.token_urlsafe(32)
        secretstore.put(account, "webhook_secret", generated, actor)
    if kind == "facebook":
        _mirror_comments(account, v, actor, ChannelKind.FACEBOOK_COMMENTS)
    if kind == "instagram":
        _mirror_comments(account, v, actor, ChannelKind.INSTAGRAM_COMMENTS)
    audit.record(
        "channel.create" if creating else "channel.update",
        account,
        tenant_id=tenant.id,
        actor=actor,
        kind=kind,
        secrets_changed=changed,
    )
    return Saved(account, generated, changed)


_PAGE_KEYS = {
    "account_sid",
    "messaging_service_sid",
    "api_base_url",
    "graph_version",
    "graph_url",
    "source",
    "base_url",
    "user",
    "posts",
}


def _mirror_comments(
    messenger: ChannelAccount, v: dict[str, Any], actor: User, kind: ChannelKind
) -> None:
    """A Facebook page (or Instagram account) is two accounts, messages and comments, with the
    same settings."""
    comments = db.session.scalar(
        select(ChannelAccount).where(
            ChannelAccount.kind == kind,
            ChannelAccount.external_id == messenger.external_id,
        )
    )
    if comments is not None and comments.tenant_id != messenger.tenant_id:
        raise SetupError(
            {"ig_account_id" if kind is ChannelKind.INSTAGRAM_COMMENTS else "page_id": "taken"}
        )
    if comments is None:
        comments = ChannelAccount(
            tenant_id=messenger.tenant_id,
            kind=kind,
            external_id=messenger.external_id,
            secret_refs={},
        )
        db.session.add(comments)
    comments.name = f"{messenger.name} – kommentarer"
    comments.team_id = messenger.team_id
    comments.linked_page_id = messenger.linked_page_id
    comments.config = dict(messenger.config or {})
    db.session.flush()
    for name in ("page_access_token", "app_secret", "verify_token"):
        if v.get(name):
            secretstore.put(comments, name, v[name], actor)


def set_enabled(account: ChannelAccount, enabled: bool, actor: User) -> None:
    account.enabled = enabled
    audit.record(
        "channel.enable" if enabled else "channel.disable",
        account,
        tenant_id=account.tenant_id,
        actor=actor,
    )


def new_webhook_secret(account: ChannelAccount, actor: User) -> str:
    secret = pysecrets.token_urlsafe(32)
    secretstore.put(account, "webhook_secret", secret, actor)
    return secret
