"""Real time: a committed change reaches the SSE stream of the right municipality only
(through Redis when the suite has one, else through the database event log); typing presence."""

from __future__ import annotations

import json

import pytest

from inbox.extensions import db
from inbox.models import Role
from tests.factories import PASSWORD


@pytest.fixture
def short_streams(app):
    app.config.update(REALTIME_STREAM_SECONDS=3, REALTIME_POLL_SECONDS=0.1)


def read_events(resp):
    """Every event the stream sent before it ended (it ends after REALTIME_STREAM_SECONDS)."""
    events, name = [], None
    for chunk in resp.response:
        for line in (chunk.decode() if isinstance(chunk, bytes) else chunk).splitlines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
    resp.close()
    return events


def test_a_committed_message_reaches_the_stream_of_its_municipality_only(
    app, factory, client, login, short_streams
):
    mine, other = factory.tenant(), factory.tenant()
    my_chat, their_chat = factory.channel(mine), factory.channel(other)
    user = factory.user(mine, Role.CASEWORKER)
    login(user)
    resp = client.get("/live/events")
    assert resp.status_code == 200
    assert resp.mimetype == "text/event-stream"
    assert resp.headers["Cache-Control"] == "no-store"

    theirs = factory.inbound(their_chat, body="Ikke for deg")
    ours = factory.inbound(my_chat, body="Hei fra innbygger")
    ours_id, ours_conv, theirs_conv = ours.id, ours.conversation_id, theirs.conversation_id

    events = read_events(resp)
    messages = [p for name, p in events if name == "message"]
    assert [m["message_id"] for m in messages] == [ours_id]
    assert messages[0]["conversation_id"] == ours_conv
    assert theirs_conv not in {p["conversation_id"] for _, p in events}


def test_another_teams_conversation_is_not_even_named_in_the_stream(
    app, factory, client, login, short_streams
):
    """A caseworker outside the building team hears nothing about its conversations (not even
    their ids); a team-less conversation, and the admin's stream, carry everything."""
    from tests.test_routes_access import forget_user

    tenant = factory.tenant()
    building = factory.team(tenant, "Byggesak")
    team_chat = factory.channel(tenant, team_id=building.id)
    open_chat = factory.channel(tenant)
    outsider = factory.user(tenant, Role.CASEWORKER)
    admin = factory.user(tenant, Role.ADMIN)

    login(outsider)
    resp = client.get("/live/events")
    secret = factory.inbound(team_chat, body="Byggesøknad")
    public = factory.inbound(open_chat, body="Søppeltømming")
    secret_conv, public_conv = secret.conversation_id, public.conversation_id
    raw = b"".join(c if isinstance(c, bytes) else c.encode() for c in resp.response).decode()
    resp.close()
    assert f'"conversation_id": {secret_conv}' not in raw
    assert f'"conversation_id": {public_conv}' in raw

    forget_user()
    login(admin)
    resp = client.get("/live/events")
    factory.inbound(team_chat, body="Mer om byggesøknaden", identity="visitor-admin-sees")
    admin_sees = {p["conversation_id"] for _, p in read_events(resp)}
    assert db.session.get(type(secret.conversation), secret_conv).team_id == building.id
    assert any(
        db.session.get(type(secret.conversation), c).team_id == building.id for c in admin_sees
    )


def test_assignment_and_status_changes_are_streamed(app, factory, client, login, short_streams):
    tenant = factory.tenant()
    user = factory.user(tenant, Role.CASEWORKER)
    conv = factory.conversation(factory.channel(tenant))
    conv_id = conv.id
    login(user)
    resp = client.get("/live/events")
    conv = db.session.get(type(conv), conv_id)
    conv.assignee_id = user.id
    db.session.commit()
    conv.status = conv.status.__class__("closed")
    db.session.commit()
    events = [(n, p["conversation_id"]) for n, p in read_events(resp)]
    assert events == [("assignment", conv_id), ("status", conv_id)]


def test_a_rolled_back_change_sends_nothing(app, factory, client, login, short_streams):
    tenant = factory.tenant()
    user = factory.user(tenant, Role.CASEWORKER)
    conv = factory.conversation(factory.channel(tenant))
    login(user)
    resp = client.get("/live/events")
    conv.assignee_id = user.id
    db.session.flush()
    db.session.rollback()
    conv.has_unread = False  # a change nobody is told about
    db.session.commit()
    assert read_events(resp) == []


def test_the_stream_needs_a_signed_in_user(client):
    assert client.get("/live/events").status_code == 401


def test_a_colleague_sees_who_is_typing(app, factory, client, login):
    tenant, other = factory.tenant(), factory.tenant()
    writer = factory.user(tenant, Role.CASEWORKER, name="Kari Skriver")
    colleague = factory.user(tenant, Role.CASEWORKER)
    outsider = factory.user(other, Role.CASEWORKER)
    conv = factory.conversation(factory.channel(tenant))
    login(writer)
    assert client.post(f"/live/typing/{conv.id}").status_code == 200
    # The writer does not see themself.
    assert client.get(f"/live/typing/{conv.id}").get_json() == {"typing": []}

    other_client = app.test_client()
    other_client.post("/login", data={"email": colleague.email, "password": PASSWORD})
    assert other_client.get(f"/live/typing/{conv.id}").get_json() == {"typing": ["Kari Skriver"]}

    outsider_client = app.test_client()
    outsider_client.post("/login", data={"email": outsider.email, "password": PASSWORD})
    assert outsider_client.get(f"/live/typing/{conv.id}").status_code == 404
    assert outsider_client.post(f"/live/typing/{conv.id}").status_code == 404
