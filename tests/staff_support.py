"""Signed-in test clients for tests where several people use the pages in turn."""

from __future__ import annotations

from typing import Any

from flask import Flask, g

from inbox.models import User
from tests.factories import PASSWORD


def new_request() -> None:
    """Requests in a test share the test's app context; forget what Flask-Login and
    Flask-Babel cache there, as a new request in a real server would."""
    from flask_babel import refresh

    g.pop("_login_user", None)
    refresh()


class Browser:
    """One person's test client (own cookies), signed in when given a user."""

    def __init__(self, app: Flask, user: User | None = None, password: str = PASSWORD) -> None:
        self.client = app.test_client()
        if user is not None:
            resp = self.sign_in(user.email, password)
            assert resp.status_code == 302, resp.get_data(as_text=True)

    def sign_in(self, email: str, password: str) -> Any:
        return self.post("/login", data={"email": email, "password": password})

    def get(self, url: str, **kw: Any) -> Any:
        new_request()
        return self.client.get(url, **kw)

    def post(self, url: str, **kw: Any) -> Any:
        new_request()
        return self.client.post(url, **kw)

    def text(self, url: str) -> str:
        resp = self.get(url)
        assert resp.status_code == 200, (url, resp.status_code)
        return resp.get_data(as_text=True)
