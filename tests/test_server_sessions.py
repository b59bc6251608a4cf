"""Sessions kept on the server: signing out ends a session for good, a person can see where
they are signed in and sign out a browser or every browser, and sign-in is limited per
client address besides the per-account lock (issue 13, "Sessions, sign-in and fetching")."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from inbox.models import Role
from tests.staff_support import Browser
from tests.test_sessions import session_cookie, signed_in, stream_status, with_cookie


@pytest.fixture
def kari(app: Flask, factory: Any):  # type: ignore[no-untyped-def]
    return factory.user(factory.tenant(), Role.CASEWORKER, name="Kari Saksbehandler")


def test_a_cookie_copied_before_signing_out_is_worthless_after(app, kari) -> None:  # type: ignore[no-untyped-def]
    desk = Browser(app, kari)
    copied = session_cookie(app, desk)
    assert signed_in(with_cookie(app, copied))
    assert desk.post("/logout").status_code == 302
    thief = with_cookie(app, copied)
    assert not signed_in(thief)
    assert stream_status(thief) == 401


def test_the_sessions_page_lists_browsers_and_signs_one_out(app, kari) -> None:  # type: ignore[no-untyped-def]
    desk = Browser(app, kari)
    phone = Browser(app, kari)
    html = desk.get("/account/sessions").get_data(as_text=True)
    ids = sorted(int(x) for x in re.findall(r'data-session="(\d+)"', html))
    assert len(ids) == 2
    phone_id = ids[-1]  # signed in last
    resp = desk.post(f"/account/sessions/{phone_id}/end")
    assert resp.status_code == 303
    assert not signed_in(phone)
    assert signed_in(desk)
    html = desk.get("/account/sessions").get_data(as_text=True)
    assert re.findall(r'data-session="(\d+)"', html) == [str(ids[0])]


def test_someone_else_cannot_end_my_session(app, kari, factory) -> None:  # type: ignore[no-untyped-def]
    from inbox.extensions import db
    from inbox.models import StaffSession

    mine = Browser(app, kari)
    other_user = factory.user(factory.tenant(), Role.CASEWORKER)
    other = Browser(app, other_user)
    my_row = db.session.query(StaffSession).filter_by(user_id=kari.id).one()
    other.post(f"/account/sessions/{my_row.id}/end")
    assert signed_in(mine)


def test_sign_out_everywhere_ends_every_session(app, kari) -> None:  # type: ignore[no-untyped-def]
    desk, phone, laptop = Browser(app, kari), Browser(app, kari), Browser(app, kari)
    copied = session_cookie(app, laptop)
    resp = desk.post("/account/sessions/end-all")
    assert resp.status_code == 303 and "/login" in resp.headers["Location"]
    assert not signed_in(desk)
    assert not signed_in(phone)
    assert not signed_in(with_cookie(app, copied))
    # Signing in again works and starts a fresh session.
    assert desk.sign_in(kari.email, "correct horse battery").status_code == 302
    assert signed_in(desk)


def test_sign_in_is_limited_per_client_address_across_accounts(app, factory) -> None:  # type: ignore[no-untyped-def]
    app.config["LOGIN_LIMIT_PER_IP"] = "20/minute"
    tenant = factory.tenant()
    people = [factory.user(tenant, Role.CASEWORKER) for _ in range(8)]
    browser = Browser(app)
    browser.client.environ_base["REMOTE_ADDR"] = "10.13.2.1"
    answers = []
    for i in range(40):
        who = people[i % 7]
        answers.append(browser.sign_in(who.email, f"wrong guess {i}").status_code)
    assert 429 in answers
    first = answers.index(429)
    assert first <= 25 and set(answers[first:]) == {429}
    # Each account saw at most 3 guesses (under its own lock of 5): only the address limit
    # stopped this. Another address is not affected.
    other = Browser(app)
    other.client.environ_base["REMOTE_ADDR"] = "10.13.2.2"
    assert other.sign_in(people[7].email, "correct horse battery").status_code == 302


def test_staff_pages_are_never_cached_and_restrict_base_and_form_targets(app, kari) -> None:  # type: ignore[no-untyped-def]
    desk = Browser(app, kari)
    for path in ("/", "/account/sessions", "/account/password", "/login"):
        resp = desk.get(path)
        assert resp.status_code in (200, 302), path
        assert "no-store" in resp.headers.get("Cache-Control", ""), path
        csp = resp.headers["Content-Security-Policy"]
        assert "base-uri 'none'" in csp and "form-action 'self'" in csp, path
    # Static files and the public widget script keep their own caching.
    assert "no-store" not in desk.get("/widget.js").headers.get("Cache-Control", "")
