"""Putting a municipality into service without a shell: the regional administrator's pages,
the municipal admin's setup pages (validation, secrets never shown, test connection against
the fake providers), deactivation, the first-start command and the audit log."""

from __future__ import annotations

import csv
import io
import logging
import secrets

import pytest
from sqlalchemy import select

from inbox import secretstore
from inbox.extensions import db
from inbox.models import (
    AuditEntry,
    ChannelAccount,
    ChannelKind,
    InboundEvent,
    Role,
    Tenant,
    User,
)
from tests.factories import PASSWORD
from tests.fakes.facebook import FakeGraph
from tests.fakes.twilio import FakeTwilio
from tests.sms_support import sign

PUBLIC = "https://innboks.example.kommune.no"


def forget() -> None:
    """Requests in a test share its app context, where Flask-Login caches the user."""
    from flask import g

    g.pop("_login_user", None)


def sign_in(client, user: User, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    forget()
    return client.post("/login", data={"email": user.email, "password": password})


@pytest.fixture(autouse=True)
def english(app, monkeypatch):  # type: ignore[no-untyped-def]
    """The pages in English, so the assertions read the texts as written in the code."""
    monkeypatch.setitem(app.config, "DEFAULT_LOCALE", "en")


@pytest.fixture
def regional(app, factory):  # type: ignore[no-untyped-def]
    home = factory.tenant()
    user = factory.user(home, Role.ADMIN)
    user.is_regional_admin = True
    db.session.commit()
    return user


@pytest.fixture
def twilio():  # type: ignore[no-untyped-def]
    fake = FakeTwilio("AC" + secrets.token_hex(16), secrets.token_hex(16))
    with fake:
        yield fake


@pytest.fixture
def graph():  # type: ignore[no-untyped-def]
    fake = FakeGraph("EAAB" + secrets.token_hex(12), secrets.token_hex(16))
    with fake:
        yield fake


def _sms_form(twilio: FakeTwilio, number: str = "+4740000001", **kw: str) -> dict[str, str]:
    return {
        "name": "SMS servicetorget",
        "number": number,
        "account_sid": twilio.account_sid,
        "auth_token": twilio.auth_token,
        "api_base_url": twilio.url,
        **kw,
    }


# -- regional administration --------------------------------------------------------------------


def test_regional_admin_creates_a_municipality_and_its_admin(app, client, regional):
    sign_in(client, regional)
    resp = client.post(
        "/admin/region/tenants",
        data={
            "name": "Fjellbygd kommune",
            "slug": "fjellbygd",
            "locale": "nn",
            "admin_email": "it@fjellbygd.kommune.no",
            "admin_name": "Ola IT",
        },
    )
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert 'id="temporary-password"' in page and resp.headers["Cache-Control"] == "no-store"
    tenant = db.session.scalars(select(Tenant).where(Tenant.slug == "fjellbygd")).one()
    assert (tenant.name, tenant.locale, tenant.is_active) == ("Fjellbygd kommune", "nn", True)
    admin = db.session.scalars(select(User).where(User.email == "it@fjellbygd.kommune.no")).one()
    assert admin.role_in(tenant.id) is Role.ADMIN and admin.must_change_password
    actions = set(
        db.session.scalars(select(AuditEntry.action).where(AuditEntry.actor_id == regional.id))
    )
    assert {"tenant.create", "tenant.appoint_admin"} <= actions


def test_bad_municipality_input_is_refused_and_nothing_stored(app, client, regional, factory):
    taken = factory.tenant()
    sign_in(client, regional)
    before = db.session.scalar(select(db.func.count()).select_from(Tenant))
    for data, text in [
        ({"slug": "Bad Slug!"}, "lower-case letters"),
        ({"slug": taken.slug}, "already has that short name"),
        ({"admin_email": "not-an-address"}, "valid e-mail"),
        ({"name": "x" * 300}, "at most 200"),
    ]:
        form = {
            "name": "Ny kommune",
            "slug": "ny-kommune",
            "locale": "nb",
            "admin_email": "a@ny.no",
            "admin_name": "A",
            **data,
        }
        resp = client.post("/admin/region/tenants", data=form)
        body = resp.get_data(as_text=True)
        assert resp.status_code == 400 and text in body, body[body.find("<main") :][:600]
    assert db.session.scalar(select(db.func.count()).select_from(Tenant)) == before


def test_only_regional_admins_reach_the_region_pages(app, client, factory):
    tenant = factory.tenant()
    admin = factory.user(tenant, Role.ADMIN)
    sign_in(client, admin)
    assert client.get("/admin/region/").status_code == 403
    resp = client.post(f"/admin/region/tenants/{tenant.id}/deactivate")
    assert resp.status_code == 403
    assert db.session.get(Tenant, tenant.id).is_active


def test_a_deactivated_municipality_is_shut_out(app, client, regional, factory, monkeypatch):
    """Its staff cannot sign in (and are signed out), its webhooks find nothing and store
    nothing; put back into service, everything works again."""
    tenant = factory.tenant()
    caseworker = factory.user(tenant, Role.CASEWORKER)
    token = secrets.token_hex(16)
    monkeypatch.setenv("SERVICETORG_TEST_SETUP_TOKEN", token)
    app.config["PUBLIC_BASE_URL"] = PUBLIC
    sms = factory.channel(
        tenant,
        ChannelKind.SMS,
        external_id="+4740000077",
        config={"account_sid": "AC" + "0" * 32},
        secret_refs={"auth_token": "SERVICETORG_TEST_SETUP_TOKEN"},
    )
    staff_client = app.test_client()
    assert sign_in(staff_client, caseworker).status_code == 302
    forget()
    assert staff_client.get("/").status_code == 200

    sign_in(client, regional)
    assert client.post(f"/admin/region/tenants/{tenant.id}/deactivate").status_code == 303
    forget()
    assert staff_client.get("/").status_code in (302, 401)  # the session is gone
    resp = sign_in(app.test_client(), caseworker)
    assert resp.status_code == 400 and "taken out of service" in resp.get_data(as_text=True)

    path = f"/webhooks/twilio/{sms.id}/sms"
    params = {
        "From": "+4791234567",
        "To": sms.external_id,
        "Body": "Hei",
        "MessageSid": "SM" + "1" * 32,
        "SmsMessageSid": "SM" + "1" * 32,
        "AccountSid": "AC" + "0" * 32,
        "NumMedia": "0",
    }
    resp = app.test_client().post(
        path, data=params, headers={"X-Twilio-Signature": sign(PUBLIC + path, params, token)}
    )
    assert resp.status_code == 404
    factory.channel(tenant, ChannelKind.MESSENGER, external_id="7777000")
    resp = app.test_client().post("/webhooks/facebook/7777000", data=b"{}")
    assert resp.status_code == 404
    widget = factory.channel(tenant, ChannelKind.WEBCHAT)
    assert app.test_client().get(f"/api/chat/{widget.external_id}/status").status_code == 404
    assert db.session.scalar(select(db.func.count()).select_from(InboundEvent)) == 0
    assert "deactivate" in {e.action.split(".")[1] for e in db.session.scalars(select(AuditEntry))}

    forget()
    assert client.post(f"/admin/region/tenants/{tenant.id}/reactivate").status_code == 303
    assert sign_in(app.test_client(), caseworker).status_code == 302
    resp = app.test_client().post(
        path, data=params, headers={"X-Twilio-Signature": sign(PUBLIC + path, params, token)}
    )
    assert resp.status_code == 200
    assert app.test_client().get(f"/api/chat/{widget.external_id}/status").status_code == 200


def test_tenant_create_command_for_a_fresh_installation(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "tenant", "create", "--slug", "vestby", "--name", "Vestby kommune",
            "--admin-email", "region@vestby.kommune.no", "--admin-name", "Region IT",
            "--regional-admin",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "temporary password:" in result.output
    password = result.output.split("temporary password:")[1].split()[0]
    user = db.session.scalars(select(User).where(User.email == "region@vestby.kommune.no")).one()
    assert user.is_regional_admin and user.must_change_password
    assert sign_in(app.test_client(), user, password).status_code == 302
    again = runner.invoke(
        args=["tenant", "create", "--slug", "vestby", "--name", "X", "--admin-email", "a@b.no"]
    )
    assert again.exit_code != 0 and "already has that short name" in again.output


# -- the municipal admin's pages ----------------------------------------------------------------


def test_profile_is_validated_as_a_whole(app, client, factory):
    tenant = factory.tenant()
    admin = factory.user(tenant, Role.ADMIN)
    sign_in(client, admin)
    form = {
        "name": "Nytt navn kommune",
        "locale": "nn",
        "timezone": "Europe/Oslo",
        "retention_days": "120",
        "hours_mon": "08:00-15:30",
        "hours_fri": "08:00-11:00, 12:00-14:00",
    }
    bad = client.post(
        f"/admin/municipality/{tenant.id}/profile", data={**form, "hours_tue": "25:00-26:00"}
    )
    assert bad.status_code == 400 and "08:00-15:30" in bad.get_data(as_text=True)
    assert db.session.get(Tenant, tenant.id).name != "Nytt navn kommune"
    for field, value in [("timezone", "Mars/Olympus"), ("retention_days", "0")]:
        resp = client.post(f"/admin/municipality/{tenant.id}/profile", data={**form, field: value})
        assert resp.status_code == 400
    ok = client.post(f"/admin/municipality/{tenant.id}/profile", data=form)
    assert ok.status_code == 303
    db.session.expire_all()
    t = db.session.get(Tenant, tenant.id)
    assert (t.name, t.locale, t.retention_days) == ("Nytt navn kommune", "nn", 120)
    assert t.opening_hours == {
        "mon": [["08:00", "15:30"]],
        "fri": [["08:00", "11:00"], ["12:00", "14:00"]],
    }


def test_sms_number_set_up_on_a_page_and_tested_against_twilio(app, client, factory, twilio):
    tenant = factory.tenant()
    admin = factory.user(tenant, Role.ADMIN)
    sign_in(client, admin)
    twilio.phone_numbers = ["+4740000001"]
    resp = client.post(f"/admin/municipality/{tenant.id}/channels/new/sms", data=_sms_form(twilio))
    assert resp.status_code == 303
    account = db.session.scalars(select(ChannelAccount)).one()
    assert account.tenant_id == tenant.id and account.secret_refs == {}
    assert secretstore.resolve(account, "auth_token") == twilio.auth_token
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert twilio.auth_token not in page
    assert f"/webhooks/twilio/{account.id}/sms" in page
    assert "Set, last changed" in page

    tested = client.post(f"/admin/municipality/{tenant.id}/channels/{account.id}/test")
    text = tested.get_data(as_text=True)
    assert "The connection works" in text and twilio.auth_token not in text

    twilio.phone_numbers = []
    tested = client.post(f"/admin/municipality/{tenant.id}/channels/{account.id}/test")
    assert "Wrong number: +4740000001 is not a number of account" in tested.get_data(as_text=True)


def test_test_connection_names_what_failed(app, client, factory, twilio):
    tenant = factory.tenant()
    admin = factory.user(tenant, Role.ADMIN)
    sign_in(client, admin)
    form = _sms_form(twilio, auth_token="wrong-" + secrets.token_hex(8))
    client.post(f"/admin/municipality/{tenant.id}/channels/new/sms", data=form)
    account = db.session.scalars(select(ChannelAccount)).one()
    url = f"/admin/municipality/{tenant.id}/channels/{account.id}/test"
    text = client.post(url).get_data(as_text=True)
    assert "Twilio refused the account SID and auth token (401, error 20003: Authenticate)" in text

    for base, expected in [
        ("https://api.twilio.invalid", "DNS: the name api.twilio.invalid could not be found"),
        (twilio.url.replace("http://", "https://"), "TLS: the secure connection to 127.0.0.1"),
    ]:
        edit = {**form, "api_base_url": base, "auth_token": ""}
        client.post(f"/admin/municipality/{tenant.id}/channels/{account.id}", data=edit)
        assert expected in client.post(url).get_data(as_text=True)
    tests = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "channel.test"))
    assert [e.data["ok"] for e in tests] == [False, False, False]


def test_facebook_page_wrong_page_and_missing_permission(app, client, factory, graph):
    tenant = factory.tenant()
    admin = factory.user(tenant, Role.ADMIN)
    sign_in(client, admin)
    resp = client.post(
        f"/admin/municipality/{tenant.id}/channels/new/facebook",
        data={
            "name": "Kommunen på Facebook",
            "page_id": "1111",
            "page_access_token": graph.token,
            "app_secret": graph.app_secret,
            "verify_token": "bekreft-meg",
            "graph_version": "v21.0",
            "graph_url": graph.url,
        },
    )
    assert resp.status_code == 303
    kinds = {a.kind for a in db.session.scalars(select(ChannelAccount))}
    assert kinds == {ChannelKind.MESSENGER, ChannelKind.FACEBOOK_COMMENTS}
    messenger = db.session.scalars(
        select(ChannelAccount).where(ChannelAccount.kind == ChannelKind.MESSENGER)
    ).one()
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "/webhooks/facebook/1111" in page and "messages" in page
    assert graph.token not in page and graph.app_secret not in page and "bekreft-meg" not in page
    url = f"/admin/municipality/{tenant.id}/channels/{messenger.id}/test"

    graph.me = {"id": "2222", "name": "Nabokommunen"}
    text = client.post(url).get_data(as_text=True)
    assert "Wrong page id: the token is for the page &#39;Nabokommunen&#39; (id 2222)" in text

    graph.me = {"id": "1111", "name": "Kommunen"}
    graph.missing_permissions = {"pages_messaging"}
    text = client.post(url).get_data(as_text=True)
    assert "Missing permission (code 230: (#230) Requires pages_messaging permission" in text

    graph.missing_permissions = set()
    assert "The connection works" in client.post(url).get_data(as_text=True)
    # The webhook's verification handshake uses the verify token entered on the page.
    resp = app.test_client().get(
        "/webhooks/facebook/1111",
        query_string={
            "hub.mode": "subscribe",
            "hub.verify_token": "bekreft-meg",
            "hub.challenge": "42",
        },
    )
    assert resp.status_code == 200 and resp.get_data(as_text=True) == "42"


def test_channel_form_errors_are_clear_and_nothing_is_stored(app, client, factory, twilio):
    tenant = factory.tenant()
    admin = factory.user(tenant, Role.ADMIN)
    sign_in(client, admin)
    resp = client.post(
        f"/admin/municipality/{tenant.id}/channels/new/sms",
        data=_sms_form(twilio, number="91234567x", account_sid="XX1", api_base_url="ftp://x"),
    )
    text = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert text.count("does not have the expected form") == 2 and "starting with https://" in text
    assert twilio.auth_token not in text  # a secret is not echoed back into the form
    assert db.session.scalar(select(db.func.count()).select_from(ChannelAccount)) == 0


def test_two_municipalities_cannot_share_a_number_or_reach_each_other(app, client, factory, twilio):
    a, b = factory.tenant(), factory.tenant()
    admin_a, admin_b = factory.user(a, Role.ADMIN), factory.user(b, Role.ADMIN)
    sign_in(client, admin_a)
    client.post(f"/admin/municipality/{a.id}/channels/new/sms", data=_sms_form(twilio))
    account = db.session.scalars(select(ChannelAccount)).one()
    other = app.test_client()
    sign_in(other, admin_b)
    resp = other.post(f"/admin/municipality/{b.id}/channels/new/sms", data=_sms_form(twilio))
    assert resp.status_code == 400 and "already connected" in resp.get_data(as_text=True)
    # B's admin cannot see, change or test A's channel, profile or audit log.
    for method, url in [
        ("GET", f"/admin/municipality/{a.id}/channels/{account.id}"),
        ("GET", f"/admin/municipality/{b.id}/channels/{account.id}"),
        ("POST", f"/admin/municipality/{b.id}/channels/{account.id}/test"),
        ("GET", f"/admin/municipality/{a.id}/profile"),
        ("GET", f"/admin/municipality/{a.id}/audit"),
        ("GET", f"/admin/municipality/{a.id}/audit.csv"),
    ]:
        assert other.open(url, method=method).status_code == 404, url


def test_secrets_never_appear_in_pages_logs_or_the_audit_log(app, client, factory, twilio, caplog):
    caplog.set_level(logging.DEBUG)
    tenant = factory.tenant()
    admin = factory.user(tenant, Role.ADMIN)
    sign_in(client, admin)
    twilio.phone_numbers = ["+4740000001"]
    client.post(f"/admin/municipality/{tenant.id}/channels/new/sms", data=_sms_form(twilio))
    account = db.session.scalars(select(ChannelAccount)).one()
    pages = [
        client.get(f"/admin/municipality/{tenant.id}/channels/{account.id}"),
        client.post(f"/admin/municipality/{tenant.id}/channels/{account.id}/test"),
        client.get(f"/admin/municipality/{tenant.id}/channels"),
        client.get(f"/admin/municipality/{tenant.id}/audit"),
        client.get(f"/admin/municipality/{tenant.id}/audit.csv"),
    ]
    for resp in pages:
        assert resp.status_code == 200
        assert twilio.auth_token not in resp.get_data(as_text=True)
    assert twilio.auth_token not in caplog.text
    for entry in db.session.scalars(select(AuditEntry)):
        assert twilio.auth_token not in str(entry.data)
    # Nor in the API's answers about the municipality.
    from inbox.services import api_tokens

    _row, bearer = api_tokens.create(tenant.id, "Integrasjon", ["read"], admin)
    db.session.commit()
    api = app.test_client()
    for path in ("/api/v1/directory", "/api/v1/conversations"):
        forget()
        resp = api.get(path, headers={"Authorization": f"Bearer {bearer}"})
        assert resp.status_code == 200, path
        assert twilio.auth_token not in resp.get_data(as_text=True)


def test_signed_comment_webhook_secret_is_generated_and_shown_once(app, client, factory):
    tenant = factory.tenant()
    admin = factory.user(tenant, Role.ADMIN)
    sign_in(client, admin)
    resp = client.post(
        f"/admin/municipality/{tenant.id}/channels/new/webhook", data={"name": "Høringer"}
    )
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    secret = page.split('id="generated-secret">')[1].split("<")[0]
    account = db.session.scalars(select(ChannelAccount)).one()
    assert secretstore.resolve(account, "webhook_secret") == secret
    assert f"/webhooks/comments/{account.id}" in page and "openssl dgst" in page
    again = client.get(f"/admin/municipality/{tenant.id}/channels/{account.id}")
    assert secret not in again.get_data(as_text=True)


def test_records_system_settings_and_test(app, client, factory):
    tenant = factory.tenant()
    admin = factory.user(tenant, Role.ADMIN)
    sign_in(client, admin)
    bad = client.post(
        f"/admin/municipality/{tenant.id}/records",
        data={"adapter": "noark5_rest", "base_url": "not a url"},
    )
    assert bad.status_code == 400
    resp = client.post(
        f"/admin/municipality/{tenant.id}/records",
        data={
            "adapter": "noark5_rest",
            "base_url": "https://arkiv.example.invalid/api",
            "token": "tok-xyz",
        },
    )
    assert resp.status_code == 303
    db.session.expire_all()
    t = db.session.get(Tenant, tenant.id)
    assert (
        t.records_adapter == "noark5_rest" and secretstore.resolve(t, "records_token") == "tok-xyz"
    )
    text = client.post(f"/admin/municipality/{tenant.id}/records/test").get_data(as_text=True)
    assert "DNS: the name arkiv.example.invalid could not be found" in text
    assert "tok-xyz" not in text


def test_audit_log_filters_and_csv(app, client, factory, regional):
    tenant = factory.tenant()
    admin = factory.user(tenant, Role.ADMIN, name="Anne Admin")
    sign_in(client, admin)
    client.post(
        f"/admin/municipality/{tenant.id}/channels/new/webhook", data={"name": "=HYPERLINK(1)"}
    )
    client.post(
        f"/admin/municipality/{tenant.id}/profile",
        data={"name": "Ny", "locale": "nb", "timezone": "Europe/Oslo", "retention_days": "30"},
    )
    page = client.get(f"/admin/municipality/{tenant.id}/audit?what=tenant.profile").get_data(
        as_text=True
    )
    assert "tenant.profile" in page and "channel.create</code>" not in page
    page = client.get(f"/admin/municipality/{tenant.id}/audit?who=nobody-else").get_data(
        as_text=True
    )
    assert "Nothing matches." in page
    assert client.get(f"/admin/municipality/{tenant.id}/audit?from=2026-13-45").status_code == 400
    resp = client.get(f"/admin/municipality/{tenant.id}/audit.csv?who=anne")
    assert resp.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:4] == ["id", "time_utc", "who", "action"]
    actions = {r[3] for r in rows[1:]}
    assert {"channel.create", "secret.set", "tenant.profile"} <= actions
    assert all(r[2].startswith("Anne Admin") for r in rows[1:])
    # The other municipality's entries are not in this log.
    other = factory.tenant()
    db.session.add(
        AuditEntry(
            tenant_id=other.id,
            actor_label="x",
            action="secret",
            object_type="T",
            object_id="1",
            data={},
        )
    )
    db.session.commit()
    resp = client.get(f"/admin/municipality/{tenant.id}/audit.csv")
    assert all(r[2] != "x" for r in csv.reader(io.StringIO(resp.get_data(as_text=True))))


def test_instagram_account_set_up_and_tested(app, client, factory):
    from tests.fakes.instagram import FakeInstagramGraph

    tenant = factory.tenant()
    admin = factory.user(tenant, Role.ADMIN)
    sign_in(client, admin)
    fake = FakeInstagramGraph("EAAB" + secrets.token_hex(12), secrets.token_hex(16))
    with fake:
        resp = client.post(
            f"/admin/municipality/{tenant.id}/channels/new/instagram",
            data={
                "name": "Kommunen på Instagram",
                "ig_account_id": "17841400000000001",
                "linked_page_id": "5555",
                "page_access_token": fake.token,
                "app_secret": fake.app_secret,
                "verify_token": "ig-bekreft",
                "graph_version": "v21.0",
                "graph_url": fake.url,
            },
        )
        assert resp.status_code == 303
        rows = db.session.scalars(select(ChannelAccount).order_by(ChannelAccount.kind)).all()
        assert {(a.kind, a.linked_page_id) for a in rows} == {
            (ChannelKind.INSTAGRAM, "5555"),
            (ChannelKind.INSTAGRAM_COMMENTS, "5555"),
        }
        ig = next(a for a in rows if a.kind is ChannelKind.INSTAGRAM)
        page = client.get(resp.headers["Location"]).get_data(as_text=True)
        assert "/webhooks/instagram/17841400000000001" in page and fake.token not in page
        url = f"/admin/municipality/{tenant.id}/channels/{ig.id}/test"
        fake.me = {"id": "5555", "name": "Kommunen"}
        text = client.post(url).get_data(as_text=True)
        assert "the page has no linked Instagram account" in text
        fake.ig_accounts["17841400000000001"] = "5555"
        text = client.post(url).get_data(as_text=True)
        assert "The connection works" in text and "direct messages" in text


def test_fiks_arkiv_test_proves_the_folders_and_the_private_key(app, client, factory, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    tenant = factory.tenant()
    admin = factory.user(tenant, Role.ADMIN)
    sign_in(client, admin)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    good = tmp_path / "fiks.pem"
    good.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"nokkelpassord"),
        )
    )
    bad = tmp_path / "broken.pem"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    url = f"/admin/municipality/{tenant.id}/records"
    form = {
        "adapter": "fiks_arkiv",
        "outgoing_dir": str(tmp_path / "ut"),
        "incoming_dir": str(tmp_path / "inn"),
        "private_key_path": str(good),
        "key_password": "nokkelpassord",
    }
    assert client.post(url, data=form).status_code == 303
    text = client.post(f"{url}/test").get_data(as_text=True)
    assert "The connection works" in text and f"The private key in {good} loads" in text
    assert "nokkelpassord" not in text
    client.post(url, data={**form, "private_key_path": str(bad), "key_password": ""})
    text = client.post(f"{url}/test").get_data(as_text=True)
    assert f"The private key in {bad} does not load" in text


def test_chat_widget_origins_identity_key_and_snippet(app, client, factory):
    tenant = factory.tenant()
    admin = factory.user(tenant, Role.ADMIN)
    sign_in(client, admin)
    url = f"/admin/municipality/{tenant.id}/widget"
    bad = client.post(url, data={"origins": "https://www.kommune.no/side?x=1\njavascript:alert(1)"})
    assert bad.status_code == 400 and "https://host" in bad.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count()).select_from(ChannelAccount)) == 0
    resp = client.post(
        url,
        data={"origins": "https://www.kommune.no\nhttps://kommune.no/", "new_identity_key": "1"},
    )
    page = resp.get_data(as_text=True)
    key = page.split('id="shown-secret">')[1].split("<")[0]
    widget = db.session.scalars(select(ChannelAccount)).one()
    assert widget.config["allowed_origins"] == ["https://www.kommune.no", "https://kommune.no"]
    assert secretstore.resolve(db.session.get(Tenant, tenant.id), "chat_identity") == key
    page = client.get(url).get_data(as_text=True)
    assert key not in page and f'data-key="{widget.external_id}"' in page
    assert "widget.js" in page and "Set, last changed" in page
