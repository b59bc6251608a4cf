"""Secrets the municipalities give the app (an identity provider's client secret), kept
encrypted at rest with Fernet.

Keys: SERVICETORG_SECRET_KEYS (comma-separated; the first encrypts, all decrypt, so keys can
be rotated), else one derived from the app's SECRET_KEY. Everything that needs a secret asks
`resolve_secret`, so the store can later move to a shared secret store without touching the
callers.
"""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app

ENV_KEYS = "SERVICETORG_SECRET_KEYS"


class SecretUnavailable(Exception):
    """The secret cannot be read: its variable is not set, or it was encrypted under a key
    that is no longer configured."""


def _fernet_key(material: str) -> bytes:
    raw = material.strip()
    try:
        if len(base64.urlsafe_b64decode(raw.encode())) == 32 and len(raw) == 44:
            return raw.encode()
    except (ValueError, TypeError):
        pass
    digest = hashlib.sha256(b"servicetorg.secret_store\x00" + raw.encode()).digest()
    return base64.urlsafe_b64encode(digest)


def _fernet() -> MultiFernet:
    configured = [k for k in os.environ.get(ENV_KEYS, "").split(",") if k.strip()]
    if not configured:
        key = current_app.config["SECRET_KEY"]
        configured = [key.decode() if isinstance(key, bytes) else str(key)]
    return MultiFernet([Fernet(_fernet_key(k)) for k in configured])


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnavailable("encrypted under a key that is not configured") from exc


def resolve_secret(encrypted: str | None, env_name: str | None) -> str:
    """The secret in clear text: from the environment variable `env_name` when one is named,
    else decrypted from `encrypted`. SecretUnavailable when neither gives one."""
    if env_name:
        value = os.environ.get(env_name)
        if not value:
            raise SecretUnavailable(f"the environment variable {env_name} is not set")
        return value
    if encrypted:
        return decrypt(encrypted)
    raise SecretUnavailable("no secret is configured")
