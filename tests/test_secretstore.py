"""Secrets at rest (inbox/secretstore.py): encrypted with MultiFernet, rotated by the CLI,
read by every channel through one function, the environment-variable way kept working."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from inbox import secretstore
from inbox.extensions import db
from inbox.models import AuditEntry, ChannelKind, StoredSecret
from tests.conftest import make_app
from tests.sms_support import sms_setup


@pytest.fixture
def sms(app, factory, monkeypatch):
    with sms_setup(app, factory, monkeypatch) as s:
        yield s


def test_a_stored_secret_is_encrypted_and_resolves(app, factory):
    tenant = factory.tenant()
    account = factory.channel(tenant, ChannelKind.SMS, secret_refs={})
    secretstore.put(account, "auth_token", "tok-abcdef-123456", None)
    db.session.commit()
    raw = db.session.execute(text("SELECT ciphertext FROM stored_secret")).scalar_one()
    assert "tok-abcdef-123456" not in raw
    assert secretstore.resolve(account, "auth_token") == "tok-abcdef-123456"
    st = secretstore.status(account, "auth_token")
    assert st.is_set and st.source == "stored" and st.changed_at is not None
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "secret.set")).one()
    assert entry.data == {"secret": "auth_token", "owner": "channel_account"}
    assert "tok-abcdef" not in str(entry.data)


def test_the_environment_variable_way_keeps_working(app, factory, monkeypatch):
    monkeypatch.setenv("SERVICETORG_TEST_SOME_TOKEN", "from-the-environment")
    tenant = factory.tenant()
    account = factory.channel(
        tenant, ChannelKind.SMS, secret_refs={"auth_token": "SERVICETORG_TEST_SOME_TOKEN"}
    )
    assert secretstore.resolve(account, "auth_token") == "from-the-environment"
    st = secretstore.status(account, "auth_token")
    assert (st.is_set, st.source, st.env_name) == (
        True,
        "environment",
        "SERVICETORG_TEST_SOME_TOKEN",
    )
    # A value entered on a page wins over the environment.
    secretstore.put(account, "auth_token", "entered-on-the-page", None)
    db.session.commit()
    assert secretstore.resolve(account, "auth_token") == "entered-on-the-page"


def test_twilio_webhook_is_checked_with_the_stored_token(sms, monkeypatch):
    """The signature of Twilio's webhook is checked with the token entered on the page: a
    webhook signed with the old environment token is refused once a new one is stored."""
    secretstore.put(sms.account, "auth_token", "new-token-from-the-page", None)
    db.session.commit()
    refused = sms.inbound("Signed with the old token", process=False)
    assert refused.status_code == 403
    sms.token = "new-token-from-the-page"
    ok = sms.inbound("Signed with the new token")
    assert ok.status_code == 200
    assert [m.body for m in sms.messages()] == ["Signed with the new token"]


def test_another_process_sees_a_change_without_restart(app, base_config, factory):
    """The web stores a secret; the worker (another app, its own session) reads it at once."""
    tenant = factory.tenant()
    account = factory.channel(tenant, ChannelKind.SMS)
    worker = make_app(base_config)
    with worker.app_context():
        from inbox.models import ChannelAccount

        assert secretstore.resolve(db.session.get(ChannelAccount, account.id), "auth_token") is None
    secretstore.put(account, "auth_token", "first", None)
    db.session.commit()
    with worker.app_context():
        acc = db.session.get(ChannelAccount, account.id)
        assert secretstore.resolve(acc, "auth_token") == "first"
        db.session.remove()
    secretstore.put(account, "auth_token", "second", None)
    db.session.commit()
    with worker.app_context():
        acc = db.session.get(ChannelAccount, account.id)
        assert secretstore.resolve(acc, "auth_token") == "second"
        db.session.remove()


def test_rotation_re_encrypts_with_the_new_key(app, factory, monkeypatch):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv(secretstore.ENV_KEYS, old)
    tenant = factory.tenant()
    account = factory.channel(tenant, ChannelKind.MESSENGER)
    secretstore.put(account, "page_access_token", "EAAB-page-token", None)
    secretstore.put(tenant, "chat_identity", "site-hmac-secret", None)
    db.session.commit()
    monkeypatch.setenv(secretstore.ENV_KEYS, f"{new},{old}")
    result = app.test_cli_runner().invoke(args=["secrets", "rotate"])
    assert result.exit_code == 0, result.output
    assert "2 stored secrets re-encrypted" in result.output
    monkeypatch.setenv(secretstore.ENV_KEYS, new)  # the old key removed
    db.session.expire_all()
    assert secretstore.resolve(account, "page_access_token") == "EAAB-page-token"
    assert secretstore.resolve(tenant, "chat_identity") == "site-hmac-secret"


def test_a_missing_key_is_a_clear_error_not_a_wrong_value(app, factory, monkeypatch):
    monkeypatch.setenv(secretstore.ENV_KEYS, Fernet.generate_key().decode())
    tenant = factory.tenant()
    account = factory.channel(tenant, ChannelKind.SMS)
    secretstore.put(account, "auth_token", "value", None)
    db.session.commit()
    monkeypatch.setenv(secretstore.ENV_KEYS, Fernet.generate_key().decode())
    with pytest.raises(secretstore.SecretKeyError, match="rotate"):
        secretstore.resolve(account, "auth_token")
    result = app.test_cli_runner().invoke(args=["secrets", "rotate"])
    assert result.exit_code != 0 and "nothing was changed" in result.output
    monkeypatch.setenv(secretstore.ENV_KEYS, "not-a-fernet-key")
    with pytest.raises(secretstore.SecretKeyError, match="Fernet key"):
        secretstore.resolve(account, "auth_token")


def test_production_without_keys_says_what_to_set(app, factory, monkeypatch):
    monkeypatch.delenv(secretstore.ENV_KEYS, raising=False)
    monkeypatch.setitem(app.config, "MODE", "production")
    monkeypatch.setitem(app.config, "TESTING", False)
    tenant = factory.tenant()
    with pytest.raises(secretstore.SecretKeyError, match="SERVICETORG_SECRET_KEYS"):
        secretstore.put(tenant, "chat_identity", "x", None)


def test_embedded_mode_generates_a_key_in_the_instance_folder(app, factory, monkeypatch):
    monkeypatch.delenv(secretstore.ENV_KEYS, raising=False)
    tenant = factory.tenant()
    secretstore.put(tenant, "chat_identity", "kept", None)
    db.session.commit()
    key_file = secretstore.Path(app.instance_path) / secretstore.KEY_FILE
    assert key_file.exists() and oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert secretstore.resolve(tenant, "chat_identity") == "kept"


def test_secret_values_never_reach_the_log(sms, caplog):
    caplog.set_level(logging.DEBUG)
    secretstore.put(sms.account, "auth_token", "sekret-value-987654", None)
    db.session.commit()
    sms.token = "sekret-value-987654"
    sms.inbound("Hei")
    assert "sekret-value-987654" not in caplog.text
    assert db.session.scalars(select(StoredSecret)).one().ciphertext != "sekret-value-987654"
