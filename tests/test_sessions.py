"""A session lasts only as long as the password it was signed in with: changing one's own
password ends the account's other sessions (not this one), an admin's reset and disabling an
account end all of them, and an old session cookie cannot be replayed."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from inbox.extensions import db
from inbox.models import Role
from tests.factories import PASSWORD
from tests.staff_support import Browser

NEW = "et helt nytt og langt passord"


@pytest.fixture
def office(app: Flask, factory: Any) -> dict[str, Any]:
    tenant = factory.tenant(name="Eksempel kommune")
    return {
        "tenant": tenant,
        "admin": factory.user(tenant, Role.ADMIN, name="Ada Admin"),
        "cw": factory.user(tenant, Role.CASEWORKER, name="Kari Saksbehandler"),
    }


def signed_in(browser: Browser) -> bool:
    resp = browser.get("/")
    if resp.status_code == 200:
        return True
    assert resp.status_code == 302 and "/login" in resp.headers["Location"], resp.status_code
    return False


def stream_status(browser: Browser) -> int:
    resp = browser.get("/live/events")
    resp.close()  # only the answer matters, not the stream
    return resp.status_code


def session_cookie(app: Flask, browser: Browser) -> str:
    cookie = browser.client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    return cookie.value


def with_cookie(app: Flask, value: str) -> Browser:
    """A new browser that presents a copied session cookie."""
    browser = Browser(app)
    browser.client.set_cookie(app.config["SESSION_COOKIE_NAME"], value)
    return browser


def change_password(browser: Browser, current: str = PASSWORD, new: str = NEW) -> Any:
    return browser.post("/account/password", data={"current": current, "new": new, "repeat": new})


def test_changing_ones_password_ends_the_other_sessions_and_keeps_this_one(app, office):
    kari = office["cw"]
    desk, phone = Browser(app, kari), Browser(app, kari)
    assert signed_in(desk) and signed_in(phone)
    resp = change_password(desk)
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/")
    assert "Passordet ditt er endret." in desk.text("/")
    # The phone was signed in with the old password: its next request finds no session,
    # and its real-time stream is refused (the page then falls back to reloading).
    assert not signed_in(phone)
    assert stream_status(phone) == 401
    assert phone.post("/logout").status_code == 302  # to the sign-in page, nothing to end
    # The session that changed the password goes on, stream included.
    assert signed_in(desk) and stream_status(desk) == 200
    assert desk.get("/account/password").status_code == 200
    # The phone signs in again with the new password.
    assert phone.sign_in(kari.email, NEW).status_code == 302
    assert signed_in(phone) and signed_in(desk)


def test_a_session_cookie_from_before_a_password_change_cannot_be_replayed(app, office):
    kari = office["cw"]
    desk, other = Browser(app, kari), Browser(app, kari)
    old_desk, old_other = session_cookie(app, desk), session_cookie(app, other)
    assert signed_in(with_cookie(app, old_desk))  # a copy works while the password stands
    assert change_password(desk).status_code == 303
    assert signed_in(desk)
    # Neither the changing session's own earlier cookie nor the other session's works now.
    for old in (old_desk, old_other):
        replay = with_cookie(app, old)
        assert not signed_in(replay)
        assert stream_status(replay) == 401
        assert replay.post("/account/password", data={}).status_code == 302
    # Changing it back does not bring the old sessions back either: the token follows the
    # hash, and each hash has its own salt.
    assert change_password(desk, NEW, PASSWORD).status_code == 303
    assert signed_in(desk)
    assert not signed_in(with_cookie(app, old_desk))
    assert not signed_in(with_cookie(app, old_other))


def test_the_session_cookie_carries_no_part_of_the_password_hash(app, office):
    kari = office["cw"]
    browser = Browser(app, kari)
    serializer = app.session_interface.get_signing_serializer(app)
    data = serializer.loads(session_cookie(app, browser))
    assert re.fullmatch(rf"{kari.id}:[0-9a-f]{{32}}", data["_user_id"])
    db.session.refresh(kari)
    salt_and_hash = kari.password_hash.rsplit("$", 2)[-2:]
    cookie_text = str(data)
    assert kari.password_hash not in cookie_text
    assert not any(part in cookie_text for part in salt_and_hash)


def test_a_session_naming_only_the_account_id_is_not_accepted(app, office):
    """Sessions from before tokens (a plain id), and made-up tokens, are no sessions."""
    kari = office["cw"]
    zeros, odd = "0" * 32, "ø" * 32
    for forged in (
        str(kari.id),
        f"{kari.id}:",
        f"{kari.id}:{zeros}",
        f"{kari.id}:{odd}",
        "x:y",
        f"²:{zeros}",
        "",
    ):
        browser = Browser(app, kari)  # a real session, so only the account it names differs
        with browser.client.session_transaction() as sess:
            sess["_user_id"] = forged
        assert not signed_in(browser), forged
        assert stream_status(browser) == 401, forged


def test_an_admin_reset_ends_every_session_of_the_account(app, office):
    kari = office["cw"]
    desk, phone = Browser(app, kari), Browser(app, kari)
    admin = Browser(app, office["admin"])
    resp = admin.post(f"/admin/staff/{office['tenant'].id}/people/{kari.id}/password")
    assert resp.status_code == 200
    assert not signed_in(desk) and not signed_in(phone)
    assert stream_status(desk) == 401 and stream_status(phone) == 401
    assert signed_in(admin)  # the admin's own session is untouched


def test_disabling_an_account_ends_every_session_of_it(app, office):
    kari = office["cw"]
    desk, phone = Browser(app, kari), Browser(app, kari)
    old = session_cookie(app, desk)
    admin = Browser(app, office["admin"])
    resp = admin.post(f"/admin/staff/{office['tenant'].id}/people/{kari.id}/disable")
    assert resp.status_code == 303
    for browser in (desk, phone, with_cookie(app, old)):
        assert not signed_in(browser)
        assert stream_status(browser) == 401
    assert signed_in(admin)


def test_a_rehash_at_sign_in_keeps_the_new_session(app, office):
    """When the argon2 cost changes, the hash is replaced at the next sign-in; the session
    that signed in (with the new hash's token) is valid, older sessions end this once."""
    kari = office["cw"]
    older = Browser(app, kari)
    old_hash = kari.password_hash
    app.config["PASSWORD_HASH_TIME_COST"] = 2
    newer = Browser(app, kari)
    db.session.refresh(kari)
    assert kari.password_hash != old_hash and "t=2" in kari.password_hash
    assert signed_in(newer) and stream_status(newer) == 200
    assert not signed_in(older)
    assert older.sign_in(kari.email, PASSWORD).status_code == 302  # no rehash this time
    assert signed_in(older) and signed_in(newer)
