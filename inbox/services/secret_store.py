"""Encrypted values kept in columns of their own (a single sign-on client secret, a widget's
ID-porten client secret, a verified national identity number), encrypted with the same keys
as the secrets entered on the admin pages (inbox/secretstore.py: SERVICETORG_SECRET_KEYS, or
the instance's generated key in embedded mode), so one `servicetorg secrets rotate` re-encrypts
them all.
"""

from __future__ import annotations

import os

from cryptography.fernet import InvalidToken, MultiFernet


class SecretUnavailable(Exception):
    """The secret cannot be read: its variable is not set, or it was encrypted under a key
    that is no longer configured."""


def _fernet() -> MultiFernet:
    from inbox import secretstore

    return secretstore.fernet()


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


def rotate_columns() -> int:
    """Re-encrypt the values kept in columns with the primary key; returns how many. Called by
    `secretstore.rotate()`; the caller commits."""
    from sqlalchemy import select

    from inbox.extensions import db
    from inbox.models import ChannelAccount, ChannelKind
    from inbox.models.sso import IdportenIdentity, SsoConfig

    f = _fernet()

    def again(token: str) -> str:
        try:
            return f.rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise SecretUnavailable("encrypted under a key that is not configured") from exc

    count = 0
    with_secret = select(SsoConfig).where(SsoConfig.client_secret_enc.is_not(None))
    for cfg in db.session.scalars(with_secret):
        cfg.client_secret_enc = again(str(cfg.client_secret_enc))
        count += 1
    for ident in db.session.scalars(select(IdportenIdentity)):
        ident.pid_enc = again(ident.pid_enc)
        count += 1
    for account in db.session.scalars(
        select(ChannelAccount).where(ChannelAccount.kind == ChannelKind.WEBCHAT)
    ):
        settings = dict((account.config or {}).get("idporten") or {})
        if isinstance(settings.get("client_secret_enc"), str):
            settings["client_secret_enc"] = again(settings["client_secret_enc"])
            account.config = {**(account.config or {}), "idporten": settings}
            count += 1
    return count
