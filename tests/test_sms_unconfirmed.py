"""Replies whose send Twilio never confirmed: settled with Twilio, never texted twice.

Twilio's Messages API has no idempotency key. The fake creates the message and then loses the
answer (connection dropped, read timeout, a gateway's 502), as happens in production when the
request reached Twilio but the response did not reach us.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
import requests
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
)

from channels.interfaces import UNCONFIRMED
from channels.twilio_sms import client as twilio_client
from channels.twilio_sms import reconcile
from channels.twilio_sms.connector import _never_sent
from channels.twilio_sms.errors import is_ambiguous
from inbox.extensions import db
from inbox.models import DeliveryStatus, Message
from inbox.models.base import utcnow
from inbox.services import outbound
from tests.sms_support import CITIZEN, sms_conversation


@pytest.fixture
def sms(app, factory, monkeypatch):
    with sms_conversation(app, factory, monkeypatch, "Hei, får jeg svar på søknaden snart?") as s:
        yield s


def reply(sms, body="Ja, i løpet av uka."):
    return sms.reply(body)


def fresh(msg) -> Message:
    db.session.expire_all()
    return db.session.get(Message, msg.id)


def creates(sms) -> int:
    return len([r for r in sms.fake.requests if r.method == "POST"])


def lists(sms) -> list:
    return [r for r in sms.fake.requests if r.method == "GET" and r.path.endswith("Messages.json")]


def clock_ahead(monkeypatch, seconds: float) -> None:
    """The reconciler's clock, `seconds` later than now: the settle wait has passed."""
    monkeypatch.setattr(reconcile, "utcnow", lambda: utcnow() + timedelta(seconds=seconds))


@pytest.mark.parametrize(
    ("lost", "twilio_status", "ours"),
    [
        ("drop", None, DeliveryStatus.SENDING),  # still queued at Twilio: no date_sent yet
        ("gateway", "sent", DeliveryStatus.SENT),
        ("timeout", "delivered", DeliveryStatus.DELIVERED),
        ("garbled", "sent", DeliveryStatus.SENT),
    ],
)
def test_lost_answer_is_sent_once_and_gets_twilios_sid(sms, monkeypatch, lost, twilio_status, ours):
    monkeypatch.setattr(twilio_client, "TIMEOUT_SECONDS", 2)  # "timeout": the client gives up
    msg = reply(sms)
    sms.fake.lose_next_answer(lost)
    assert outbound.send(msg.id) == ("retry", 10)
    [sent] = sms.fake.sent()  # Twilio has it, we do not know
    out = fresh(msg)
    assert (out.delivery_status, out.provider_message_id) == (DeliveryStatus.QUEUED, None)
    assert "may have been sent" in out.error_message
    assert UNCONFIRMED in out.meta
    if twilio_status:
        sms.fake.advance(sent["sid"], twilio_status)

    assert outbound.send(msg.id) == (str(ours), None)
    assert creates(sms) == 1 and len(sms.fake.sent()) == 1  # the citizen got it once
    out = fresh(msg)
    assert (out.provider_message_id, out.delivery_status) == (sent["sid"], ours)
    assert out.error_code is None and out.error_message is None
    assert UNCONFIRMED not in out.meta
    assert outbound.send(msg.id) == ("skipped", None)


def test_found_by_date_sent_when_newer_messages_fill_the_newest_page(sms, monkeypatch):
    monkeypatch.setattr(reconcile, "RECENT", 1)
    msg = reply(sms)
    sms.fake.lose_next_answer("drop")
    outbound.send(msg.id)
    [sent] = sms.fake.sent()
    sms.fake.advance(sent["sid"], "delivered")
    sms.fake.add_outbound(sms.account.external_id, CITIZEN, "Noe annet", datetime.now(UTC))
    assert outbound.send(msg.id) == ("delivered", None)
    assert fresh(msg).provider_message_id == sent["sid"]
    queries = [r.query for r in lists(sms)]
    assert [q.get("DateSent>") is not None for q in queries] == [True, False]
    assert all(q["To"] == [CITIZEN] and q["From"] == ["+4740000001"] for q in queries)


def test_connect_failure_is_retried_and_sent_once(sms):
    url = sms.account.config["api_base_url"]
    sms.account.config = {**sms.account.config, "api_base_url": "http://127.0.0.1:9"}
    db.session.commit()
    msg = reply(sms)
    assert outbound.send(msg.id) == ("retry", 10)  # connection refused: nothing reached Twilio
    out = fresh(msg)
    assert "unreachable" in out.error_message and UNCONFIRMED not in out.meta
    sms.account.config = {**sms.account.config, "api_base_url": url}
    db.session.commit()
    assert outbound.send(msg.id) == ("sending", None)
    assert len(sms.fake.sent()) == 1 and lists(sms) == []  # nothing to settle first
    assert fresh(msg).provider_message_id == sms.fake.sent()[0]["sid"]


def test_failed_lookup_keeps_it_queued_until_twilio_can_be_asked(sms):
    msg = reply(sms)
    sms.fake.lose_next_answer("drop")
    outbound.send(msg.id)
    [sent] = sms.fake.sent()

    sms.fake.fail_next(1, 500)  # the list request fails
    assert outbound.send(msg.id) == ("retry", 20)
    out = fresh(msg)
    assert out.delivery_status is DeliveryStatus.QUEUED
    assert "could not be asked" in out.error_message
    # Not given up either: it may have reached the citizen, "failed" would be untrue.
    out.send_attempts = outbound.MAX_ATTEMPTS
    url = sms.account.config["api_base_url"]
    sms.account.config = {**sms.account.config, "api_base_url": "http://127.0.0.1:9"}
    db.session.commit()
    assert outbound.send(msg.id)[0] == "retry"
    assert fresh(msg).delivery_status is DeliveryStatus.QUEUED
    assert creates(sms) == 1  # never sent blind

    sms.account.config = {**sms.account.config, "api_base_url": url}
    db.session.commit()
    assert outbound.send(msg.id) == ("sending", None)
    assert creates(sms) == 1
    assert fresh(msg).provider_message_id == sent["sid"]


def test_send_again_only_once_twilio_has_had_time_to_show_it(sms, monkeypatch):
    msg = reply(sms)
    sms.fake.fail_next(1, 502)  # a gateway error; this time the request never got to Twilio
    assert outbound.send(msg.id) == ("retry", 10)
    outcome, wait = outbound.send(msg.id)  # Twilio shows nothing, but it is too soon to tell
    assert outcome == "retry" and 0 < wait <= reconcile.SETTLE.total_seconds()
    assert creates(sms) == 1 and sms.fake.sent() == []
    assert fresh(msg).delivery_status is DeliveryStatus.QUEUED

    clock_ahead(monkeypatch, reconcile.SETTLE.total_seconds())
    assert outbound.send(msg.id) == ("sending", None)
    [sent] = sms.fake.sent()
    out = fresh(msg)
    assert out.provider_message_id == sent["sid"] and UNCONFIRMED not in out.meta


def test_same_text_sent_earlier_in_the_conversation_is_not_taken_for_this_one(sms):
    first = reply(sms, "OK")
    assert outbound.send(first.id) == ("sending", None)
    second = reply(sms, "OK")  # the caseworker really means to say it twice
    sms.fake.lose_next_answer("drop")
    outbound.send(second.id)
    assert outbound.send(second.id) == ("sending", None)
    one, two = sms.fake.sent()
    assert fresh(first).provider_message_id == one["sid"]
    assert fresh(second).provider_message_id == two["sid"]


def test_same_text_that_never_reached_twilio_is_sent_again(sms, monkeypatch):
    first = reply(sms, "OK")
    outbound.send(first.id)
    second = reply(sms, "OK")
    sms.fake.fail_next(1, 502)  # not created: Twilio has only the first "OK"
    outbound.send(second.id)
    clock_ahead(monkeypatch, reconcile.SETTLE.total_seconds())
    assert outbound.send(second.id) == ("sending", None)
    one, two = sms.fake.sent()
    assert (fresh(first).provider_message_id, fresh(second).provider_message_id) == (
        one["sid"],
        two["sid"],
    )


def test_same_text_from_before_the_first_attempt_is_not_ours(sms, monkeypatch):
    earlier = datetime.now(UTC) - timedelta(minutes=1)
    other = sms.fake.add_outbound(sms.account.external_id, CITIZEN, "OK", created=earlier)
    msg = reply(sms, "OK")
    sms.fake.fail_next(1, 502)
    outbound.send(msg.id)
    clock_ahead(monkeypatch, reconcile.SETTLE.total_seconds())
    assert outbound.send(msg.id) == ("sending", None)
    [_, new] = sms.fake.sent()
    assert fresh(msg).provider_message_id == new["sid"] != other["sid"]


def test_lost_answer_through_a_messaging_service(sms):
    service = "MG" + secrets.token_hex(16)
    sms.account.config = {**sms.account.config, "messaging_service_sid": service}
    db.session.commit()
    msg = reply(sms)
    sms.fake.lose_next_answer("gateway")
    outbound.send(msg.id)
    assert outbound.send(msg.id) == ("sending", None)  # Twilio: "accepted"
    [sent] = sms.fake.sent()
    assert fresh(msg).provider_message_id == sent["sid"]
    assert all("From" not in r.query for r in lists(sms))  # the service picks the sender


def test_twilio_could_not_deliver_the_message_it_has(sms):
    msg = reply(sms)
    sms.fake.lose_next_answer("drop")
    outbound.send(msg.id)
    [sent] = sms.fake.sent()
    sms.fake.advance(sent["sid"], "undelivered", error_code=30003)
    assert outbound.send(msg.id) == ("undelivered", None)
    out = fresh(msg)
    assert (out.provider_message_id, out.error_code) == (sent["sid"], "30003")
    assert "utenfor dekning" in out.error_message
    assert creates(sms) == 1


def test_stop_after_a_lost_answer_does_not_hide_what_was_sent(sms):
    msg = reply(sms)
    sms.fake.lose_next_answer("drop")
    outbound.send(msg.id)
    sms.inbound("STOPP")
    assert outbound.send(msg.id) == ("sending", None)  # it went out before the STOP
    assert fresh(msg).provider_message_id == sms.fake.sent()[0]["sid"]


def test_callback_before_the_retry_settles_it(sms):
    msg = reply(sms)
    sms.fake.lose_next_answer("drop")
    outbound.send(msg.id)
    [sent] = sms.fake.sent()
    twin = Message(provider_message_id=sent["sid"], id=msg.id)
    assert sms.status(twin, "sent").status_code == 200
    out = fresh(msg)
    assert (out.provider_message_id, out.delivery_status) == (sent["sid"], DeliveryStatus.SENT)
    assert UNCONFIRMED not in out.meta
    assert outbound.send(msg.id) == ("skipped", None)
    assert creates(sms) == 1


def test_which_failures_may_have_left_twilio_with_the_message():
    # (HTTP status, code as the twilio library gives it: the status when the body had none)
    assert is_ambiguous(502, 502) and is_ambiguous(504, 504)  # a proxy's page
    assert is_ambiguous(500, 20500)  # Twilio's internal error
    assert not is_ambiguous(503, 20503) and not is_ambiguous(429, 20429)  # Twilio refused
    assert not is_ambiguous(400, 21211) and not is_ambiguous(429, 429)

    def failed(reason):
        return requests.ConnectionError(MaxRetryError(None, "/Messages.json", reason))

    assert _never_sent(failed(NewConnectionError(None, "[Errno 111] Connection refused")))
    assert _never_sent(failed(NameResolutionError("api.twilio.com", None, OSError("-2"))))
    assert _never_sent(requests.ConnectTimeout(MaxRetryError(None, "/", ConnectTimeoutError())))
    assert not _never_sent(requests.ReadTimeout("read timed out"))
    dropped = ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))
    assert not _never_sent(requests.ConnectionError(dropped))
    assert not _never_sent(OSError("broken pipe"))


def test_callback_that_beats_the_lost_answer_is_not_undone(sms):
    # Twilio usually reports "sent" within a second, perhaps while the worker still waits for
    # the answer to its create. That report must stand when the answer is then lost.
    msg = reply(sms)
    answers = []
    sms.fake.on_create = lambda record: answers.append(
        sms.status(Message(provider_message_id=record["sid"], id=msg.id), "sent").status_code
    )
    sms.fake.lose_next_answer("drop")  # after the callback has been answered
    assert outbound.send(msg.id) == ("sent", None)
    [sent] = sms.fake.sent()
    assert answers == [200]
    out = fresh(msg)
    assert (out.provider_message_id, out.delivery_status) == (sent["sid"], DeliveryStatus.SENT)
    assert UNCONFIRMED not in out.meta
    assert outbound.send(msg.id) == ("skipped", None)
    assert creates(sms) == 1


def test_delivery_after_a_lost_answer_shows_no_stale_failure(sms):
    # The first attempt's answer is lost (its error is kept while the reply is being settled);
    # then Twilio reports the message delivered. "Ikke levert" next to "levert" would be false.
    msg = reply(sms)
    sms.fake.lose_next_answer("drop")
    outbound.send(msg.id)
    assert fresh(msg).error_message  # what the caseworker sees while it is uncertain
    [sent] = sms.fake.sent()
    twin = Message(provider_message_id=sent["sid"], id=msg.id)
    assert sms.status(twin, "delivered").status_code == 200
    out = fresh(msg)
    assert out.delivery_status is DeliveryStatus.DELIVERED
    assert (out.error_code, out.error_message) == (None, None)
    sms.sign_in_caseworker()
    page = sms.client.get(f"/c/{sms.conv.id}").get_data(as_text=True)
    assert "msg__error" not in page
