"""Logs carry no citizen's text, no phone number and no provider secret, through the real paths
that write them: a database error in a webhook, a reply sent through the Twilio library, and
the access logs of werkzeug and gunicorn for Meta's verify handshake."""

from __future__ import annotations

import logging
import threading
from types import SimpleNamespace

import pytest
from sqlalchemy import text
from werkzeug.serving import make_server

from inbox.extensions import db
from inbox.services import outbound
from tests.fakes.facebook import FakeGraph, Page
from tests.sms_support import CITIZEN, sms_conversation, sms_setup

SECRET_TEXT = "Barnevernet har ikke svart meg om gutten min"


def _refuse_inserts_into_message() -> None:
    """The database refuses new messages (as a full disk or a broken constraint would)."""
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(
                text(
                    "CREATE FUNCTION privacy_test_refuse() RETURNS trigger AS $$ BEGIN "
                    "RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER privacy_test_refuse BEFORE INSERT ON message "
                    "FOR EACH ROW EXECUTE FUNCTION privacy_test_refuse()"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER privacy_test_refuse BEFORE INSERT ON message "
                    "BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )


def _allow_inserts_again() -> None:
    db.session.rollback()
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("DROP TRIGGER IF EXISTS privacy_test_refuse ON message"))
            conn.execute(text("DROP FUNCTION IF EXISTS privacy_test_refuse()"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS privacy_test_refuse"))


def test_a_database_error_in_a_webhook_logs_no_citizen_text_or_number(
    app, factory, monkeypatch, caplog
):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # log and answer 500, as in production
    with sms_setup(app, factory, monkeypatch) as sms:
        _refuse_inserts_into_message()
        try:
            caplog.set_level(logging.DEBUG)
            # The webhook stores the raw event; the inbound worker's insert is refused.
            resp = sms.inbound(SECRET_TEXT)
        finally:
            _allow_inserts_again()
    assert resp.status_code == 200
    logged = caplog.text
    assert "refused" in logged  # the error itself is there, for whoever must mend it
    assert SECRET_TEXT not in logged
    assert CITIZEN not in logged and CITIZEN[3:] not in logged


def test_twilio_requests_are_not_logged_with_the_citizens_number(app, factory, monkeypatch, caplog):
    """A reply whose answer was lost is looked up at Twilio by the citizen's number (a GET
    with To=... in the query), which the Twilio library logs at INFO."""
    reply_text = "Vi ringer deg i morgen om saken med gutten din."
    with sms_conversation(app, factory, monkeypatch, "Hei") as sms:
        caplog.set_level(logging.DEBUG)
        msg = sms.reply(reply_text)
        sms.fake.lose_next_answer("drop")
        assert outbound.send(msg.id)[0] == "retry"
        outbound.send(msg.id)
        [sent] = sms.fake.sent()
        assert any(r.method == "GET" for r in sms.fake.requests)  # the look-up happened
    assert sent["to"] == CITIZEN
    logged = caplog.text
    assert CITIZEN not in logged and CITIZEN[3:] not in logged
    assert "%2B47" + CITIZEN[3:] not in logged
    assert reply_text not in logged


@pytest.fixture
def fb_page(factory, monkeypatch):
    with FakeGraph(token="page-token-1", app_secret="app-secret-1") as fake:
        yield Page(factory, factory.tenant(), fake, monkeypatch, "104857600123456")


def test_the_verify_token_is_not_in_werkzeugs_access_log(app, fb_page, caplog):
    import urllib.request

    caplog.set_level(logging.INFO)
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = (
            f"http://127.0.0.1:{server.port}/webhooks/facebook/{fb_page.page_id}"
            "?hub.mode=subscribe&hub.verify_token=verify-me-please&hub.challenge=42"
        )
        with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 (loopback)
            assert resp.read() == b"42"
    finally:
        server.shutdown()
        thread.join(5)
    access = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any("/webhooks/facebook/" in line for line in access)
    assert all("verify-me-please" not in line for line in access)
    assert "verify-me-please" not in caplog.text


def test_the_verify_token_is_not_in_gunicorns_access_log(app, tmp_path):
    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    log_file = tmp_path / "access.log"
    cfg = Config()
    cfg.set("accesslog", str(log_file))
    logger = Logger(cfg)
    query = "hub.mode=subscribe&hub.verify_token=verify-me-please&hub.challenge=42"
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/webhooks/facebook/1?{query}",
        "PATH_INFO": "/webhooks/facebook/1",
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
    }
    resp = SimpleNamespace(status="200 OK", response_length=2, headers=[], sent=2)
    req = SimpleNamespace(headers=[])
    from datetime import timedelta

    logger.access(resp, req, environ, timedelta(milliseconds=3))
    for handler in logger.access_log.handlers:
        handler.flush()
    line = log_file.read_text()
    assert "/webhooks/facebook/1" in line
    assert "verify-me-please" not in line
