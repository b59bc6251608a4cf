"""Fetching provider media (channels/media.py): public addresses only, also after a redirect,
in a worker after the commit, and typed by the bytes, not by the provider's label."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from channels import media
from inbox.extensions import db
from inbox.models import Message
from tests.fakes.facebook import FakeGraph, Page, messaging_entry, text_event

PAGE = "104857600999001"
JPEG = b"\xff\xd8\xff\xe0 a tiny jpeg"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
HTML = b"<!doctype html><script>alert(1)</script>"


@pytest.fixture
def fake():
    with FakeGraph(token="page-token-m", app_secret="app-secret-m") as fake:
        yield fake


@pytest.fixture
def page(factory, fake, monkeypatch):  # type: ignore[no-untyped-def]
    return Page(factory, factory.tenant(), fake, monkeypatch, PAGE)


def deliver_files(client, page, fake, *names: str) -> Message:  # type: ignore[no-untyped-def]
    event = text_event(PAGE, "4242", f"m_{time.time_ns()}", "Se filene", int(time.time() * 1000))
    event["message"]["attachments"] = [
        {"type": "image", "payload": {"url": f"{fake.url}/cdn/{name}"}} for name in names
    ]
    assert page.deliver(client, [messaging_entry(PAGE, event)]).status_code == 200
    db.session.expire_all()
    return db.session.scalars(select(Message).order_by(Message.id.desc())).first()


def cdn_requests(fake) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.path for r in fake.requests if r.path.startswith("/cdn/")]


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fd00:ec2::254",
        "::ffff:127.0.0.1",
    ],
)
def test_private_loopback_link_local_and_metadata_addresses_are_not_public(address) -> None:
    assert not media.public_address(address)


def test_public_addresses_are_public() -> None:
    assert media.public_address("8.8.8.8") and media.public_address("2606:4700::1111")


def test_the_default_refuses_loopback(app, fake) -> None:  # type: ignore[no-untyped-def]
    from inbox.config import DEFAULTS

    assert DEFAULTS["MEDIA_FETCH_ALLOW_PRIVATE_HOSTS"] == []
    app.config["MEDIA_FETCH_ALLOW_PRIVATE_HOSTS"] = []  # as in production
    fake.files["bilde.jpg"] = (JPEG, "image/jpeg")
    with pytest.raises(media.Refused, match="address"):
        media.fetch(f"{fake.url}/cdn/bilde.jpg")
    with pytest.raises(media.Refused, match="address"):
        media.fetch(f"http://localhost:{fake.url.rsplit(':', 1)[1]}/cdn/bilde.jpg")
    assert cdn_requests(fake) == []


def test_a_webhook_attachment_on_a_private_address_stays_a_link(app, client, page, fake, tasks):  # type: ignore[no-untyped-def]
    app.config["MEDIA_FETCH_ALLOW_PRIVATE_HOSTS"] = []
    fake.files["bilde.jpg"] = (JPEG, "image/jpeg")
    deliver_files(client, page, fake, "bilde.jpg")
    tasks.run_all()
    msg = db.session.scalars(select(Message)).one()
    assert msg.attachments[0].data is None
    assert cdn_requests(fake) == []


def test_a_redirect_to_a_private_address_is_not_followed(app, client, page, fake, tasks):  # type: ignore[no-untyped-def]
    # The fake's own address is allowed (as for every fake), but the redirect leads to
    # "localhost", which is not, and resolves to loopback.
    port = fake.url.rsplit(":", 1)[1]
    fake.files["bilde.jpg"] = (JPEG, "image/jpeg")
    fake.redirects["videre.jpg"] = f"http://localhost:{port}/cdn/bilde.jpg"
    fake.redirects["metadata.jpg"] = "http://169.254.169.254/latest/meta-data/"
    msg = deliver_files(client, page, fake, "videre.jpg", "metadata.jpg")
    tasks.run_all()
    db.session.expire_all()
    assert [a.data for a in msg.attachments] == [None, None]
    assert cdn_requests(fake) == ["/cdn/videre.jpg", "/cdn/metadata.jpg"]


def test_files_are_typed_by_their_bytes_not_their_label(client, page, fake, tasks):  # type: ignore[no-untyped-def]
    fake.files["bilde.jpg"] = (JPEG, "image/jpeg")
    fake.files["tegning.jpg"] = (SVG, "image/jpeg")
    fake.files["side.jpg"] = (HTML, "image/jpeg")
    fake.files["ekte.bin"] = (JPEG, "application/octet-stream")
    msg = deliver_files(client, page, fake, "bilde.jpg", "tegning.jpg", "side.jpg", "ekte.bin")
    tasks.run_all()
    db.session.expire_all()
    got = [(a.content_type, a.data is not None) for a in msg.attachments]
    assert got == [
        ("image/jpeg", True),
        ("application/octet-stream", False),
        ("application/octet-stream", False),
        ("image/jpeg", True),
    ]


def test_webhook_answers_before_any_file_is_fetched(client, page, fake, tasks):  # type: ignore[no-untyped-def]
    fake.files["bilde.jpg"] = (JPEG, "image/jpeg")
    deliver_files(client, page, fake, "bilde.jpg", "bilde.jpg", "bilde.jpg")
    assert cdn_requests(fake) == []
    assert tasks.names() == ["servicetorg.inbound.facebook_media"]
    assert tasks.run_all() == [3]


def test_sniffing_recognises_the_kept_types() -> None:
    assert media.sniff(b"%PDF-1.7") == "application/pdf"
    assert media.sniff(b"\x89PNG\r\n\x1a\nxxxx") == "image/png"
    assert media.sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert media.sniff(b"\x00\x00\x00\x18ftypheic") == "image/heic"
    assert media.sniff(SVG) is None and media.sniff(HTML) is None and media.sniff(b"") is None


def test_mms_media_are_sniffed_and_refused_on_private_addresses(app, factory, monkeypatch, tasks):  # type: ignore[no-untyped-def]
    from tests.sms_support import sms_setup
    from tests.test_sms_media import send_mms

    with sms_setup(app, factory, monkeypatch) as sms:
        send_mms(sms, "Bilder", [("image/jpeg", JPEG), ("image/jpeg", SVG)])
        tasks.run_all()
        [msg] = sms.messages()
        assert [a.content_type for a in msg.attachments] == ["image/jpeg"]
        assert [r["reason"] for r in msg.meta["media_rejected"]] == ["type"]
        app.config["MEDIA_FETCH_ALLOW_PRIVATE_HOSTS"] = []
        record = sms.fake.add_inbound(
            "+4791234567", sms.account.external_id, "Mer", media=[("image/jpeg", JPEG)]
        )
        extra = {"NumMedia": "1", "MediaUrl0": sms.fake.media_url(record["sid"], 0)}
        assert sms.inbound("Mer", sid=record["sid"], **extra).status_code == 200
        tasks.run_all()
        last = sms.messages()[-1]
        assert last.attachments == [] and last.meta["media_rejected"][0]["reason"] == "address"
