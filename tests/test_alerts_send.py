"""Sending an alert to the fake Twilio: once per recipient, statuses, failures, replies."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

import channels.sms_alerts.tasks  # noqa: F401 - registers the task and the sweep source
from channels.sms_alerts import sending
from channels.sms_alerts import services as alerts
from inbox.extensions import db
from inbox.models import (
    AlertState,
    ContactIdentity,
    Conversation,
    IdentityKind,
    RecipientState,
    User,
)
from inbox.models.base import utcnow
from tests.alerts_support import draft, numbers, recipients
from tests.sms_support import sms_setup


@pytest.fixture
def sms(app, factory, monkeypatch):
    app.config["ALERT_RATE_PER_SECOND"] = 1000
    app.config["ALERT_SETTLE_SECONDS"] = 0
    with sms_setup(app, factory, monkeypatch) as sms:
        yield sms


def start(alert, user):
    alerts.confirm(alert, user)
    db.session.commit()


def test_each_recipient_gets_the_alert_once_with_a_status_callback(sms, tasks):
    alert = draft(sms, numbers(25))
    user = db.session.get(User, alert.author_id)
    start(alert, user)
    tasks.run_all()
    sent = sms.fake.sent()
    assert Counter(m["to"] for m in sent) == Counter(f"+47{n}" for n in numbers(25))
    assert {m["body"] for m in sent} == {"Vannet er stengt i Kvernhusvegen."}
    assert {m["from"] for m in sent} == {sms.account.external_id}
    rows = recipients(alert)
    assert {r.state for r in rows} == {RecipientState.SENT}
    assert sorted(r.provider_sid for r in rows) == sorted(m["sid"] for m in sent)
    first = next(m for m in sent if m["sid"] == rows[0].provider_sid)
    assert first["status_callback"].endswith(f"/status?a={rows[0].id}")
    db.session.expire_all()
    assert alert.state is AlertState.DONE


def test_status_callbacks_move_recipients_on_and_failures_are_explained(sms, tasks):
    alert = draft(sms, numbers(3))
    start(alert, db.session.get(User, alert.author_id))
    tasks.run_all()
    r1, r2, r3 = recipients(alert)
    for r, status, extra in (
        (r1, "delivered", {}),
        (r2, "undelivered", {"ErrorCode": "30003"}),
        (r3, "sent", {}),
    ):
        resp = sms.post(
            f"/webhooks/twilio/{sms.account.id}/status?a={r.id}",
            {
                "MessageSid": r.provider_sid,
                "MessageStatus": status,
                "AccountSid": sms.fake.account_sid,
                **extra,
            },
        )
        assert resp.status_code == 200
    tasks.run_inbound()
    r1, r2, r3 = recipients(alert)
    assert (r1.state, r2.state, r3.state) == (
        RecipientState.DELIVERED,
        RecipientState.UNDELIVERED,
        RecipientState.SENT,
    )
    assert r2.error_code == "30003" and "kan ikke nås" in r2.error_message
    # a late "sent" never moves a delivered recipient back
    sms.post(
        f"/webhooks/twilio/{sms.account.id}/status?a={r1.id}",
        {
            "MessageSid": r1.provider_sid,
            "MessageStatus": "sent",
            "AccountSid": sms.fake.account_sid,
        },
    )
    tasks.run_inbound()
    assert recipients(alert)[0].state is RecipientState.DELIVERED
    assert alerts.progress(alert)["delivered"] == 1


def test_opted_out_numbers_are_excluded_and_counted(sms, factory):
    phones = numbers(4)
    sms.inbound("STOPP", from_=f"+47{phones[1]}")
    ident = db.session.scalar(
        select(ContactIdentity).where(
            ContactIdentity.kind == IdentityKind.PHONE, ContactIdentity.value == f"+47{phones[1]}"
        )
    )
    assert ident.opted_out_at is not None
    alert = draft(sms, phones)
    assert alert.recipient_count == 3 and alert.opted_out_count == 1
    assert f"+47{phones[1]}" not in {r.phone for r in recipients(alert)}


def test_rejected_by_twilio_is_failed_with_the_reason(sms, tasks):
    phones = numbers(2)
    sms.fake.reject[f"+47{phones[0]}"] = (
        400,
        21211,
        "The 'To' number is not a valid phone number.",
    )
    alert = draft(sms, phones)
    start(alert, db.session.get(User, alert.author_id))
    tasks.run_all()
    bad, good = recipients(alert)
    assert bad.state is RecipientState.FAILED and bad.error_code == "21211"
    assert good.state is RecipientState.SENT
    assert [f.phone for f in alerts.failures(alert)] == [bad.phone]


def test_lost_answer_is_found_at_twilio_not_sent_twice(sms, tasks, app):
    app.config["ALERT_SETTLE_SECONDS"] = 3600  # a lookup that finds nothing is not believed yet
    alert = draft(sms, numbers(5))
    sms.fake.lose_next_answer("drop")
    start(alert, db.session.get(User, alert.author_id))
    tasks.run_all()
    rows = recipients(alert)
    [uncertain] = [r for r in rows if r.uncertain_since is not None]
    assert uncertain.state is RecipientState.QUEUED and uncertain.provider_sid is None
    assert len(sms.fake.sent()) == 5  # Twilio has it although the answer never came
    # Once it is due, the sweeper kicks the alert and the lookup adopts Twilio's message.
    uncertain.next_attempt_at = utcnow()
    db.session.commit()
    # not while the alert shows progress since `stale` (a worker is on it)
    assert sending.stalled(utcnow(), utcnow() - timedelta(minutes=2)) == []
    db.session.rollback()
    assert sending.stalled(utcnow(), utcnow()) == [(sending.BATCH_TASK, (alert.id,))]
    db.session.commit()
    sending.run_batch(alert.id)
    rows = recipients(alert)
    assert {r.state for r in rows} == {RecipientState.SENT}
    sent = sms.fake.sent()
    assert len(sent) == 5 and len([r for r in sms.fake.requests if r.method == "POST"]) == 5
    assert sorted(r.provider_sid for r in rows) == sorted(m["sid"] for m in sent)
    db.session.expire_all()
    assert alert.state is AlertState.DONE


def test_gateway_page_instead_of_the_answer_is_adopted_not_resent(sms, tasks):
    alert = draft(sms, numbers(2))
    sms.fake.lose_next_answer("gateway")  # Twilio created it; a proxy answered 502
    start(alert, db.session.get(User, alert.author_id))
    tasks.run_all()
    rows = recipients(alert)
    assert {r.state for r in rows} == {RecipientState.SENT}
    assert len(sms.fake.sent()) == 2
    assert max(r.attempts for r in rows) == 2


def test_an_uncertain_send_twilio_does_not_have_is_sent_after_settling(sms, tasks):
    phones = numbers(2)
    alert = draft(sms, phones)
    # A 500 from Twilio: it may have made the message; this time it did not.
    sms.fake.reject[f"+47{phones[0]}"] = (500, 20500, "Internal Server Error")
    start(alert, db.session.get(User, alert.author_id))
    tasks.run_all(limit=1)
    first = recipients(alert)[0]
    assert first.uncertain_since is not None and first.state is RecipientState.QUEUED
    del sms.fake.reject[f"+47{phones[0]}"]
    tasks.run_all()
    assert {r.state for r in recipients(alert)} == {RecipientState.SENT}
    assert sorted(m["to"] for m in sms.fake.sent()) == sorted(f"+47{p}" for p in phones)


def test_replies_within_the_window_are_threaded_under_the_alert(sms, tasks, factory):
    team = factory.team(sms.tenant, "Vann og avløp")
    phones = numbers(3)
    alert = draft(sms, phones, team_id=team.id)
    start(alert, db.session.get(User, alert.author_id))
    tasks.run_all()
    sms.inbound("Gjelder dette Kvernhusvegen 12?", from_=f"+47{phones[0]}")
    sms.inbound("Vi har ikke vann ennå", from_=f"+47{phones[0]}")
    sms.inbound("Hei, et annet spørsmål", from_="+4799999999")  # not a recipient
    convs = alerts.replies(alert)
    assert len(convs) == 1
    conv = convs[0]
    assert conv.meta["alert_id"] == alert.id and conv.team_id == team.id
    assert conv.subject == "Vannbrudd"
    assert recipients(alert)[0].conversation_id == conv.id
    other = db.session.scalars(select(Conversation).where(Conversation.id != conv.id)).all()
    assert len(other) == 1 and "alert_id" not in (other[0].meta or {})


def test_reply_after_the_window_is_an_ordinary_conversation(sms, tasks, app):
    phones = numbers(1)
    alert = draft(sms, phones)
    start(alert, db.session.get(User, alert.author_id))
    tasks.run_all()
    app.config["ALERT_REPLY_WINDOW_HOURS"] = 0
    sms.inbound("Hallo?", from_=f"+47{phones[0]}")
    assert alerts.replies(alert) == []


def test_follow_up_goes_to_everyone_the_first_reached(sms, tasks):
    phones = numbers(4)
    sms.fake.reject[f"+47{phones[3]}"] = (400, 21211, "invalid")
    alert = draft(sms, phones)
    user = db.session.get(User, alert.author_id)
    start(alert, user)
    tasks.run_all()
    source = alerts.from_alert(sms.tenant.id, alert.id)
    assert [e["phone"] for e in source.entries] == [f"+47{p}" for p in phones[:3]]


def test_forged_or_foreign_status_callbacks_change_nothing(sms, tasks, factory):
    alert = draft(sms, numbers(1))
    start(alert, db.session.get(User, alert.author_id))
    tasks.run_all()
    [r] = recipients(alert)
    params = {
        "MessageSid": r.provider_sid,
        "MessageStatus": "failed",
        "ErrorCode": "30003",
        "AccountSid": sms.fake.account_sid,
    }
    path = f"/webhooks/twilio/{sms.account.id}/status?a={r.id}"
    unsigned = sms.client.post(path, data=params, headers={"X-Twilio-Signature": "Zm9v"})
    assert unsigned.status_code == 403
    # Signed for another number (of this or another municipality): it cannot reach this row.
    other_number = sms.number("+4740000002")
    forged = {**params, "MessageSid": "SM" + "0" * 32}
    resp = sms.post(f"/webhooks/twilio/{other_number.id}/status?a={r.id}", forged)
    assert resp.status_code == 200
    tasks.run_inbound()
    [r] = recipients(alert)
    assert r.state is RecipientState.SENT and r.error_code is None


def test_one_batch_at_a_time_per_alert_so_the_rate_holds(sms, tasks):
    alert = draft(sms, numbers(3))
    start(alert, db.session.get(User, alert.author_id))
    # Another worker's batch holds the alert: a second batch task sends nothing.
    alert.batch_until = utcnow() + timedelta(minutes=1)
    db.session.commit()
    assert sending.run_batch(alert.id) == {"busy": 1}
    assert sms.fake.sent() == []
    assert sending.stalled(utcnow(), utcnow()) == []  # nor does the sweeper kick it
    db.session.rollback()
    # A hold whose worker died runs out by itself.
    alert = db.session.get(type(alert), alert.id)
    alert.batch_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert sending.stalled(utcnow(), utcnow()) == [(sending.BATCH_TASK, (alert.id,))]
    db.session.commit()
    tasks.sent.clear()
    assert sending.run_batch(alert.id) == {"sent": 3}
    db.session.expire_all()
    assert alert.batch_until is None and alert.state is AlertState.DONE


def test_sent_through_the_messaging_service_when_chosen(sms, tasks):
    sms.account.config = {**sms.account.config, "messaging_service_sid": "MG" + "1" * 32}
    db.session.commit()
    alert = draft(sms, numbers(2), sender="service")
    start(alert, db.session.get(User, alert.author_id))
    tasks.run_all()
    sent = sms.fake.sent()
    assert len(sent) == 2
    assert {m["messaging_service_sid"] for m in sent} == {"MG" + "1" * 32}
    assert {m["from"] for m in sent} == {None}


def test_messaging_service_cannot_be_chosen_for_a_number_without_one(sms):
    with pytest.raises(alerts.AlertError, match="service"):
        draft(sms, numbers(1), sender="service")
