"""Staff single sign-on against a local OpenID provider over real HTTP (tests/fakes/oidc.py):
the code flow with PKCE, state and nonce; ID tokens refused for each thing that can be wrong
with them; groups mapped to roles and teams; one municipality's provider never signs anyone
into another."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask
from sqlalchemy import func, select

from inbox.extensions import db
from inbox.models import AuditEntry, Membership, Role, SsoConfig, Team, TeamMember, Tenant, User
from inbox.services import oidc, secret_store
from tests.factories import PASSWORD
from tests.fakes.oidc import FakeOidcProvider
from tests.staff_support import new_request


@pytest.fixture
def idp() -> Iterator[FakeOidcProvider]:
    oidc.clear_caches()
    with FakeOidcProvider() as provider:
        yield provider
    oidc.clear_caches()


def configure(tenant: Tenant, provider: FakeOidcProvider, **over: Any) -> SsoConfig:
    config = SsoConfig(
        tenant_id=tenant.id,
        enabled=True,
        issuer=provider.issuer,
        client_id=provider.client_id,
        client_secret_enc=secret_store.encrypt(provider.clients[provider.client_id]),
        allowed_domains=["kommune.test"],
        groups_claim="groups",
        group_roles={
            "inbox-caseworkers": "caseworker",
            "inbox-admins": "admin",
            "inbox-records": "records_officer",
        },
        group_teams={"inbox-caseworkers": ["Byggesak"], "inbox-nav": ["NAV", "Sosial"]},
    )
    for key, value in over.items():
        setattr(config, key, value)
    db.session.add(config)
    db.session.commit()
    return config


def sso_sign_in(client: Any, slug: str) -> Any:
    """What a browser does: our redirect, the provider's page (which signs the configured
    person in at once), the provider's redirect back to us."""
    new_request()
    resp = client.get(f"/login/sso/{slug}")
    assert resp.status_code == 303, resp.get_data(as_text=True)
    at_provider = requests.get(resp.headers["Location"], allow_redirects=False, timeout=10)
    assert at_provider.status_code == 302, at_provider.text
    back = urlsplit(at_provider.headers["Location"])
    new_request()
    return client.get(f"{back.path}?{back.query}")


def signed_in(client: Any) -> bool:
    new_request()
    return client.get("/").status_code == 200


def user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email))


def test_first_sign_in_creates_the_account_with_the_mapped_role_and_team(
    app: Flask, client: Any, factory: Any, idp: FakeOidcProvider
) -> None:
    tenant = factory.tenant()
    configure(tenant, idp)
    resp = sso_sign_in(client, tenant.slug)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert signed_in(client)
    user = user_by_email("kari@kommune.test")
    assert user is not None and user.name == "Kari Nordmann"
    assert user.role_in(tenant.id) is Role.CASEWORKER
    team = db.session.scalar(select(Team).where(Team.tenant_id == tenant.id))
    assert team is not None and team.name == "Byggesak"
    assert db.session.get(TeamMember, (team.id, user.id)) is not None
    assert not idp.refusals  # PKCE, client authentication and redirect_uri were all right
    assert db.session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "sso.sign_in")
    )


def test_the_sign_in_page_offers_single_sign_on(
    app: Flask, client: Any, factory: Any, idp: FakeOidcProvider
) -> None:
    tenant = factory.tenant(name="Eksempel kommune")
    configure(tenant, idp)
    page = client.get("/login").get_data(as_text=True)
    assert f"/login/sso/{tenant.slug}" in page and "Eksempel kommune" in page


def test_nobody_in_a_mapped_group_is_refused_with_a_clear_page(
    app: Flask, client: Any, factory: Any, idp: FakeOidcProvider
) -> None:
    tenant = factory.tenant()
    configure(tenant, idp)
    idp.user["groups"] = ["everyone"]
    resp = sso_sign_in(client, tenant.slug)
    assert resp.status_code == 403
    text = resp.get_data(as_text=True)
    assert "noen gruppe som gir tilgang" in text or "not in any group" in text
    assert user_by_email("kari@kommune.test") is None
    assert not signed_in(client)


def test_later_sign_ins_update_role_and_teams_and_a_lost_group_ends_access(
    app: Flask, client: Any, factory: Any, idp: FakeOidcProvider
) -> None:
    tenant = factory.tenant()
    configure(tenant, idp)
    assert sso_sign_in(client, tenant.slug).status_code == 302
    user = user_by_email("kari@kommune.test")
    assert user is not None
    byggesak = db.session.scalar(select(Team).where(Team.name == "Byggesak"))
    assert byggesak is not None

    idp.user["groups"] = ["inbox-admins", "inbox-nav"]
    client.post("/logout")
    assert sso_sign_in(client, tenant.slug).status_code == 302
    db.session.expire_all()
    assert user.role_in(tenant.id) is Role.ADMIN
    team_names = set(
        db.session.scalars(
            select(Team.name)
            .join(TeamMember, TeamMember.team_id == Team.id)
            .where(TeamMember.user_id == user.id)
        )
    )
    assert team_names == {"NAV", "Sosial"}  # no longer in Byggesak

    idp.user["groups"] = []
    client.post("/logout")
    resp = sso_sign_in(client, tenant.slug)
    assert resp.status_code == 403
    db.session.expire_all()
    assert db.session.get(Membership, (user.id, tenant.id)) is None


@pytest.mark.parametrize(
    ("knob", "value", "reason"),
    [
        ("issuer_override", "https://evil.example", "issuer"),
        ("sign_with_foreign_key", True, "signature"),
        ("nonce_override", "nonce-of-an-earlier-sign-in", "nonce"),
        ("lifetime_seconds", -3600, "expired"),
        ("audience_override", "another-app", "audience"),
    ],
)
def test_a_bad_id_token_is_refused_with_a_clear_page(
    app: Flask,
    client: Any,
    factory: Any,
    idp: FakeOidcProvider,
    knob: str,
    value: Any,
    reason: str,
) -> None:
    tenant = factory.tenant()
    configure(tenant, idp)
    setattr(idp, knob, value)
    resp = sso_sign_in(client, tenant.slug)
    assert resp.status_code == 400
    text = resp.get_data(as_text=True)
    assert f'data-reason="{reason}"' in text
    assert "Innlogging avvist" in text or "Sign-in refused" in text
    assert user_by_email("kari@kommune.test") is None
    assert not signed_in(client)


def test_a_callback_url_works_once(
    app: Flask, client: Any, factory: Any, idp: FakeOidcProvider
) -> None:
    tenant = factory.tenant()
    configure(tenant, idp)
    new_request()
    resp = client.get(f"/login/sso/{tenant.slug}")
    back = urlsplit(
        requests.get(resp.headers["Location"], allow_redirects=False, timeout=10).headers[
            "Location"
        ]
    )
    assert client.get(f"{back.path}?{back.query}").status_code == 302
    client.post("/logout")
    other = factory.app_client() if hasattr(factory, "app_client") else app.test_client()
    new_request()
    replay = other.get(f"{back.path}?{back.query}")  # another browser replays it
    assert replay.status_code == 400
    assert 'data-reason="state"' in replay.get_data(as_text=True)
    new_request()
    again = client.get(f"{back.path}?{back.query}")  # the same browser replays it
    assert again.status_code == 400


def test_a_forged_state_is_refused(
    app: Flask, client: Any, factory: Any, idp: FakeOidcProvider
) -> None:
    tenant = factory.tenant()
    configure(tenant, idp)
    new_request()
    resp = client.get(f"/login/sso/{tenant.slug}")
    back = urlsplit(
        requests.get(resp.headers["Location"], allow_redirects=False, timeout=10).headers[
            "Location"
        ]
    )
    query = back.query.split("&state=")[0] + "&state=forged"
    resp = client.get(f"{back.path}?{query}")
    assert resp.status_code == 400 and 'data-reason="state"' in resp.get_data(as_text=True)


def test_rotated_provider_keys_are_fetched_again(
    app: Flask, client: Any, factory: Any, idp: FakeOidcProvider
) -> None:
    tenant = factory.tenant()
    configure(tenant, idp)
    assert sso_sign_in(client, tenant.slug).status_code == 302
    assert idp.jwks_fetches == 1
    client.post("/logout")
    assert sso_sign_in(client, tenant.slug).status_code == 302
    assert idp.jwks_fetches == 1  # cached
    idp.rotate()
    client.post("/logout")
    assert sso_sign_in(client, tenant.slug).status_code == 302
    assert idp.jwks_fetches == 2


def test_an_address_outside_the_allowed_domains_is_refused(
    app: Flask, client: Any, factory: Any, idp: FakeOidcProvider
) -> None:
    tenant = factory.tenant()
    configure(tenant, idp)
    idp.user["email"] = "kari@elsewhere.test"
    resp = sso_sign_in(client, tenant.slug)
    assert resp.status_code == 403 and 'data-reason="domain"' in resp.get_data(as_text=True)


def test_one_municipalitys_provider_never_signs_into_another(
    app: Flask, client: Any, factory: Any, idp: FakeOidcProvider
) -> None:
    a, b = factory.tenant(), factory.tenant()
    configure(a, idp)
    with FakeOidcProvider() as idp_b:
        configure(b, idp_b)
        # B's provider answers with a token that A's provider issued (its issuer): refused.
        idp_b.issuer_override = idp.issuer
        resp = sso_sign_in(client, b.slug)
        assert resp.status_code == 400 and 'data-reason="issuer"' in resp.get_data(as_text=True)
    # Signing in through A makes a member of A only.
    assert sso_sign_in(client, a.slug).status_code == 302
    user = user_by_email("kari@kommune.test")
    assert user is not None and user.tenant_ids() == [a.id]
    # B's staff page is not A's user's to see.
    new_request()
    assert client.get(f"/admin/sso/?tenant={b.id}").status_code in (403, 404)


def test_a_password_account_of_another_municipality_is_not_taken_over(
    app: Flask, client: Any, factory: Any, idp: FakeOidcProvider
) -> None:
    a, b = factory.tenant(), factory.tenant()
    configure(a, idp)
    existing = factory.user(b, Role.ADMIN, email="kari@kommune.test")
    resp = sso_sign_in(client, a.slug)
    assert resp.status_code == 403
    assert 'data-reason="account_exists"' in resp.get_data(as_text=True)
    db.session.expire_all()
    assert existing.tenant_ids() == [b.id]
    other = app.test_client()
    new_request()
    login = other.post("/login", data={"email": existing.email, "password": PASSWORD})
    assert login.status_code == 302  # its password still works


def test_passwords_are_off_for_sso_accounts_and_on_for_others(
    app: Flask, client: Any, factory: Any, idp: FakeOidcProvider
) -> None:
    tenant = factory.tenant()
    configure(tenant, idp)
    local = factory.user(tenant, Role.CASEWORKER)
    assert sso_sign_in(client, tenant.slug).status_code == 302
    user = user_by_email("kari@kommune.test")
    assert user is not None
    for password in (PASSWORD, "", user.password_hash):
        other = app.test_client()
        new_request()
        resp = other.post("/login", data={"email": user.email, "password": password or "x"})
        assert resp.status_code == 400
    other = app.test_client()
    new_request()
    assert (
        other.post("/login", data={"email": local.email, "password": PASSWORD}).status_code == 302
    )


def test_sign_out_ends_the_local_session(
    app: Flask, client: Any, factory: Any, idp: FakeOidcProvider
) -> None:
    tenant = factory.tenant()
    configure(tenant, idp)
    assert sso_sign_in(client, tenant.slug).status_code == 302
    assert signed_in(client)
    new_request()
    assert client.post("/logout").status_code == 302
    assert not signed_in(client)


def test_the_fake_provider_checks_the_pkce_verifier(idp: FakeOidcProvider) -> None:
    """RFC 7636 section 4.6: the token endpoint compares BASE64URL(SHA256(verifier))."""
    verifier = "v" * 50
    import base64
    import hashlib

    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    params = {
        "response_type": "code",
        "client_id": idp.client_id,
        "redirect_uri": "http://localhost/cb",
        "scope": "openid",
        "state": "s",
        "nonce": "n",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    auth = (idp.client_id, idp.clients[idp.client_id])
    for wrong, expected in (("w" * 50, 400), ("short", 400), (verifier, 200)):
        loc = requests.get(
            f"{idp.url}/authorize", params=params, allow_redirects=False, timeout=10
        ).headers["Location"]
        code = loc.split("code=")[1].split("&")[0]
        resp = requests.post(
            f"{idp.url}/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": "http://localhost/cb",
                "code_verifier": wrong,
            },
            auth=auth,
            timeout=10,
        )
        assert resp.status_code == expected, resp.text
    plain = requests.get(
        f"{idp.url}/authorize",
        params={**params, "code_challenge_method": "plain"},
        allow_redirects=False,
        timeout=10,
    )
    assert plain.status_code == 400


# --- Settings ---------------------------------------------------------------------------------


def admin_client(app: Flask, factory: Any, tenant: Tenant) -> Any:
    admin = factory.user(tenant, Role.ADMIN)
    c = app.test_client()
    new_request()
    assert c.post("/login", data={"email": admin.email, "password": PASSWORD}).status_code == 302
    return c


FORM = {
    "enabled": "1",
    "client_id": "servicetorg",
    "client_secret": "very-secret-value",
    "allowed_domains": "kommune.test",
    "groups_claim": "groups",
    "group_roles": "inbox-caseworkers = caseworker\ninbox-admins = admin",
    "group_teams": "inbox-caseworkers = Byggesak",
}


def test_the_admin_page_stores_the_secret_encrypted_and_sign_in_works(
    app: Flask, factory: Any, idp: FakeOidcProvider
) -> None:
    tenant = factory.tenant()
    c = admin_client(app, factory, tenant)
    new_request()
    assert c.get("/admin/sso/").status_code == 200
    new_request()
    resp = c.post(
        f"/admin/sso/{tenant.id}",
        data={**FORM, "issuer": idp.issuer, "client_secret": idp.clients[idp.client_id]},
    )
    assert resp.status_code == 303, resp.get_data(as_text=True)
    config = db.session.scalar(select(SsoConfig).where(SsoConfig.tenant_id == tenant.id))
    assert config is not None and config.client_secret_enc
    assert idp.clients[idp.client_id] not in config.client_secret_enc
    assert secret_store.resolve_secret(config.client_secret_enc, None) == "s3cret"
    new_request()
    page = c.get("/admin/sso/").get_data(as_text=True)
    assert "s3cret" not in page and config.client_secret_enc not in page
    browser = app.test_client()
    assert sso_sign_in(browser, tenant.slug).status_code == 302


def test_the_secret_can_live_in_an_environment_variable(
    app: Flask, factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KOMMUNE_SSO_SECRET", "from-the-environment")
    assert secret_store.resolve_secret(None, "KOMMUNE_SSO_SECRET") == "from-the-environment"
    monkeypatch.delenv("KOMMUNE_SSO_SECRET")
    with pytest.raises(secret_store.SecretUnavailable):
        secret_store.resolve_secret(None, "KOMMUNE_SSO_SECRET")


def test_the_client_secret_survives_a_key_rotation(
    app: Flask, factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SSO client secret uses the admin pages' keys: `servicetorg secrets rotate`
    re-encrypts it with the others, after which the old key can go."""
    from cryptography.fernet import Fernet

    from inbox import secretstore

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv(secretstore.ENV_KEYS, old)
    tenant = factory.tenant()
    config = SsoConfig(
        tenant_id=tenant.id,
        enabled=True,
        issuer="https://idp.kommune.test",
        client_id="inbox",
        client_secret_enc=secret_store.encrypt("hemmelig"),
    )
    db.session.add(config)
    db.session.commit()
    monkeypatch.setenv(secretstore.ENV_KEYS, new)
    with pytest.raises(secret_store.SecretUnavailable):
        secret_store.resolve_secret(config.client_secret_enc, None)
    monkeypatch.setenv(secretstore.ENV_KEYS, f"{new},{old}")
    result = app.test_cli_runner().invoke(args=["secrets", "rotate"])
    assert result.exit_code == 0, result.output
    monkeypatch.setenv(secretstore.ENV_KEYS, new)  # the old key removed
    db.session.expire_all()
    stored = db.session.get(SsoConfig, config.id)
    assert stored is not None
    assert secret_store.resolve_secret(stored.client_secret_enc, None) == "hemmelig"


@pytest.mark.parametrize(
    ("issuer", "mode", "message"),
    [
        ("http://idp.example.no", "embedded", "https://"),
        ("ftp://idp.example.no", "embedded", "https://"),
        ("https://10.0.0.5/realms/x", "production", "private"),
        ("https://127.0.0.1:8443", "production", "private"),
        ("https://[::1]/", "production", "private"),
        ("https://169.254.169.254/latest", "production", "private"),
    ],
)
def test_issuers_we_must_not_call_are_refused(
    app: Flask, factory: Any, issuer: str, mode: str, message: str
) -> None:
    tenant = factory.tenant()
    c = admin_client(app, factory, tenant)
    app.config["MODE"] = mode
    try:
        new_request()
        resp = c.post(f"/admin/sso/{tenant.id}", data={**FORM, "issuer": issuer})
    finally:
        app.config["MODE"] = "embedded"
    assert resp.status_code == 400
    text = resp.get_data(as_text=True)
    assert message in text or ("privat" in text and message == "private")
    assert db.session.scalar(select(SsoConfig).where(SsoConfig.tenant_id == tenant.id)) is None


def test_a_wrong_group_mapping_is_refused_and_nothing_is_stored(
    app: Flask, factory: Any, idp: FakeOidcProvider
) -> None:
    tenant = factory.tenant()
    c = admin_client(app, factory, tenant)
    for bad in (
        {"group_roles": "inbox = superuser"},
        {"group_roles": ""},
        {"allowed_domains": "not a domain"},
    ):
        new_request()
        resp = c.post(f"/admin/sso/{tenant.id}", data={**FORM, "issuer": idp.issuer, **bad})
        assert resp.status_code == 400
    assert db.session.scalar(select(SsoConfig).where(SsoConfig.tenant_id == tenant.id)) is None


def test_an_unknown_or_disabled_municipality_has_no_sign_in(
    app: Flask, client: Any, factory: Any, idp: FakeOidcProvider
) -> None:
    tenant = factory.tenant()
    assert client.get(f"/login/sso/{tenant.slug}").status_code == 404
    configure(tenant, idp, enabled=False)
    assert client.get(f"/login/sso/{tenant.slug}").status_code == 404
    assert client.get("/login/sso/no-such-place").status_code == 404


def test_an_admin_cannot_give_an_sso_account_a_password(
    app: Flask, client: Any, factory: Any, idp: FakeOidcProvider
) -> None:
    tenant = factory.tenant()
    configure(tenant, idp)
    assert sso_sign_in(client, tenant.slug).status_code == 302
    user = user_by_email("kari@kommune.test")
    assert user is not None
    before = user.password_hash
    admin = admin_client(app, factory, tenant)
    new_request()
    resp = admin.post(f"/admin/staff/{tenant.id}/people/{user.id}/password")
    assert resp.status_code == 400
    assert "felles innlogging" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert user.password_hash == before


def test_hostile_id_tokens_are_refused_not_crashed_on(app: Flask, idp: FakeOidcProvider) -> None:
    """Unsigned ("alg": "none"), malformed, symmetric-key and truncated tokens: each refused
    as having no valid signature, before any claim is trusted."""
    import base64
    import json

    from joserfc import jwt
    from joserfc.jwk import OctKey

    def b64(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    meta = oidc.discover(idp.issuer)
    claims = {"iss": idp.issuer, "aud": idp.client_id, "sub": "x", "nonce": "n"}
    unsigned = f"{b64({'alg': 'none'})}.{b64(claims)}."
    hmac_key = OctKey.import_key(idp.clients[idp.client_id].ljust(32, "x"))
    symmetric = jwt.encode({"alg": "HS256"}, claims, hmac_key)
    good = idp.id_token(
        {"client_id": idp.client_id, "nonce": "n", "user": {"sub": "x"}, "acr_values": None}
    )
    for token in (
        unsigned,
        "not a token",
        "a.b.c",
        "",
        symmetric,
        good[:-10],
        good.rsplit(".", 1)[0] + ".",
        "x" * 100_000,
    ):
        with pytest.raises(oidc.OidcError) as caught:
            oidc.verify_id_token(token, meta, issuer=idp.issuer, client_id=idp.client_id, nonce="n")
        assert caught.value.code == "signature", token[:40]
    claims_ok = oidc.verify_id_token(
        good, meta, issuer=idp.issuer, client_id=idp.client_id, nonce="n"
    )
    assert claims_ok["sub"] == "x"


def test_a_provider_that_answers_nonsense_gets_a_clear_page(
    app: Flask, client: Any, factory: Any, idp: FakeOidcProvider
) -> None:
    tenant = factory.tenant()
    configure(tenant, idp)
    idp.fail_next(1, 500)  # the discovery document
    new_request()
    resp = client.get(f"/login/sso/{tenant.slug}")
    assert resp.status_code == 502
    assert 'data-reason="unreachable"' in resp.get_data(as_text=True)
    # The provider's error on the way back (the person cancelled).
    new_request()
    start = client.get(f"/login/sso/{tenant.slug}")
    state = start.headers["Location"].split("state=", 1)[1].split("&", 1)[0]
    new_request()
    resp = client.get(f"/login/sso/callback?error=access_denied&state={state}")
    assert resp.status_code == 400
    assert 'data-reason="provider_error"' in resp.get_data(as_text=True)
