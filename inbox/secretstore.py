"""Secrets at rest: channel tokens, app secrets and passwords entered on the admin pages.

Values are encrypted with `cryptography`'s MultiFernet. The keys come from the environment,
`SERVICETORG_SECRET_KEYS` (comma-separated Fernet keys; the first encrypts, all decrypt, so a
new key is put first and `servicetorg secrets rotate` re-encrypts everything with it). In
embedded mode (and in tests) without that variable, a key is generated once in the instance
folder, so `make run` needs nothing.

A secret is looked up with `resolve(owner, name)`, where the owner is a channel account or a
municipality. A value stored here wins; otherwise the older way applies: the owner's settings
name an environment variable holding the value (`ChannelAccount.secret_refs[name]`,
`Tenant.chat_identity_secret_ref`, `records_config["token_env"]`). Every call reads the
database, so the web and the worker see a change at once, without a restart; the one exception
is a webhook's signature check, which reads through the per-process account cache
(inbox/services/account_cache.py: the process that stores a secret forgets its copy at once,
other web processes within WEBHOOK_ACCOUNT_CACHE_SECONDS). Values never go
to a page, a log line or an API answer: pages show `status()` ("set, last changed ...").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from sqlalchemy import select

from inbox.config import secret_from_env
from inbox.extensions import db
from inbox.models import ChannelAccount, Tenant, User
from inbox.models.base import utcnow
from inbox.models.secrets import StoredSecret
from inbox.services import account_cache
from inbox.services.account_cache import AccountRef

Owner = ChannelAccount | AccountRef | Tenant

ENV_KEYS = "SERVICETORG_SECRET_KEYS"
KEY_FILE = "secret_keys"
MAX_SECRET_CHARS = 4096


class SecretKeyError(RuntimeError):
    """No usable encryption key (the message says what to set)."""


@dataclass(frozen=True)
class SecretStatus:
    is_set: bool
    source: str | None  # "stored" (entered on a page), "environment", or None
    changed_at: datetime | None
    env_name: str | None  # the environment variable named, when that is the source


# -- keys ---------------------------------------------------------------------------------------

_fernets: dict[str, MultiFernet] = {}


def _raw_keys() -> str:
    cfg = current_app.config
    raw = os.environ.get(ENV_KEYS) or cfg.get("SECRET_KEYS") or ""
    if isinstance(raw, list):
        raw = ",".join(str(k) for k in raw)
    raw = str(raw).strip()
    if raw:
        return raw
    if cfg.get("MODE") == "embedded" or cfg.get("TESTING"):
        return _instance_key(Path(current_app.instance_path))
    raise SecretKeyError(
        f"{ENV_KEYS} is not set: give one or more Fernet keys, comma-separated (make one with "
        "`servicetorg secrets new-key`)"
    )


def _instance_key(instance: Path) -> str:
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / KEY_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(Fernet.generate_key().decode())
    return path.read_text().strip()


def fernet() -> MultiFernet:
    raw = _raw_keys()
    found = _fernets.get(raw)
    if found is None:
        keys = [k.strip() for k in raw.split(",") if k.strip()]
        try:
            found = MultiFernet([Fernet(k.encode()) for k in keys])
        except (ValueError, TypeError) as exc:
            raise SecretKeyError(
                f"{ENV_KEYS}: every key must be a Fernet key (32 url-safe base64-encoded bytes)"
            ) from exc
        _fernets.clear()
        _fernets[raw] = found
    return found


def new_key() -> str:
    return Fernet.generate_key().decode()


# -- owners -------------------------------------------------------------------------------------


def _owner(owner: Owner) -> tuple[str, int, int]:
    if isinstance(owner, ChannelAccount | AccountRef):
        return "channel_account", owner.id, owner.tenant_id
    if isinstance(owner, Tenant):
        return "tenant", owner.id, owner.id
    raise TypeError(f"secrets belong to a channel account or a tenant, not {type(owner)!r}")


def env_name(owner: Owner, name: str) -> str | None:
    """The environment variable the owner's settings name for this secret (the older way)."""
    if isinstance(owner, ChannelAccount | AccountRef):
        return (owner.secret_refs or {}).get(name)
    if name == "chat_identity":
        return owner.chat_identity_secret_ref
    if name == "records_token":
        return (owner.records_config or {}).get("token_env")
    return None


def _row(owner: Owner, name: str) -> StoredSecret | None:
    owner_type, owner_id, _tenant = _owner(owner)
    return db.session.scalar(
        select(StoredSecret).where(
            StoredSecret.owner_type == owner_type,
            StoredSecret.owner_id == owner_id,
            StoredSecret.name == name,
        )
    )


# -- reading and writing ------------------------------------------------------------------------


def resolve(owner: Owner | None, name: str) -> str | None:
    """The secret's value: stored on a page, else from the environment variable named."""
    if owner is None or owner.id is None:
        return None
    if isinstance(owner, AccountRef):  # a webhook's hot path: no query while cached
        return account_cache.cached(("secret", owner.id, name), lambda: _resolve(owner, name))
    return _resolve(owner, name)


def _resolve(owner: Owner, name: str) -> str | None:
    row = _row(owner, name)
    if row is not None:
        try:
            return fernet().decrypt(row.ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise SecretKeyError(
                f"a stored secret ({row.owner_type} {row.owner_id}, {row.name}) cannot be "
                f"decrypted with the keys in {ENV_KEYS}: was the old key removed before "
                "`servicetorg secrets rotate`?"
            ) from exc
    return secret_from_env(env_name(owner, name))


def status(owner: ChannelAccount | Tenant | None, name: str) -> SecretStatus:
    if owner is None or owner.id is None:
        return SecretStatus(False, None, None, None)
    row = _row(owner, name)
    if row is not None:
        return SecretStatus(True, "stored", row.changed_at, None)
    var = env_name(owner, name)
    if var:
        return SecretStatus(bool(secret_from_env(var)), "environment", None, var)
    return SecretStatus(False, None, None, None)


def put(owner: ChannelAccount | Tenant, name: str, value: str, actor: User | None) -> None:
    """Store (or replace) a secret, encrypted; the audit log records that it changed, never
    its value. The caller commits."""
    from inbox.services import audit

    if not value or len(value) > MAX_SECRET_CHARS:
        raise ValueError("a secret must be 1 to 4096 characters")
    owner_type, owner_id, tenant_id = _owner(owner)
    token = fernet().encrypt(value.encode()).decode()
    row = _row(owner, name)
    if row is None:
        row = StoredSecret(tenant_id=tenant_id, owner_type=owner_type, owner_id=owner_id, name=name)
        db.session.add(row)
    row.ciphertext = token
    row.changed_at = utcnow()
    row.changed_by_id = actor.id if actor is not None else None
    audit.record(
        "secret.set", owner, tenant_id=tenant_id, actor=actor, secret=name, owner=owner_type
    )


def remove(owner: ChannelAccount | Tenant, name: str, actor: User | None) -> bool:
    from inbox.services import audit

    row = _row(owner, name)
    if row is None:
        return False
    owner_type, _id, tenant_id = _owner(owner)
    db.session.delete(row)
    audit.record(
        "secret.removed", owner, tenant_id=tenant_id, actor=actor, secret=name, owner=owner_type
    )
    return True


def remove_all(owner: ChannelAccount | Tenant) -> None:
    """Drop an owner's secrets with the owner (a deleted channel account)."""
    owner_type, owner_id, _tenant = _owner(owner)
    for row in db.session.scalars(
        select(StoredSecret).where(
            StoredSecret.owner_type == owner_type, StoredSecret.owner_id == owner_id
        )
    ):
        db.session.delete(row)


def rotate() -> int:
    """Re-encrypt every stored secret with the first (primary) key; returns how many. After it,
    older keys can be removed from SERVICETORG_SECRET_KEYS. The caller commits."""
    f = fernet()
    count = 0
    for row in db.session.scalars(select(StoredSecret).order_by(StoredSecret.id)):
        try:
            row.ciphertext = f.rotate(row.ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise SecretKeyError(
                f"stored secret {row.id} cannot be decrypted with any key in {ENV_KEYS}; "
                "nothing was changed"
            ) from exc
        count += 1
    from inbox.services import secret_store  # values kept in their own columns (SSO, ID-porten)

    try:
        count += secret_store.rotate_columns()
    except secret_store.SecretUnavailable as exc:
        raise SecretKeyError(
            f"an encrypted column cannot be decrypted with any key in {ENV_KEYS}; nothing was "
            "changed"
        ) from exc
    return count


def describe(st: SecretStatus) -> dict[str, Any]:
    """What a page may show about a secret (never its value)."""
    return {
        "is_set": st.is_set,
        "source": st.source,
        "changed_at": st.changed_at,
        "env_name": st.env_name,
    }
