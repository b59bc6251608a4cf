"""Property-based test of the Instagram webhook, as for every public endpoint
(tests/test_properties.py): whatever a signed delivery holds, the answer is 200 or 400, never
a 5xx; a refused delivery stores nothing, and what is stored is clean text within limits."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fakes.instagram import FakeInstagramGraph, InstagramAccount
from tests.test_properties import (
    assert_clean_store,
    count,
    ids,
    maybe,
    numbers,
    outcome,
    settle,
    texts,
)

IG = "17841400000000888"
PAGE = "104857600888088"

attachments = st.lists(
    st.fixed_dictionaries(
        {
            "type": maybe(st.sampled_from(["image", "share", "story_mention"])),
            "payload": maybe(st.fixed_dictionaries({"url": texts})),
        }
    ),
    max_size=2,
)
messaging = st.fixed_dictionaries(
    {
        "sender": maybe(st.fixed_dictionaries({"id": maybe(st.just("17841455500000001"))})),
        "recipient": maybe(st.just({"id": IG})),
        "timestamp": maybe(numbers),
        "message": maybe(
            st.fixed_dictionaries(
                {"mid": maybe(st.from_regex(r"\AaWdf[a-zA-Z0-9]{4,12}\Z")), "text": maybe(texts)},
                optional={
                    "attachments": maybe(attachments),
                    "is_echo": st.booleans(),
                    "is_deleted": st.booleans(),
                    "is_unsupported": st.booleans(),
                },
            )
        ),
    },
    optional={"read": maybe(st.fixed_dictionaries({"mid": maybe(ids)}))},
)
comment_change = st.fixed_dictionaries(
    {
        "field": maybe(st.sampled_from(["comments", "live_comments", "mentions"])),
        "value": maybe(
            st.fixed_dictionaries(
                {
                    "id": maybe(st.from_regex(r"\A[0-9]{1,17}\Z")),
                    "text": maybe(texts),
                    "from": maybe(st.fixed_dictionaries({"id": ids, "username": texts})),
                    "media": maybe(
                        st.fixed_dictionaries(
                            {"id": maybe(st.just("17895695668000001")), "media_product_type": texts}
                        )
                    ),
                },
                optional={"parent_id": maybe(ids)},
            )
        ),
    }
)
entries = st.lists(
    st.fixed_dictionaries(
        {"id": maybe(st.just(IG))},
        optional={
            "messaging": maybe(st.lists(messaging, max_size=3)),
            "changes": maybe(st.lists(comment_change, max_size=3)),
        },
    ),
    max_size=3,
)
ig_payloads = maybe(
    st.fixed_dictionaries({"object": maybe(st.just("instagram")), "entry": maybe(entries)})
)


@pytest.fixture
def account(factory, monkeypatch):  # type: ignore[no-untyped-def]
    with FakeInstagramGraph(token="ig-token-p", app_secret="ig-secret-p") as fake:
        yield InstagramAccount(factory, factory.tenant(), fake, monkeypatch, IG, PAGE)


@given(payload=ig_payloads)
def test_signed_instagram_payloads_never_5xx(app, client, account, payload) -> None:  # type: ignore[no-untyped-def]
    raw = json.dumps(payload).encode()
    before = count()
    resp = client.post(
        f"/webhooks/instagram/{IG}",
        data=raw,
        content_type="application/json",
        headers={"X-Hub-Signature-256": account.sign(raw)},
    )
    settle(app)
    outcome(resp.status_code, before)
    assert resp.status_code in (200, 400), resp.status_code
    if resp.status_code == 400:
        assert count() == before
    assert_clean_store(app.config["MAX_MESSAGE_CHARS"])
