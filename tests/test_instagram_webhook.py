"""The Instagram webhook (`object: "instagram"`): Meta's handshake, signatures over the raw
body, direct messages (echoes, attachments, unsupported and unsent messages, read receipts) and
comments on the account's media, with duplicates, disorder and two municipalities."""

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
    InboundEvent,
    Message,
    Role,
)
from tests.fakes.instagram import (
    FakeInstagramGraph,
    InstagramAccount,
    comment_value,
    comments_entry,
    dm_entry,
    dm_event,
    ig_body,
    sign,
)

IG = "17841400000000101"
PAGE = "104857600700101"
MEDIA = "17895695668004550"
KARI = "17841455500000001"  # an Instagram-scoped id (IGSID)


@pytest.fixture
def fake():
    with FakeInstagramGraph(token="ig-page-token", app_secret="meta-app-secret") as fake:
        yield fake


@pytest.fixture
def account(factory, fake, monkeypatch):
    return InstagramAccount(factory, factory.tenant(), fake, monkeypatch, IG, PAGE)


def now_ms() -> int:
    return int(time.time() * 1000)


def count(model) -> int:  # type: ignore[no-untyped-def]
    return db.session.scalar(select(func.count()).select_from(model))


def messages() -> list[Message]:
    db.session.expire_all()
    return list(db.session.scalars(select(Message).order_by(Message.id)))


def test_verify_handshake(client, account):
    url = f"/webhooks/instagram/{IG}"
    ok = client.get(
        url,
        query_string={
            "hub.mode": "subscribe",
            "hub.verify_token": "verify-instagram",
            "hub.challenge": "1158201444",
        },
    )
    assert ok.status_code == 200 and ok.mimetype == "text/plain"
    assert ok.get_data(as_text=True) == "1158201444"
    wrong = client.get(
        url,
        query_string={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
    )
    assert wrong.status_code == 403
    unknown = client.get("/webhooks/instagram/17841499999999999")
    assert unknown.status_code == 404


def test_direct_message_signed_over_the_raw_bytes(client, account):
    text = "Hei! Når blir det brøytet i Kvernhusvegen? 👍"
    entries = [dm_entry(IG, dm_event(IG, KARI, "aWdfZAG1faXRlbToxOkIGMessage1", text, now_ms()))]
    raw = ig_body(entries)
    assert b"\\u00f8" in raw and "ø".encode() not in raw  # escaped exactly as Meta sends it

    # Signed over a re-serialised body (same JSON, other bytes): refused.
    reserialised = json.dumps(json.loads(raw), ensure_ascii=False).encode()
    resp = account.deliver(client, entries, signature=account.sign(reserialised))
    assert resp.status_code == 403

    resp = account.deliver(client, entries)
    assert resp.status_code == 200 and resp.get_data(as_text=True) == "EVENT_RECEIVED"
    (msg,) = messages()
    assert msg.body == text and msg.channel_account_id == account.dms.id
    assert msg.conversation.meta["igsid"] == KARI
    (ident,) = db.session.scalars(select(ContactIdentity)).all()
    assert (ident.kind, ident.value) == (IdentityKind.INSTAGRAM_IGSID, KARI)
    event = db.session.scalars(select(InboundEvent)).one()
    assert event.kind == "instagram" and event.body == raw


def test_forged_and_unsigned_deliveries_store_nothing(client, account, fake):
    entries = [dm_entry(IG, dm_event(IG, KARI, "aWdf_forged", "hei", now_ms()))]
    raw = ig_body(entries)
    url = f"/webhooks/instagram/{IG}"
    answers = [
        client.post(url, data=raw, content_type="application/json"),
        client.post(
            url,
            data=raw,
            content_type="application/json",
            headers={"X-Hub-Signature-256": "sha256=" + "0" * 64},
        ),
        # Signed with another app's secret, or as SHA-1 (the old X-Hub-Signature form).
        client.post(
            url,
            data=raw,
            content_type="application/json",
            headers={"X-Hub-Signature-256": sign(raw, "another-app-secret")},
        ),
        client.post(
            url,
            data=raw,
            content_type="application/json",
            headers={"X-Hub-Signature-256": "sha1=" + "a" * 40},
        ),
    ]
    assert [a.status_code for a in answers] == [403, 403, 403, 403]
    assert answers[0].json["error"] == "signature"
    from tests.conftest import run_inbound

    run_inbound(client.application)
    assert count(InboundEvent) == 0 and count(Message) == 0 and count(Conversation) == 0


def test_echo_duplicates_and_numeric_ids(client, account):
    t = now_ms()
    entries = [
        dm_entry(
            IG,
            dm_event(IG, KARI, "aWdf_m1", "Første melding", t - 2000),
            dm_event(IG, KARI, "aWdf_m2", "Andre melding", t - 1000),
        ),
        {
            # Numeric ids, and the account's own message echoed back.
            "id": int(IG),
            "time": t,
            "messaging": [
                {
                    "sender": {"id": int(IG)},
                    "recipient": {"id": int(KARI)},
                    "timestamp": t,
                    "message": {"mid": "aWdf_echo", "text": "Svar fra kommunen", "is_echo": True},
                },
                dm_event(IG, "17841455500000002", "aWdf_m3", "Hei fra Ola", t),
            ],
        },
    ]
    assert account.deliver(client, entries).status_code == 200
    assert account.deliver(client, entries).status_code == 200  # Meta's retry: no twins
    got = messages()
    assert [m.body for m in got] == ["Første melding", "Andre melding", "Hei fra Ola"]
    assert len({m.conversation_id for m in got}) == 2
    assert count(InboundEvent) == 1


def test_attachments_are_fetched_after_the_commit(client, account, fake, tasks):
    fake.files["bilde.jpg"] = (b"\xff\xd8\xff\xe0 a tiny jpeg", "image/jpeg")
    event = dm_event(IG, KARI, "aWdf_att", None, now_ms())
    event["message"]["attachments"] = [
        {"type": "image", "payload": {"url": f"{fake.url}/cdn/bilde.jpg"}},
        {"type": "ig_reel", "payload": {"url": f"{fake.url}/cdn/missing.mp4"}},
    ]
    assert account.deliver(client, [dm_entry(IG, event)]).status_code == 200
    assert not [r for r in fake.requests if "/cdn/" in r.path]
    assert tasks.names() == ["servicetorg.inbound.facebook_media"]
    tasks.run_all()
    (msg,) = messages()
    image, reel = msg.attachments
    assert image.data == b"\xff\xd8\xff\xe0 a tiny jpeg" and image.content_type == "image/jpeg"
    assert reel.data is None and reel.provider_url.endswith("/cdn/missing.mp4")


def test_unsupported_message_is_explained_in_norwegian(client, account):
    event = dm_event(IG, KARI, "aWdf_unsup", None, now_ms())
    event["message"]["is_unsupported"] = True
    account.deliver(client, [dm_entry(IG, event)])
    (msg,) = messages()
    assert "Instagram" in msg.body and "åpne" in msg.body.lower()
    assert msg.meta["unsupported"] is True


def test_unsent_message_is_marked_removed_and_its_text_kept(client, account, factory, login):
    account.deliver(
        client, [dm_entry(IG, dm_event(IG, KARI, "aWdf_gone", "Feil adresse, beklager", 1))]
    )
    deleted = dm_event(IG, KARI, "aWdf_gone", None, now_ms())
    deleted["message"]["is_deleted"] = True
    account.deliver(client, [dm_entry(IG, deleted)])
    account.deliver(client, [dm_entry(IG, deleted)])  # twice: no change
    (msg,) = messages()
    assert msg.removed_at is not None and msg.body == "Feil adresse, beklager"
    assert msg.meta["removed_on_instagram"] is True

    # A removal that arrives before its message: kept empty, then filled in.
    early = dm_event(IG, KARI, "aWdf_early", None, now_ms())
    early["message"]["is_deleted"] = True
    account.deliver(client, [dm_entry(IG, early)])
    account.deliver(client, [dm_entry(IG, dm_event(IG, KARI, "aWdf_early", "Hallo", 2))])
    late = messages()[1]
    assert late.body == "Hallo" and late.removed_at is not None

    login(factory.user(account.tenant, Role.CASEWORKER))
    html = client.get(f"/c/{msg.conversation_id}").get_data(as_text=True)
    assert "Feil adresse, beklager" in html and "msg__removed" in html


def test_comments_on_media(client, account, factory, login):
    top, reply = "17870913679156914", "17873440459141021"
    account.deliver(
        client,
        [
            comments_entry(
                IG,
                comment_value(top, MEDIA, "Når åpner svømmehallen?"),
                comment_value(
                    reply,
                    MEDIA,
                    "Lurer på det samme",
                    ("17841455500000003", "ola_n"),
                    parent_id=top,
                ),
                # The account's own comment (our reply): not an inquiry.
                comment_value("17873440459149999", MEDIA, "Svar fra kommunen", (IG, "kommunen")),
            ),
            # Mentions carry only ids, and live comments cannot be answered: passed over.
            {
                "id": IG,
                "time": 1,
                "changes": [
                    {"field": "mentions", "value": {"media_id": MEDIA, "comment_id": "1"}},
                    {"field": "live_comments", "value": comment_value("2", MEDIA, "live")},
                ],
            },
        ],
    )
    first, second = messages()
    conv = first.conversation
    assert conv.thread_key == MEDIA and second.conversation_id == conv.id
    assert conv.channel_account_id == account.comments.id
    assert first.provider_parent_id == MEDIA and second.provider_parent_id == top
    assert conv.contact.name == "kari.nordmann"
    assert first.meta["media_product_type"] == "FEED"

    # The same person writing a direct message is the same contact.
    account.deliver(client, [dm_entry(IG, dm_event(IG, KARI, "aWdf_dm", "Og en melding", 1))])
    dm = messages()[-1]
    assert dm.contact_id == first.contact_id and dm.conversation_id != conv.id

    login(factory.user(account.tenant, Role.CASEWORKER))
    html = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert "channel-badge--instagram" in html and ">Instagram</span>" in html
    queue = client.get("/").get_data(as_text=True)
    assert queue.count("channel-badge--instagram") == 2  # the comments and the message


def test_a_page_webhook_sent_to_the_instagram_url_is_refused(client, account):
    raw = json.dumps({"object": "page", "entry": []}).encode()
    resp = client.post(
        f"/webhooks/instagram/{IG}",
        data=raw,
        content_type="application/json",
        headers={"X-Hub-Signature-256": account.sign(raw)},
    )
    assert resp.status_code == 400 and resp.json["error"] == "payload"
    assert count(InboundEvent) == 0


def test_two_municipalities_are_kept_apart(client, factory, fake, monkeypatch, login):
    a = InstagramAccount(factory, factory.tenant(), fake, monkeypatch, IG, PAGE)
    b = InstagramAccount(
        factory, factory.tenant(), fake, monkeypatch, "17841400000000202", "104857600700202"
    )
    # The same citizen (Meta scopes ids per app, so the IGSID is the same) writes to both.
    a.deliver(client, [dm_entry(a.ig_id, dm_event(a.ig_id, KARI, "aWdf_a", "Til A", 1))])
    b.deliver(client, [dm_entry(b.ig_id, dm_event(b.ig_id, KARI, "aWdf_b", "Til B", 1))])
    got = messages()
    assert [(m.body, m.tenant_id) for m in got] == [
        ("Til A", a.tenant.id),
        ("Til B", b.tenant.id),
    ]
    assert got[0].contact_id != got[1].contact_id

    # A delivery signed with A's secret, at A's URL, naming B's account: nothing for anyone.
    entries = [dm_entry(b.ig_id, dm_event(b.ig_id, KARI, "aWdf_sneak", "Snik", 2))]
    assert a.deliver(client, entries).status_code == 200
    comments = [comments_entry(b.ig_id, comment_value("17870000000000001", MEDIA, "Snik"))]
    assert a.deliver(client, comments).status_code == 200
    assert [m.body for m in messages()] == ["Til A", "Til B"]

    # A caseworker of A sees A's conversation and cannot open B's.
    login(factory.user(a.tenant, Role.CASEWORKER))
    assert client.get(f"/c/{got[0].conversation_id}").status_code == 200
    assert client.get(f"/c/{got[1].conversation_id}").status_code == 404
    assert "Til B" not in client.get("/").get_data(as_text=True)
