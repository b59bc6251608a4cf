"""MMS: media downloaded with Twilio's basic auth into attachments, within limits."""

from __future__ import annotations

import base64

import pytest
from werkzeug.wrappers import Response

from channels.twilio_sms import media
from inbox.extensions import db
from inbox.models import Attachment
from tests.sms_support import CITIZEN, poll_via_beat, sms_setup

JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + b"\x01" * 500
PDF = b"%PDF-1.7\n" + b"0" * 300


@pytest.fixture
def sms(app, factory, monkeypatch):
    with sms_setup(app, factory, monkeypatch) as s:
        yield s


def send_mms(sms, body, items, declared=None):
    """Put media on the fake and deliver the signed webhook that points at it."""
    record = sms.fake.add_inbound(CITIZEN, sms.account.external_id, body, media=items)
    extra = {"NumMedia": str(len(items))}
    for i, (ctype, _) in enumerate(items):
        extra[f"MediaUrl{i}"] = sms.fake.media_url(record["sid"], i)
        extra[f"MediaContentType{i}"] = (declared or {}).get(i, ctype)
    assert sms.inbound(body, sid=record["sid"], **extra).status_code == 200
    [msg] = sms.messages()
    return msg


def test_mms_media_become_attachments(sms, tasks):
    msg = send_mms(
        sms, "Se bildet av hullet i veien", [("image/jpeg", JPEG), ("application/pdf", PDF)]
    )
    assert msg.body == "Se bildet av hullet i veien"  # stored before any download
    # The download, and matching the new sender against known contacts, wait for workers.
    assert tasks.names() == ["servicetorg.default.match_contacts", "servicetorg.inbound.sms_media"]
    tasks.run_all()
    [msg] = sms.messages()
    assert [(a.content_type, a.size) for a in msg.attachments] == [
        ("image/jpeg", len(JPEG)),
        ("application/pdf", len(PDF)),
    ]
    assert msg.attachments[0].data == JPEG
    assert "pending_media" not in msg.meta
    downloads = [r for r in sms.fake.requests if "/Media/ME" in r.path]
    expected = base64.b64encode(f"{sms.fake.account_sid}:{sms.token}".encode()).decode()
    assert {r.headers["Authorization"] for r in downloads} == {f"Basic {expected}"}


def test_oversize_and_wrong_types_are_rejected_but_the_text_is_kept(app, sms, tasks):
    app.config["MAX_ATTACHMENT_BYTES"] = 400
    items = [("image/jpeg", JPEG), ("text/vcard", b"BEGIN:VCARD"), ("image/png", b"<html>")]
    send_mms(sms, "Kontaktinfo og bilde", items)
    tasks.run_all()
    [msg] = sms.messages()
    assert msg.body == "Kontaktinfo og bilde"
    assert msg.attachments == []
    assert [r["reason"] for r in msg.meta["media_rejected"]] == ["size", "type", "type"]
    # The vCard was refused by its declared type, without fetching it.
    assert len([r for r in sms.fake.requests if "/Media/ME" in r.path]) == 2


def test_failed_download_is_retried_and_never_loses_the_message(sms, tasks):
    msg = send_mms(sms, "Bilde", [("image/jpeg", JPEG)])
    tasks.sent.clear()
    sms.fake.fail_next(1, 503)
    assert media.fetch_pending(msg.id) == (0, True)  # the task retries with back-off
    [msg] = sms.messages()
    assert msg.body == "Bilde" and msg.attachments == [] and msg.meta["pending_media"]
    assert media.fetch_pending(msg.id) == (1, False)
    [msg] = sms.messages()
    assert [a.content_type for a in msg.attachments] == ["image/jpeg"]


def test_giving_up_keeps_the_message_and_notes_the_failure(sms):
    msg = send_mms(sms, "Bilde", [("image/jpeg", JPEG)])
    sms.fake.fail_next(1, 500)
    assert media.fetch_pending(msg.id, give_up=True) == (0, False)
    [msg] = sms.messages()
    assert msg.body == "Bilde" and msg.meta["media_rejected"] == [
        {"content_type": "image/jpeg", "reason": "failed"}
    ]
    assert Attachment.query.count() == 0


def test_credentials_are_only_sent_to_twilios_api_host(sms, tasks):
    from tests.fakes.server import FakeProvider

    storage = FakeProvider()
    storage.route("GET", r"/media/1", lambda req, m: Response(JPEG, mimetype="image/jpeg"))
    with storage:
        extra = {"NumMedia": "1", "MediaUrl0": f"{storage.url}/media/1",
                 "MediaContentType0": "image/jpeg"}  # fmt: skip
        sms.inbound("Bilde", **extra)
        tasks.run_all()
    [msg] = sms.messages()
    assert [a.size for a in msg.attachments] == [len(JPEG)]
    assert "Authorization" not in storage.requests[0].headers


def test_lost_media_task_is_resumed_by_the_poll_and_never_doubles(sms, tasks):
    from datetime import timedelta

    msg = send_mms(sms, "Bilde", [("image/jpeg", JPEG)])
    tasks.sent.clear()  # the broker was down when the webhook committed
    msg.created_at -= timedelta(minutes=20)
    pending = msg.meta["pending_media"]
    db.session.commit()
    poll_via_beat(tasks)  # the beat poll re-queues the stalled download and runs it
    [msg] = sms.messages()
    assert [a.size for a in msg.attachments] == [len(JPEG)]
    # A second, late copy of the task finds the item already stored.
    msg.meta = {**msg.meta, "pending_media": pending}
    db.session.commit()
    assert media.fetch_pending(msg.id) == (0, False)
    assert len(sms.messages()[0].attachments) == 1
