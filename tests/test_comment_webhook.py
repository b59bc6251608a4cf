"""The generic signed comment webhook, and public-hearing sources."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from flask import render_template_string
from sqlalchemy import func, select

from channels.registry import reply_limits
from channels.wordpress.hearing import suggested_replies
from inbox.extensions import db
from inbox.models import ChannelAccount, ChannelKind, Conversation, Message, Tenant

SECRET = "s3cret-for-this-source"


@pytest.fixture
def source(factory, monkeypatch) -> ChannelAccount:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COMMENTS_TEST_SECRET", SECRET)
    return factory.channel(
        factory.tenant(),
        ChannelKind.WEB_COMMENTS,
        config={"source": "webhook"},
        secret_refs={"webhook_secret": "COMMENTS_TEST_SECRET"},
    )


def payload(**kw: Any) -> dict[str, Any]:
    data = {
        "id": "c-1001",
        "page_url": "https://www.example.kommune.no/horing/sentrum",
        "page_title": "Høring: Sentrumsplanen",
        "author": {"name": "Kari Nordmann", "email": "kari@example.no"},
        "body": "Jeg er imot planen <b>fordi</b> ...",
        "created_at": "2026-11-20T11:15:00+01:00",
    }
    data.update(kw)
    return {k: v for k, v in data.items() if v is not None}


def post(
    client, account: ChannelAccount, data: Any, *, secret: str = SECRET, raw: bytes | None = None
):  # type: ignore[no-untyped-def]
    """The signed webhook, then the inbound worker's batch it queued (as a worker would)."""
    body = raw if raw is not None else json.dumps(data, ensure_ascii=False).encode()
    sig = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    resp = client.post(
        f"/webhooks/comments/{account.id}",
        data=body,
        headers={"X-Servicetorg-Signature": sig, "Content-Type": "application/json"},
    )
    client.application.extensions["servicetorg.dispatcher"].run_inbound()
    return resp


def count() -> int:
    return db.session.scalar(select(func.count()).select_from(Message))


def test_signed_comment_is_stored_once(client, source) -> None:  # type: ignore[no-untyped-def]
    resp = post(client, source, payload())
    assert resp.status_code == 202, resp.get_json()
    assert resp.get_json()["status"] == "accepted"
    msg = db.session.scalar(select(Message))
    assert msg.body == "Jeg er imot planen <b>fordi</b> ..."  # plain text, escaped when shown
    assert msg.provider_message_id == "c-1001"
    assert msg.sent_at.isoformat() == "2026-11-20T10:15:00+00:00"
    conv = db.session.get(Conversation, msg.conversation_id)
    assert conv.subject == "Høring: Sentrumsplanen"
    assert conv.meta["page_url"] == "https://www.example.kommune.no/horing/sentrum"
    assert conv.contact.name == "Kari Nordmann" and conv.contact.email == "kari@example.no"
    assert "archive_suggestion" not in conv.meta  # not a hearing source
    # A retried delivery: acknowledged, not stored twice.
    again = post(client, source, payload())
    assert again.status_code == 200 and again.get_json()["status"] == "duplicate"
    # A reply on the same page joins the same conversation, threaded under its parent.
    third = post(client, source, payload(id="c-1002", parent_id="c-1001", author={"name": "Ola"}))
    assert third.status_code == 202
    assert count() == 2
    reply = db.session.scalar(select(Message).where(Message.provider_message_id == "c-1002"))
    assert reply.conversation_id == conv.id and reply.provider_parent_id == "c-1001"


def test_forged_or_unsigned_requests_are_refused(client, source) -> None:  # type: ignore[no-untyped-def]
    assert post(client, source, payload(), secret="guessed").status_code == 403
    body = json.dumps(payload()).encode()
    unsigned = client.post(
        f"/webhooks/comments/{source.id}", data=body, content_type="application/json"
    )
    assert unsigned.status_code == 403
    assert unsigned.get_json()["error"] == "bad_signature"
    # Signed, then altered in transit.
    good = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    tampered = client.post(
        f"/webhooks/comments/{source.id}",
        data=body.replace(b"imot", b"for "),
        headers={"X-Servicetorg-Signature": good, "Content-Type": "application/json"},
    )
    assert tampered.status_code == 403
    assert count() == 0


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (payload(id=None), "id"),
        (payload(id="has spaces"), "id"),
        (payload(page_url="javascript:alert(1)"), "page_url"),
        (payload(body="   "), "body"),
        (payload(created_at="20.11.2026"), "created_at"),
        (payload(created_at="2026-11-20T11:15:00"), "created_at"),  # no offset
        (payload(author={"name": "A", "phone": "1"}), "author"),
        (payload(author={"name": "A", "email": "not-an-address"}), "author.email"),
        (payload(extra=1), "extra"),
        (["not", "an", "object"], ""),
    ],
)
def test_malformed_comments_get_clear_400s(client, source, data, field) -> None:  # type: ignore[no-untyped-def]
    resp = post(client, source, data)
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "invalid"
    assert resp.get_json()["field"] == field
    assert count() == 0


def test_invalid_json_and_oversized_bodies(app, client, source) -> None:  # type: ignore[no-untyped-def]
    resp = post(client, source, None, raw=b'{"id": ')
    assert resp.status_code == 400 and resp.get_json()["error"] == "json"
    app.config["WEB_COMMENTS_MAX_BODY_BYTES"] = 2000
    big = post(client, source, payload(body="x" * 3000))
    assert big.status_code == 413 and big.get_json()["error"] == "too_large"
    assert count() == 0


def test_unknown_or_non_webhook_sources_are_404(client, factory, source) -> None:  # type: ignore[no-untyped-def]
    wordpress = factory.channel(
        factory.tenant(), ChannelKind.WEB_COMMENTS, config={"source": "wordpress"}
    )
    assert post(client, wordpress, payload()).status_code == 404
    resp = client.post("/webhooks/comments/999999", data=b"{}")
    assert resp.status_code == 404 and resp.get_json()["error"] == "not_found"


def test_hearing_comments_are_pre_suggested_for_the_archive(client, factory, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COMMENTS_TEST_SECRET", SECRET)
    hearing = factory.channel(
        factory.tenant(),
        ChannelKind.WEB_COMMENTS,
        is_hearing=True,
        config={"source": "webhook", "hearing_form_url": "https://skjema.example.no/horing"},
        secret_refs={"webhook_secret": "COMMENTS_TEST_SECRET"},
    )
    assert post(client, hearing, payload()).status_code == 202
    msg = db.session.scalar(select(Message))
    conv = db.session.get(Conversation, msg.conversation_id)
    assert conv.meta["archive_suggestion"]["reason"] == "hearing"
    assert conv.meta["archive_suggestion"]["message_ids"] == [msg.id]
    assert msg.meta["archive_suggestion"] == {"reason": "hearing"}
    assert suggested_replies(conv) == []  # the author is named: no ready reply


def test_anonymous_hearing_comment_offers_a_ready_reply(
    app, client, factory, monkeypatch, login
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COMMENTS_TEST_SECRET", SECRET)
    tenant = factory.tenant()
    hearing = factory.channel(
        tenant,
        ChannelKind.WEB_COMMENTS,
        is_hearing=True,
        config={"source": "webhook", "hearing_form_url": "https://skjema.example.no/horing"},
        secret_refs={"webhook_secret": "COMMENTS_TEST_SECRET"},
    )
    for i in (1, 2):
        resp = post(client, hearing, payload(id=f"anon-{i}", author=None, body=f"Innspill {i}"))
        assert resp.status_code == 202
    msgs = db.session.scalars(select(Message).order_by(Message.id)).all()
    # Two anonymous comments are two unknown people, never lumped into one contact.
    assert msgs[0].contact_id != msgs[1].contact_id
    assert all(m.meta["anonymous"] for m in msgs)
    conv = db.session.get(Conversation, msgs[0].conversation_id)
    assert conv.meta["archive_suggestion"]["message_ids"] == [m.id for m in msgs]
    (text,) = suggested_replies(conv)
    assert "Anonyme kommentarer kan ikke registreres" in text  # bokmål by default
    assert text.endswith("https://skjema.example.no/horing")
    db.session.get(Tenant, tenant.id).locale = "nn"
    db.session.commit()
    assert "Anonyme kommentarar kan ikkje registrerast" in suggested_replies(conv)[0]
    # The partial shows it, editable, with why it cannot be sent from here (webhook source).
    with app.test_request_context("/?lang=nb"):
        html = render_template_string(
            '{% include "webcomments/_suggested_replies.html" %}',
            conv=conv,
            limits=reply_limits(conv),
        )
    assert "skjema.example.no/horing</textarea>" in html
    assert "kan ikke publiseres automatisk" in html


def test_documented_curl_example_works(app, factory, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Runs the bash/curl/openssl example from docs/web-comments.md against a live server."""
    import re
    import shutil
    import subprocess
    from pathlib import Path

    from tests.live import live_server

    if not (shutil.which("curl") and shutil.which("openssl") and shutil.which("bash")):
        pytest.skip("curl, openssl and bash are needed")
    doc = (Path(__file__).resolve().parent.parent / "docs" / "web-comments.md").read_text()
    script = re.search(r"```bash\n(.*?)```", doc, re.S).group(1)
    secret = re.search(r"SECRET='([^']+)'", script).group(1)
    monkeypatch.setenv("COMMENTS_DOC_SECRET", secret)
    acc = factory.channel(
        factory.tenant(),
        ChannelKind.WEB_COMMENTS,
        config={"source": "webhook"},
        secret_refs={"webhook_secret": "COMMENTS_DOC_SECRET"},
    )
    with live_server(app) as url:
        script = script.replace(
            "https://innboks.kommune.no/webhooks/comments/42", f"{url}/webhooks/comments/{acc.id}"
        )
        out = subprocess.run(
            ["bash", "-c", script], capture_output=True, text=True, timeout=30, check=True
        )
    assert json.loads(out.stdout)["status"] == "accepted", out.stdout + out.stderr
    app.extensions["servicetorg.dispatcher"].run_inbound()
    db.session.expire_all()
    assert db.session.scalar(select(Message)).body == "Jeg er imot planen."
