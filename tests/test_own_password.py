"""Every signed-in user changes their own password; a temporary one must be replaced first."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from inbox.extensions import db
from inbox.models import AuditEntry, ChannelKind, Message, Role
from inbox.services.users import check_password
from tests.factories import PASSWORD
from tests.staff_support import Browser


@pytest.fixture
def office(app, factory) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    tenant = factory.tenant(slug="passord")
    return {
        "tenant": tenant,
        "cw": factory.user(tenant, Role.CASEWORKER, name="Kari Saksbehandler"),
        "factory": factory,
    }


def audit_actions() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_change_own_password(app, office):
    kari = office["cw"]
    cw = Browser(app, kari)
    page = cw.text("/account/password")
    assert 'autocomplete="current-password"' in page and 'minlength="12"' in page
    assert "midlertidig passord" not in page
    new = "et helt nytt passord"
    resp = cw.post("/account/password", data={"current": PASSWORD, "new": new, "repeat": new})
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/")
    assert "Passordet ditt er endret." in cw.text("/")
    db.session.refresh(kari)
    assert check_password(kari, new) and not check_password(kari, PASSWORD)
    assert kari.password_hash.startswith("$argon2")
    assert audit_actions() == ["password.change"]
    assert Browser(app).sign_in(kari.email, PASSWORD).status_code == 400
    assert Browser(app).sign_in(kari.email, new).status_code == 302


def test_a_temporary_password_must_be_replaced_before_anything_else(app, office):
    tenant, kari = office["tenant"], office["cw"]
    account = office["factory"].channel(tenant, ChannelKind.WEBCHAT)
    conv = office["factory"].conversation(account)
    kari.must_change_password = True
    db.session.commit()
    cw = Browser(app, kari)
    for url in ("/", f"/c/{conv.id}", "/search?q=hei", "/records/", "/live/shortcuts"):
        resp = cw.get(url)
        assert resp.status_code == 303, url
        assert resp.headers["Location"].endswith("/account/password"), url
    resp = cw.post(f"/c/{conv.id}/reply", data={"body": "Hei", "kind": "reply"})
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/account/password")
    # The password page, the language, static files, the citizens' pages and signing out
    # stay open.
    assert "Du logget inn med et midlertidig passord" in cw.text("/account/password")
    assert cw.get("/static/css/inbox.css").status_code == 200
    assert cw.get(f"/demo/{tenant.slug}").status_code == 200
    assert cw.get("/healthz").status_code == 200
    assert cw.post("/language", data={"lang": "en", "next": "/"}).status_code == 303
    assert "You signed in with a temporary password" in cw.text("/account/password")
    assert cw.post("/logout").headers["Location"].endswith("/login")
    outbound = select(func.count()).where(Message.direction == "out")
    assert db.session.scalar(outbound) == 0  # the reply was never taken


# --- the rules for a new password ------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"current": "wrong", "new": "x" * 12, "repeat": "x" * 12}, "nåværende passordet er feil"),
        ({"current": PASSWORD, "new": "x" * 12, "repeat": "y" * 12}, "ikke like"),
        ({"current": PASSWORD, "new": "kort", "repeat": "kort"}, "minst 12 tegn"),
        ({"current": PASSWORD, "new": "x" * 1001, "repeat": "x" * 1001}, "for langt"),
        ({"current": PASSWORD, "new": PASSWORD, "repeat": PASSWORD}, "et annet passord"),
        ({}, "nåværende passordet er feil"),
    ],
)
def test_own_password_rules(app, office, form, message):
    kari = office["cw"]
    cw = Browser(app, kari)
    old_hash = kari.password_hash
    resp = cw.post("/account/password", data=form)
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)
    db.session.refresh(kari)
    assert kari.password_hash == old_hash
    assert "password.change" not in audit_actions()


def test_the_new_password_cannot_be_the_email_address(app, office):
    kari = office["factory"].user(office["tenant"], email="kari.langnavn@eksempel.no")
    cw = Browser(app, kari)
    new = "Kari.Langnavn@eksempel.no"
    resp = cw.post("/account/password", data={"current": PASSWORD, "new": new, "repeat": new})
    assert resp.status_code == 400
    assert "kan ikke være e-postadressen din" in resp.get_data(as_text=True)


def test_every_user_finds_the_password_page_in_the_top_bar(app, office):
    page = Browser(app, office["cw"]).text("/")
    assert 'href="/account/password"' in page and "Bytt passord" in page
    assert Browser(app).get("/account/password").status_code == 302  # anonymous: sign in
