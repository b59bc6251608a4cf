"""Replies by SMS: Messages.json create against the fake, retries, errors, status callbacks."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select

from channels.interfaces import ChannelConnector
from channels.registry import get_connector
from channels.twilio_sms import limits
from inbox.extensions import db
from inbox.models import ChannelKind, DeliveryStatus, Direction, Message
from inbox.services import outbound
from tests.sms_support import CITIZEN, PUBLIC, sms_conversation


@pytest.fixture
def sms(app, factory, monkeypatch):
    with sms_conversation(app, factory, monkeypatch, "Hei, når åpner biblioteket?") as s:
        yield s


def reply(sms, body="Klokka 10 i morgen."):
    return sms.reply(body)


def outgoing(sms) -> Message:
    db.session.expire_all()
    return db.session.scalars(select(Message).where(Message.direction == Direction.OUTBOUND)).one()


def test_reply_goes_out_with_status_callback_to_the_public_url(sms, tasks):
    msg = reply(sms)
    tasks.run_all()
    [sent] = sms.fake.sent()
    assert (sent["to"], sent["from"], sent["body"]) == (CITIZEN, "+4740000001", msg.body)
    assert sent["status_callback"] == f"{PUBLIC}/webhooks/twilio/{sms.account.id}/status?m={msg.id}"
    out = outgoing(sms)
    assert out.provider_message_id == sent["sid"]
    assert out.delivery_status is DeliveryStatus.SENDING  # Twilio said "queued"


def test_messaging_service_is_used_when_configured(sms, tasks):
    service = "MG" + secrets.token_hex(16)
    sms.account.config = {**sms.account.config, "messaging_service_sid": service}
    db.session.commit()
    reply(sms)
    tasks.run_all()
    [sent] = sms.fake.sent()
    assert sent["messaging_service_sid"] == service and sent["from"] is None


def test_twilio_unavailable_then_success_sends_one_sms(sms):
    # Twilio's own 503 (error 20503) refuses the request before doing anything with it.
    # A 5xx without Twilio's error body may come after Twilio made the message: see
    # test_sms_unconfirmed.py.
    sms.fake.reject[CITIZEN] = (503, 20503, "Service Unavailable")
    msg = reply(sms)
    # What the send task does on each delivery; Celery schedules the retry after the delay.
    assert outbound.send(msg.id) == ("retry", 10)
    assert outgoing(sms).error_message.startswith("Twilio 503")
    del sms.fake.reject[CITIZEN]
    assert outbound.send(msg.id)[0] == "sending"
    creates = [r for r in sms.fake.requests if r.method == "POST"]
    assert len(creates) == 2  # the 503 and the retry
    assert len(sms.fake.sent()) == 1
    out = outgoing(sms)
    assert out.provider_message_id == sms.fake.sent()[0]["sid"]
    assert out.error_message is None  # the 503 no longer applies


def test_rate_limit_is_transient_and_backs_off(sms):
    sms.fake.reject[CITIZEN] = (429, 20429, "Too Many Requests")
    msg = reply(sms)
    assert outbound.send(msg.id) == ("retry", 10)
    assert outgoing(sms).delivery_status is DeliveryStatus.QUEUED
    del sms.fake.reject[CITIZEN]
    outbound.send(msg.id)
    assert len(sms.fake.sent()) == 1


def test_unreachable_provider_is_transient(sms):
    sms.account.config = {**sms.account.config, "api_base_url": "http://127.0.0.1:9"}
    db.session.commit()
    msg = reply(sms)
    outcome, delay = outbound.send(msg.id)
    assert (outcome, delay) == ("retry", 10)
    assert "unreachable" in outgoing(sms).error_message


def test_permanent_errors_are_explained_and_never_retried(sms, tasks):
    cases = [(21211, "ugyldig"), (21610, "reservert seg mot SMS"), (21614, "fasttelefon")]
    for code, words in cases:
        sms.fake.reject[CITIZEN] = (400, code, "Twilio says no")
        msg = reply(sms)
        tasks.run_all()
        db.session.expire_all()
        out = db.session.get(Message, msg.id)
        assert (out.delivery_status, out.error_code) == (DeliveryStatus.FAILED, str(code))
        assert words in out.error_message
        assert tasks.sent == []
    assert len([r for r in sms.fake.requests if r.method == "POST"]) == 3  # one try each
    assert sms.fake.sent() == []


def test_caseworker_sees_failure_reason_in_the_conversation(sms, tasks, login):
    sms.fake.reject[CITIZEN] = (400, 21614, "not SMS-capable")
    reply(sms)
    tasks.run_all()
    login(sms.caseworker)
    page = sms.client.get(f"/c/{sms.conv.id}").get_data(as_text=True)
    assert "kan ikke ta imot SMS" in page


def test_status_callbacks_out_of_order_never_move_backwards(sms, tasks):
    reply(sms)
    tasks.run_all()
    out = outgoing(sms)
    assert sms.status(out, "delivered").status_code == 200
    assert sms.status(out, "sent").status_code == 200  # late, must not undo "delivered"
    assert sms.status(out, "queued").status_code == 200
    assert outgoing(sms).delivery_status is DeliveryStatus.DELIVERED


def test_failed_callback_stores_code_and_explanation(sms, tasks):
    reply(sms)
    tasks.run_all()
    out = outgoing(sms)
    sms.status(out, "sent")
    sms.status(out, "undelivered", ErrorCode="30003")
    sms.status(out, "delivered")  # cannot resurrect an undelivered message
    out = outgoing(sms)
    assert out.delivery_status is DeliveryStatus.UNDELIVERED
    assert out.error_code == "30003"
    assert "utenfor dekning" in out.error_message


def test_failed_with_21610_records_the_opt_out(app, sms, tasks):
    reply(sms)
    tasks.run_all()
    sms.status(outgoing(sms), "failed", ErrorCode="21610")
    connector = get_connector(ChannelKind.SMS)
    with app.test_request_context():  # the reason is shown in the caseworker's language
        assert "STOPP" in connector.cannot_reply_reason(sms.conv)


def test_callback_before_the_worker_saved_the_sid_finds_the_message(sms):
    # E.g. the create request timed out after Twilio accepted it: the callback's signed URL
    # names our message, which then counts as sent and is not sent a second time.
    msg = reply(sms)
    twin = Message(provider_message_id="SM" + "e" * 32, id=msg.id)
    assert sms.status(twin, "sent").status_code == 200
    out = outgoing(sms)
    assert (out.provider_message_id, out.delivery_status) == ("SM" + "e" * 32, DeliveryStatus.SENT)
    assert outbound.send(msg.id) == ("skipped", None)
    assert sms.fake.sent() == []


def test_unsigned_status_callback_is_refused(sms, tasks):
    reply(sms)
    tasks.run_all()
    out = outgoing(sms)
    resp = sms.client.post(
        f"/webhooks/twilio/{sms.account.id}/status?m={out.id}",
        data={"MessageSid": out.provider_message_id, "MessageStatus": "failed"},
    )
    assert resp.status_code == 403
    assert outgoing(sms).delivery_status is DeliveryStatus.SENDING


def test_stop_after_reply_was_queued_blocks_the_send(sms, tasks):
    reply(sms)
    sms.inbound("Stopp")
    tasks.run_all()
    assert sms.fake.sent() == []
    out = outgoing(sms)
    assert out.delivery_status is DeliveryStatus.FAILED and out.error_code == "21610"


def test_connector_satisfies_the_channel_contract():
    connector = get_connector(ChannelKind.SMS)
    assert isinstance(connector, ChannelConnector)
    assert connector.kind is ChannelKind.SMS


def test_reply_limits_for_the_reply_box(sms):
    info = get_connector(ChannelKind.SMS).reply_limits(sms.conv)
    assert info["max_chars"] == 1600
    assert limits("Hei på deg, Åse!").as_dict()["segments"] == 1
    assert (limits("x" * 161).segments, limits("x" * 161).encoding) == (2, "GSM-7")
    assert (limits("Hei 🙂").encoding, limits("🙂" * 36).segments) == ("UCS-2", 2)
    assert limits("€" * 81).segments == 2  # extension characters cost two
