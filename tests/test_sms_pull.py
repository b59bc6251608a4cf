"""Pull: the beat job lists recent inbound messages and stores what webhooks missed, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from channels.twilio_sms import connector
from inbox.extensions import db
from tests.sms_support import CITIZEN, poll_via_beat, sms_setup


@pytest.fixture
def sms(app, factory, monkeypatch):
    with sms_setup(app, factory, monkeypatch) as s:
        yield s


def test_pull_overlapping_push_stores_each_message_once(sms, tasks):
    now = datetime.now(UTC)
    pushed = sms.fake.add_inbound(
        CITIZEN, sms.account.external_id, "Først", now - timedelta(minutes=3)
    )
    missed = sms.fake.add_inbound(
        "+4798765432", sms.account.external_id, "Glemt", now - timedelta(minutes=2)
    )
    sms.fake.add_inbound(CITIZEN, "+4740009999", "Til et annet nummer", now)
    sms.inbound("Først", sid=pushed["sid"])  # the webhook got this one

    assert poll_via_beat(tasks) == [1]
    assert poll_via_beat(tasks) == [0]  # the overlap re-reads both; nothing twice
    msgs = sms.messages()
    assert sorted(m.provider_message_id for m in msgs) == sorted([pushed["sid"], missed["sid"]])
    assert [m.conversation.contact.phone for m in msgs if m.body == "Glemt"] == ["+4798765432"]
    # A webhook arriving late for the pulled message is a duplicate too.
    sms.inbound("Glemt", sid=missed["sid"], from_="+4798765432")
    assert len(sms.messages()) == 2


def test_cursor_advances_with_an_overlap_margin(sms, tasks):
    sent = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    sms.fake.add_inbound(CITIZEN, sms.account.external_id, "Hei", sent)
    poll_via_beat(tasks)
    db.session.refresh(sms.account)
    assert datetime.fromisoformat(sms.account.poll_cursor["date_sent_after"]) == sent
    assert sms.account.last_polled_at is not None
    poll_via_beat(tasks)
    lists = [r for r in sms.fake.requests if r.method == "GET" and r.path.endswith("Messages.json")]
    assert lists[-1].query["DateSent>"] == [
        (sent - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ]
    assert lists[-1].query["To"] == [sms.account.external_id]


def test_pull_follows_pages(sms, tasks, monkeypatch):
    monkeypatch.setattr(connector, "POLL_PAGE_SIZE", 20)
    start = datetime.now(UTC) - timedelta(hours=1)
    for i in range(45):
        sms.fake.add_inbound(
            CITIZEN, sms.account.external_id, f"nr {i}", start + timedelta(seconds=i)
        )
    assert poll_via_beat(tasks) == [45]
    pages = [r for r in sms.fake.requests if r.path.endswith("Messages.json")]
    assert [p.query.get("Page", ["0"]) for p in pages] == [["0"], ["1"], ["2"]]
    assert pages[1].query["PageToken"] == ["PA1"]
    assert sorted(m.body for m in sms.messages()) == sorted(f"nr {i}" for i in range(45))


def test_pulled_mms_gets_its_media(sms, tasks):
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 64
    sms.fake.add_inbound(CITIZEN, sms.account.external_id, "Bilde", media=[("image/jpeg", jpeg)])
    poll_via_beat(tasks)
    [msg] = sms.messages()
    assert [(a.content_type, a.size) for a in msg.attachments] == [("image/jpeg", len(jpeg))]


def test_rejected_credentials_raise_an_alert_for_the_admin(sms, tasks, monkeypatch):
    monkeypatch.setenv("SERVICETORG_TEST_TWILIO_TOKEN", "wrong-token")
    assert poll_via_beat(tasks) == [0]
    db.session.refresh(sms.account)
    assert "avviste" in sms.account.alert
    assert sms.account.poll_cursor == {}
    monkeypatch.setenv("SERVICETORG_TEST_TWILIO_TOKEN", sms.token)
    poll_via_beat(tasks)
    db.session.refresh(sms.account)
    assert sms.account.alert is None
