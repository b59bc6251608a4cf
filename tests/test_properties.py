"""Property-based tests (hypothesis) of every public endpoint: whatever a signed provider or
a visitor sends, the answer is never a 5xx and nothing is half-stored (a refused request
stores nothing; what is stored is clean text within MAX_MESSAGE_CHARS).

Case counts are in docs/security.md; the profile (tests/conftest.py) is deterministic so a
CI run is repeatable, HYPOTHESIS_PROFILE=explore draws new cases.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import string
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from channels.interfaces import InvalidPayload
from channels.wordpress.items import parse_item
from channels.wordpress.services import WORDPRESS, store_comment
from inbox.extensions import db
from inbox.models import ChannelKind, Contact, EventState, InboundEvent, Message
from tests.conftest import run_inbound
from tests.fakes.facebook import FakeGraph, Page
from tests.sms_support import sign as twilio_sign
from tests.sms_support import sms_setup

PAGE = "104857600888001"

# Text of every kind, lone surrogates, NUL and controls included; sometimes very long.
any_char = st.characters(exclude_categories=())
texts = st.one_of(
    st.text(any_char, max_size=40),
    st.sampled_from(["", " ", "\x00", "\ud800", "a\r\nb", "STOP", "<script>x</script>"]),
    st.integers(1, 200_000).map(lambda n: "x" * n),
)
numbers = st.one_of(
    st.integers(-(10**40), 10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, 1, -1, 10**30, 1_790_000_000, 1_790_000_000_000]),
)
ids = st.one_of(
    st.integers(-(10**30), 10**30),
    st.text(string.ascii_letters + string.digits + "_-.:", min_size=1, max_size=20),
    st.text(any_char, max_size=300),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts, ids)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The field as the provider documents it (mostly), or something else entirely."""
    return st.integers(0, 9).flatmap(lambda n: json_values if n == 0 else strategy)


def outcome(status: int, before: int) -> None:
    """Labels for --hypothesis-show-statistics: how many cases were stored or refused."""
    event(f"HTTP {status}, {'stored' if count() > before else 'nothing new stored'}")


def settle(app: Any) -> None:
    """The inbound worker runs what the webhook accepted: an event the webhook took must be
    stored, never parked (the worker reads it with the same parser)."""
    run_inbound(app)
    db.session.expire_all()
    parked = db.session.scalars(
        select(InboundEvent.last_error).where(InboundEvent.state == EventState.PARKED)
    ).all()
    assert parked == []


def count(model: Any = Message) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def assert_clean_store(limit: int) -> None:
    for body, name in db.session.execute(
        select(Message.body, Contact.name).join(Contact, Contact.id == Message.contact_id)
    ):
        assert "\x00" not in body and len(body) <= limit
        assert not any(0xD800 <= ord(c) <= 0xDFFF for c in body)
        assert name is None or len(name) <= 200


# --- Facebook ------------------------------------------------------------------------------

attachments = st.lists(
    st.fixed_dictionaries(
        {"type": maybe(st.sampled_from(["image", "file"])), "payload": maybe(st.just({}))}
    ),
    max_size=2,
)
messaging = st.fixed_dictionaries(
    {
        "sender": maybe(st.fixed_dictionaries({"id": maybe(st.just("900100"))})),
        "recipient": maybe(st.just({"id": PAGE})),
        "timestamp": maybe(numbers),
        "message": maybe(
            st.fixed_dictionaries(
                {"mid": maybe(st.from_regex(r"\Am_[a-z0-9]{4,12}\Z")), "text": maybe(texts)},
                optional={"attachments": maybe(attachments), "is_echo": st.booleans()},
            )
        ),
    },
    optional={
        "delivery": maybe(st.fixed_dictionaries({"mids": maybe(st.lists(ids, max_size=3))})),
    },
)
comment_change = st.fixed_dictionaries(
    {
        "field": maybe(st.just("feed")),
        "value": maybe(
            st.fixed_dictionaries(
                {
                    "item": maybe(st.just("comment")),
                    "verb": maybe(st.sampled_from(["add", "edited", "remove"])),
                    "comment_id": maybe(st.from_regex(r"\A[0-9]{1,6}_[0-9]{1,6}\Z")),
                    "post_id": maybe(st.just(f"{PAGE}_1")),
                    "from": maybe(st.fixed_dictionaries({"id": ids, "name": texts})),
                    "message": maybe(texts),
                    "created_time": maybe(numbers),
                    "post": maybe(st.fixed_dictionaries({"permalink_url": texts})),
                }
            )
        ),
    }
)
entries = st.lists(
    st.fixed_dictionaries(
        {"id": maybe(st.just(PAGE))},
        optional={
            "messaging": maybe(st.lists(messaging, max_size=3)),
            "changes": maybe(st.lists(comment_change, max_size=3)),
        },
    ),
    max_size=3,
)
fb_payloads = maybe(
    st.fixed_dictionaries({"object": maybe(st.just("page")), "entry": maybe(entries)})
)


@pytest.fixture
def page(factory, monkeypatch):  # type: ignore[no-untyped-def]
    with FakeGraph(token="page-token-p", app_secret="app-secret-p") as fake:
        yield Page(factory, factory.tenant(), fake, monkeypatch, PAGE)


@given(payload=fb_payloads)
def test_signed_facebook_payloads_never_5xx(app, client, page, payload) -> None:  # type: ignore[no-untyped-def]
    raw = json.dumps(payload).encode()
    before = count()
    resp = client.post(
        f"/webhooks/facebook/{PAGE}",
        data=raw,
        content_type="application/json",
        headers={"X-Hub-Signature-256": page.sign(raw)},
    )
    settle(app)
    outcome(resp.status_code, before)
    assert resp.status_code in (200, 400), resp.status_code
    if resp.status_code == 400:
        assert count() == before
    assert_clean_store(app.config["MAX_MESSAGE_CHARS"])


# --- Twilio --------------------------------------------------------------------------------

sids = st.one_of(
    st.text("0123456789abcdef", min_size=32, max_size=32).map(lambda h: "SM" + h), st.text()
)
form_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
twilio_forms = st.fixed_dictionaries(
    {
        "MessageSid": sids,
        "From": st.one_of(st.just("+4791234567"), form_text),
        "Body": st.one_of(form_text, st.integers(0, 120_000).map(lambda n: "y" * n)),
    },
    optional={
        "NumMedia": st.one_of(st.sampled_from(["0", "1", "11", "-1", "x"]), form_text),
        "MediaUrl0": st.one_of(st.just("https://api.twilio.com/m/1"), form_text),
        "MediaContentType0": st.one_of(st.just("image/jpeg"), form_text),
        "NumSegments": form_text,
        "MessagingServiceSid": form_text,
        "OptOutType": st.one_of(st.sampled_from(["STOP", "START"]), form_text),
    },
)


@pytest.fixture
def sms(app, factory, monkeypatch):  # type: ignore[no-untyped-def]
    with sms_setup(app, factory, monkeypatch) as sms:
        yield sms


@given(form=twilio_forms)
def test_signed_twilio_forms_never_5xx(app, sms, form) -> None:  # type: ignore[no-untyped-def]
    before = count()
    resp = sms.post(sms.path("sms"), form)
    settle(app)
    outcome(resp.status_code, before)
    assert resp.status_code in (200, 400), resp.status_code
    if resp.status_code == 400:
        assert count() == before
    assert_clean_store(app.config["MAX_MESSAGE_CHARS"])


@given(
    form=st.dictionaries(st.sampled_from(["MessageSid", "MessageStatus", "ErrorCode"]), form_text)
)
def test_signed_twilio_status_callbacks_never_5xx(app, sms, form) -> None:  # type: ignore[no-untyped-def]
    path = sms.path("status") + "?m=1"
    headers = {
        "X-Twilio-Signature": twilio_sign(
            "https://innboks.example.kommune.no" + path, form, sms.token
        )
    }
    resp = sms.client.post(path, data=form, headers=headers)
    settle(app)
    assert resp.status_code in (200, 400), resp.status_code


# --- the signed comment webhook --------------------------------------------------------------

SECRET = "property-comment-secret"
iso_times = st.one_of(
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "2026-11-20"]),
)
comment_payloads = maybe(
    st.fixed_dictionaries(
        {
            "id": maybe(st.from_regex(r"\Ac-[0-9]{1,6}\Z")),
            "page_url": maybe(st.just("https://www.example.kommune.no/h")),
            "body": maybe(texts),
            "created_at": maybe(st.just("2026-11-20T11:15:00+01:00")) | iso_times,
        },
        optional={
            "author": maybe(st.fixed_dictionaries({"name": maybe(texts)})),
            "page_title": maybe(texts),
            "parent_id": maybe(ids),
        },
    )
)


@pytest.fixture
def source(factory, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PROPERTY_COMMENTS_SECRET", SECRET)
    return factory.channel(
        factory.tenant(),
        ChannelKind.WEB_COMMENTS,
        config={"source": "webhook"},
        secret_refs={"webhook_secret": "PROPERTY_COMMENTS_SECRET"},
    )


@settings(max_examples=100)
@given(payload=comment_payloads)
def test_signed_comment_webhook_never_5xx(app, client, source, payload) -> None:  # type: ignore[no-untyped-def]
    raw = json.dumps(payload).encode()
    sig = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    before = count()
    resp = client.post(
        f"/webhooks/comments/{source.id}",
        data=raw,
        headers={"X-Servicetorg-Signature": sig, "Content-Type": "application/json"},
    )
    settle(app)
    outcome(resp.status_code, before)
    assert resp.status_code in (200, 202, 400, 413), resp.status_code
    if resp.status_code >= 400:
        assert count() == before
    assert_clean_store(app.config["MAX_MESSAGE_CHARS"])


# --- WordPress comment items (the poll's parser and store) -----------------------------------

wp_items = maybe(
    st.fixed_dictionaries(
        {
            "id": maybe(st.integers(1, 10**6)),
            "post": maybe(st.integers(0, 100)),
            "content": maybe(st.fixed_dictionaries({"rendered": maybe(texts)})),
        },
        optional={
            "parent": maybe(st.integers(0, 10)),
            "author": maybe(st.integers(0, 10)),
            "author_name": maybe(texts),
            "author_email": maybe(texts),
            "date_gmt": maybe(iso_times),
            "link": maybe(texts),
            "status": maybe(st.just("approved")),
        },
    )
)


@pytest.fixture
def wp_site(factory):  # type: ignore[no-untyped-def]
    return factory.channel(
        factory.tenant(), ChannelKind.WEB_COMMENTS, config={"source": "wordpress"}
    )


@settings(max_examples=100)
@given(item=wp_items)
def test_wordpress_comment_items_are_stored_clean_or_refused(app, wp_site, item) -> None:  # type: ignore[no-untyped-def]
    try:
        parsed = parse_item(item)
    except InvalidPayload:
        event("refused by parse_item")
        return
    event("parsed and stored")
    store_comment(wp_site, parsed.comment, WORDPRESS)
    db.session.commit()
    assert_clean_store(app.config["MAX_MESSAGE_CHARS"])


# --- the chat API ------------------------------------------------------------------------------


@pytest.fixture
def chat(app, factory, client):  # type: ignore[no-untyped-def]
    app.config["WEBCHAT_LIMIT_POST_PER_TOKEN"] = "100000/minute"
    app.config["WEBCHAT_LIMIT_POST_PER_IP"] = "100000/minute"
    app.config["WEBCHAT_LIMIT_NEW_VISITOR_PER_IP"] = "100000/minute"
    client.environ_base["REMOTE_ADDR"] = "10.13.1.1"
    account = factory.channel(factory.tenant())
    base = f"/api/chat/{account.external_id}"
    token = client.post(f"{base}/visitor", json={}).get_json()["token"]
    return base, {"X-Chat-Token": token}


chat_bodies = st.one_of(
    st.fixed_dictionaries(
        {"body": maybe(texts), "client_id": maybe(st.from_regex(r"\A[a-z0-9]{8,12}\Z"))}
    ),
    st.fixed_dictionaries({"method": maybe(st.sampled_from(["sms", "email"])), "value": texts}),
    st.fixed_dictionaries({"user_id": maybe(ids), "ts": maybe(numbers), "sig": maybe(texts)}),
    json_values,
    st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),
)


@settings(max_examples=100)
@given(
    endpoint=st.sampled_from(["visitor", "messages", "reply-preference"]),
    body=chat_bodies,
)
def test_chat_api_never_5xx(app, client, chat, endpoint, body) -> None:  # type: ignore[no-untyped-def]
    base, headers = chat
    raw = body if isinstance(body, str) and body.startswith("[") else json.dumps(body)
    before = count()
    resp = client.post(
        f"{base}/{endpoint}", data=raw, content_type="application/json", headers=headers
    )
    outcome(resp.status_code, before)
    assert resp.status_code < 500, resp.status_code
    if resp.status_code >= 400:
        assert count() == before
    assert_clean_store(app.config["MAX_MESSAGE_CHARS"])
