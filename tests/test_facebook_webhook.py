"""The Facebook page webhook: handshake, signatures over the raw body, Messenger events and
page-post comments (add, edited, remove), with numeric/string ids, duplicates and disorder."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select

from inbox.extensions import db
from inbox.models import (
    ContactIdentity,
    Conversation,
    IdentityKind,
    Message,
    MessageRevision,
    Role,
)
from tests.fakes.facebook import (
    FakeGraph,
    Page,
    comment_value,
    feed_entry,
    messaging_entry,
    text_event,
)

PAGE = "104857600123456"
POST = f"{PAGE}_555001"


@pytest.fixture
def fake():
    with FakeGraph(token="page-token-1", app_secret="app-secret-1") as fake:
        yield fake


@pytest.fixture
def page(factory, fake, monkeypatch):
    return Page(factory, factory.tenant(), fake, monkeypatch, PAGE)


def now_ms() -> int:
    return int(time.time() * 1000)


def count(model) -> int:  # type: ignore[no-untyped-def]
    return db.session.scalar(select(func.count()).select_from(model))


def messages() -> list[Message]:
    db.session.expire_all()
    return list(db.session.scalars(select(Message).order_by(Message.id)))


def test_verify_handshake(client, page):
    url = f"/webhooks/facebook/{PAGE}"
    ok = client.get(
        url,
        query_string={
            "hub.mode": "subscribe",
            "hub.verify_token": "verify-me-please",
            "hub.challenge": "1158201444",
        },
    )
    assert ok.status_code == 200
    assert ok.mimetype == "text/plain"
    assert ok.get_data(as_text=True) == "1158201444"
    wrong = client.get(
        url,
        query_string={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
    )
    assert wrong.status_code == 403
    no_mode = client.get(
        url, query_string={"hub.verify_token": "verify-me-please", "hub.challenge": "1"}
    )
    assert no_mode.status_code == 403
    assert (
        client.get("/webhooks/facebook/999", query_string={"hub.mode": "subscribe"}).status_code
        == 404
    )


def test_signature_is_checked_over_the_raw_bytes(client, page):
    text = "Hei! Kan eg få hjelp med søppeltømminga? Æ Ø Å 👍"
    entries = [messaging_entry(PAGE, text_event(PAGE, "24680", "m_raw1", text, now_ms()))]
    raw = page.body(entries)
    assert b"\\u00f8" in raw and "ø".encode() not in raw  # escaped exactly as Meta sends it

    # A signature over a re-serialised body (same JSON, different bytes) is refused.
    reserialised = json.dumps(json.loads(raw), ensure_ascii=False).encode()
    resp = page.deliver(client, entries, signature=page.sign(reserialised))
    assert resp.status_code == 403
    assert count(Message) == 0

    resp = page.deliver(client, entries)
    assert resp.status_code == 200
    assert [m.body for m in messages()] == [text]


def test_forged_and_unsigned_requests_store_nothing(client, page):
    entries = [messaging_entry(PAGE, text_event(PAGE, "1", "m_forged", "hei", now_ms()))]
    raw = page.body(entries)
    url = f"/webhooks/facebook/{PAGE}"
    unsigned = client.post(url, data=raw, content_type="application/json")
    forged = client.post(
        url,
        data=raw,
        content_type="application/json",
        headers={"X-Hub-Signature-256": "sha256=" + "0" * 64},
    )
    sha1 = client.post(
        url, data=raw, content_type="application/json", headers={"X-Hub-Signature-256": "abc"}
    )
    assert (unsigned.status_code, forged.status_code, sha1.status_code) == (403, 403, 403)
    assert count(Message) == 0 and count(Conversation) == 0


def test_batched_messaging_with_numeric_ids_echo_and_duplicates(client, page):
    t = now_ms()
    entries = [
        # Numeric page and sender ids, two events in one entry.
        messaging_entry(
            int(PAGE),
            text_event(int(PAGE), 1111222233334444, "m_a1", "Første melding", t - 2000),
            text_event(int(PAGE), 1111222233334444, "m_a2", "Andre melding", t - 1000),
        ),
        # A second entry: another citizen with string ids, plus our own echo.
        messaging_entry(
            PAGE,
            text_event(PAGE, "5555", "m_b1", "Hei fra Ola", t),
            {
                "sender": {"id": PAGE},
                "recipient": {"id": "5555"},
                "timestamp": t,
                "message": {"mid": "m_echo", "text": "Svar fra siden", "is_echo": True},
            },
        ),
    ]
    assert page.deliver(client, entries).status_code == 200
    assert page.deliver(client, entries).status_code == 200  # Meta retries: no twins
    got = messages()
    assert [m.body for m in got] == ["Første melding", "Andre melding", "Hei fra Ola"]
    assert len({m.conversation_id for m in got}) == 2
    idents = db.session.scalars(select(ContactIdentity).order_by(ContactIdentity.id)).all()
    assert [(i.kind, i.value) for i in idents] == [
        (IdentityKind.FACEBOOK_PSID, "1111222233334444"),
        (IdentityKind.FACEBOOK_PSID, "5555"),
    ]
    assert got[0].conversation.meta["psid"] == "1111222233334444"


def test_attachments_downloaded_or_kept_as_links(client, page, fake, app, tasks):
    fake.files["bilde.jpg"] = (b"\xff\xd8\xff\xe0 a tiny jpeg", "image/jpeg")
    fake.files["script.html"] = (b"<script>alert(1)</script>", "text/html")
    event = text_event(PAGE, "777", "m_att", "Se bildet", now_ms())
    event["message"]["attachments"] = [
        {"type": "image", "payload": {"url": f"{fake.url}/cdn/bilde.jpg"}},
        {"type": "file", "payload": {"url": f"{fake.url}/cdn/missing.pdf"}},
        {"type": "file", "payload": {"url": f"{fake.url}/cdn/script.html"}},
    ]
    assert page.deliver(client, [messaging_entry(PAGE, event)]).status_code == 200
    # Nothing was fetched within the webhook: a worker fetches after the commit.
    assert not [r for r in fake.requests if "/cdn/" in r.path]
    assert tasks.names() == ["servicetorg.inbound.facebook_media"]
    tasks.run_all()
    (msg,) = messages()
    assert msg.body == "Se bildet"
    image, missing, html = msg.attachments
    assert image.data == b"\xff\xd8\xff\xe0 a tiny jpeg"
    assert image.content_type == "image/jpeg" and image.size == 16 and image.sha256
    # The broken link and the refused type are kept as links; the message is never lost.
    assert missing.data is None and missing.provider_url.endswith("/cdn/missing.pdf")
    assert html.data is None and html.provider_url.endswith("/cdn/script.html")


def test_oversized_attachment_kept_as_link(client, page, fake, app, tasks):
    app.config["MAX_ATTACHMENT_BYTES"] = 10
    fake.files["stor.png"] = (b"x" * 100, "image/png")
    event = text_event(PAGE, "778", "m_big", "", now_ms())
    event["message"].pop("text")
    event["message"]["attachments"] = [
        {"type": "image", "payload": {"url": f"{fake.url}/cdn/stor.png"}}
    ]
    assert page.deliver(client, [messaging_entry(PAGE, event)]).status_code == 200
    tasks.run_all()
    (msg,) = messages()
    assert msg.attachments[0].data is None
    assert msg.attachments[0].provider_url.endswith("/cdn/stor.png")


def test_bad_payloads_are_rejected_cleanly(client, page):
    raw = b'{"object":"user","entry":[]}'
    resp = client.post(
        f"/webhooks/facebook/{PAGE}",
        data=raw,
        content_type="application/json",
        headers={"X-Hub-Signature-256": page.sign(raw)},
    )
    assert resp.status_code == 400 and resp.json["error"] == "payload"
    raw = b"not json"
    resp = client.post(
        f"/webhooks/facebook/{PAGE}",
        data=raw,
        content_type="application/json",
        headers={"X-Hub-Signature-256": page.sign(raw)},
    )
    assert resp.status_code == 400


def test_comment_add_reply_edit_remove(client, page, factory, login):
    reply_id = f"{POST}_02"
    first = f"{POST}_01"
    page.deliver(
        client,
        [
            feed_entry(
                PAGE,
                comment_value("add", POST, first, "Når åpner biblioteket igjen?"),
                comment_value(
                    "add",
                    POST,
                    reply_id,
                    "Lurer på det samme",
                    parent_id=first,
                    sender=(987654321, "Ola Nordmann"),
                ),
            )
        ],
    )
    top, reply = messages()
    conv = top.conversation
    assert conv.thread_key == POST and reply.conversation_id == conv.id
    assert conv.meta["permalink"] == f"https://www.facebook.com/{POST}"
    assert top.provider_parent_id == POST and reply.provider_parent_id == first
    assert conv.contact.name == "Kari Nordmann"
    ident = db.session.scalars(
        select(ContactIdentity).where(ContactIdentity.value == "987654321")
    ).one()
    assert ident.kind is IdentityKind.FACEBOOK_USER

    # Edited twice (the second delivered twice): both earlier texts kept, in order.
    edit1 = comment_value("edited", POST, first, "Når åpner biblioteket?")
    edit2 = comment_value("edited", POST, first, "Når åpner biblioteket på Sentrum?")
    for value in (edit1, edit2, edit2):
        page.deliver(client, [feed_entry(PAGE, value)])
    top = messages()[0]
    assert top.body == "Når åpner biblioteket på Sentrum?" and top.edited_at is not None
    assert [r.body for r in top.revisions] == [
        "Når åpner biblioteket igjen?",
        "Når åpner biblioteket?",
    ]

    # Removed: marked, text kept for staff.
    page.deliver(client, [feed_entry(PAGE, comment_value("remove", POST, reply_id))])
    reply = messages()[1]
    assert reply.removed_at is not None and reply.body == "Lurer på det samme"

    user = factory.user(page.tenant, Role.CASEWORKER)
    login(user)
    html = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert "Når åpner biblioteket igjen?" in html  # the earlier text, visible to staff
    assert "Lurer på det samme" in html
    assert "msg__removed" in html and "msg__revisions" in html
    assert f"https://www.facebook.com/{POST}" in html


def test_comment_events_out_of_order(client, page):
    cid = f"{POST}_77"
    # The removal and an edit arrive before the comment itself.
    page.deliver(client, [feed_entry(PAGE, comment_value("remove", POST, cid))])
    (msg,) = messages()
    assert msg.removed_at is not None and msg.body == ""
    page.deliver(client, [feed_entry(PAGE, comment_value("add", POST, cid, "Hallo"))])
    (msg,) = messages()
    assert msg.body == "Hallo" and msg.removed_at is not None

    other = f"{POST}_78"
    page.deliver(client, [feed_entry(PAGE, comment_value("edited", POST, other, "Rettet"))])
    page.deliver(client, [feed_entry(PAGE, comment_value("add", POST, other, "Original"))])
    edited = messages()[1]
    assert edited.body == "Rettet" and edited.edited_at is not None
    assert count(Message) == 2 and count(MessageRevision) == 0


def test_events_for_another_tenants_page_are_ignored(client, page, factory, fake, monkeypatch):
    other = Page(factory, factory.tenant(), fake, monkeypatch, "200000000000001")
    entries = [messaging_entry(other.page_id, text_event(other.page_id, "9", "m_x", "hei", 1))]
    raw = page.body(entries)
    resp = client.post(
        f"/webhooks/facebook/{PAGE}",
        data=raw,
        content_type="application/json",
        headers={"X-Hub-Signature-256": page.sign(raw)},
    )
    assert resp.status_code == 200
    assert count(Message) == 0
