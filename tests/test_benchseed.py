"""The benchmark's seeding code works (on a tiny data set; the benchmark itself is not a test)."""

from __future__ import annotations

from sqlalchemy import func, select

from inbox.benchseed import BENCH_PASSWORD, seed_bench
from inbox.extensions import db
from inbox.models import ChannelAccount, Conversation, Message


def test_seed_bench_builds_a_usable_data_set(app, client):
    result = seed_bench(conversations=40, messages=200, tenants=3, long_thread=20)
    assert db.session.scalar(select(func.count()).select_from(Message)) == 200
    assert db.session.scalar(select(func.count()).select_from(Conversation)) == 40
    assert db.session.scalar(select(func.count()).select_from(ChannelAccount)) == 12
    long_thread = db.session.scalar(
        select(func.count()).where(Message.conversation_id == result.long_conversation_id)
    )
    assert long_thread == 20

    # The seeded caseworker can sign in and find what was seeded.
    resp = client.post("/login", data={"email": result.user_email, "password": BENCH_PASSWORD})
    assert resp.status_code == 302
    assert "data-conversation-id" in client.get("/?view=all").get_data(as_text=True)
    assert client.get(f"/c/{result.long_conversation_id}").status_code == 200
    html = client.get("/search?q=Hei").get_data(as_text=True)
    assert "<mark>" in html
