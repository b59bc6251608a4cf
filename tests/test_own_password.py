"""Every signed-in user changes their own password; a temporary one must be replaced first."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from inbox.extensions import db
from inbox.models import AuditEntry, ChannelKind, Message, Role
from inbox.models.base import utcnow
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


# --- guessing the current password -----------------------------------------------------


def wrong_current(browser: Browser) -> Any:
    new = "et helt nytt passord"
    return browser.post(
        "/account/password", data={"current": "gjetning", "new": new, "repeat": new}
    )


def test_guessing_the_current_password_locks_the_account_and_ends_the_session(app, office):
    kari = office["cw"]
    limit = app.config["LOGIN_MAX_FAILURES"]
    stolen, own = Browser(app, kari), Browser(app, kari)
    old_hash = kari.password_hash
    for _ in range(limit - 1):
        resp = wrong_current(stolen)
        assert resp.status_code == 400
        assert "nåværende passordet er feil" in resp.get_data(as_text=True)
    assert stolen.get("/").status_code == 200  # not locked yet
    resp = wrong_current(stolen)
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/login")
    page = stolen.text(resp.headers["Location"])
    minutes = app.config["LOGIN_LOCKOUT_MINUTES"]
    assert f"Kontoen er låst i {minutes} minutter" in page
    assert "/login" in stolen.get("/").headers["Location"]  # that session is over
    assert stolen.post("/account/password", data={}).status_code == 302
    db.session.refresh(kari)
    assert kari.password_hash == old_hash and kari.locked_until is not None
    locked = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "login.locked"))
    assert [(e.object_id, e.actor_label) for e in locked] == [(str(kari.id), "system")]
    # The right password is refused at sign-in until the lock runs out.
    resp = Browser(app).sign_in(kari.email, PASSWORD)
    assert resp.status_code == 400 and "Kontoen er låst" in resp.get_data(as_text=True)
    # Her other session is not the guesser's: it stays, but cannot change the password
    # while the lock lasts, not even with the right one.
    assert own.get("/").status_code == 200
    new = "et helt nytt passord"
    resp = own.post("/account/password", data={"current": PASSWORD, "new": new, "repeat": new})
    assert resp.status_code == 400 and "Kontoen er låst" in resp.get_data(as_text=True)
    db.session.refresh(kari)
    assert kari.password_hash == old_hash
    # When the lock has run out she signs in as usual.
    kari.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert Browser(app).sign_in(kari.email, PASSWORD).status_code == 302


def test_the_password_page_and_sign_in_share_one_failure_count(app, office):
    kari = office["cw"]
    limit = app.config["LOGIN_MAX_FAILURES"]
    browser = Browser(app, kari)
    for _ in range(limit - 1):
        assert Browser(app).sign_in(kari.email, "feil passord").status_code == 400
    resp = wrong_current(browser)
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/login")
    db.session.refresh(kari)
    assert kari.locked_until is not None and "login.locked" in audit_actions()


def test_the_right_current_password_starts_the_count_again(app, office):
    kari = office["cw"]
    limit = app.config["LOGIN_MAX_FAILURES"]
    browser = Browser(app, kari)
    for _ in range(limit - 1):
        assert wrong_current(browser).status_code == 400
    db.session.refresh(kari)
    assert kari.failed_logins == limit - 1
    # Right current password, but the new one is refused: the guesses are forgiven anyway.
    resp = browser.post("/account/password", data={"current": PASSWORD, "new": "kort"})
    assert resp.status_code == 400 and "ikke like" in resp.get_data(as_text=True)
    db.session.refresh(kari)
    assert kari.failed_logins == 0
    for _ in range(limit - 1):
        assert wrong_current(browser).status_code == 400
    new = "et helt nytt passord"
    resp = browser.post("/account/password", data={"current": PASSWORD, "new": new, "repeat": new})
    assert resp.status_code == 303
    db.session.refresh(kari)
    assert kari.failed_logins == 0 and kari.locked_until is None
    assert "login.locked" not in audit_actions()
