"""Routing at ingest: rules choose the team, automatic assignment gives conversations in turn
to members who are signed in and available, under the team's cap; the supervisor view shows
each team's load."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import (
    AuditEntry,
    ChannelKind,
    Conversation,
    ConversationStatus,
    IdentityKind,
    Role,
    TeamMember,
)
from inbox.services import routing
from tests.factories import PASSWORD


@pytest.fixture(autouse=True)
def english(app, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "DEFAULT_LOCALE", "en")


def forget() -> None:
    from flask import g

    g.pop("_login_user", None)


def signed_in(app, user):  # type: ignore[no-untyped-def]
    client = app.test_client()
    forget()
    assert (
        client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
    )
    return client


def test_rules_choose_the_team_of_a_new_conversation(app, factory):
    tenant = factory.tenant()
    admin = factory.user(tenant, Role.ADMIN)
    general, building, west = (
        factory.team(tenant, "Servicetorget"),
        factory.team(tenant, "Byggesak"),
        factory.team(tenant, "Vest"),
    )
    sms = factory.channel(tenant, ChannelKind.SMS, team_id=general.id)
    chat = factory.channel(tenant, ChannelKind.WEBCHAT, team_id=general.id)
    routing.add_rule(tenant.id, admin, {"keyword": "BYGGESØKNAD", "team_id": str(building.id)})
    routing.add_rule(
        tenant.id,
        admin,
        {"channel_kind": "sms", "phone_prefix": "+4755", "team_id": str(west.id)},
    )
    db.session.commit()

    def team_of(account, body, identity=None, kind=IdentityKind.CHAT_VISITOR):  # type: ignore[no-untyped-def]
        conv = factory.conversation(account, body=body, identity=identity, kind=kind)
        return db.session.get(Conversation, conv.id).team_id

    assert team_of(chat, "Hei, om min byggesøknad i Storgata") == building.id
    assert team_of(sms, "Hei", "+4755123456", IdentityKind.PHONE) == west.id
    assert team_of(sms, "Hei", "+4791234567", IdentityKind.PHONE) == general.id
    assert team_of(chat, "Hei fra +4755") == general.id  # a chat visitor has no phone number


def test_round_robin_among_signed_in_available_members_under_the_cap(app, factory):
    tenant = factory.tenant()
    team = factory.team(tenant, "Servicetorget")
    team.auto_assign, team.max_open_per_member = True, 2
    kari, ola, per, away = (factory.user(tenant, Role.CASEWORKER) for _ in range(4))
    for u in (kari, ola, per, away):
        db.session.add(TeamMember(team_id=team.id, user_id=u.id))
    away.is_available = False
    db.session.commit()
    clients = [signed_in(app, u) for u in (kari, ola, away)]  # per is not signed in
    assert clients
    account = factory.channel(tenant, ChannelKind.WEBCHAT, team_id=team.id)
    assignees = [
        db.session.get(Conversation, factory.conversation(account).id).assignee_id for _ in range(5)
    ]
    assert assignees == [kari.id, ola.id, kari.id, ola.id, None]  # both at the cap of 2
    # A closed conversation frees a place.
    first = db.session.scalars(
        select(Conversation).where(Conversation.assignee_id == kari.id).order_by(Conversation.id)
    ).first()
    first.status = ConversationStatus.CLOSED
    db.session.commit()
    assert db.session.get(Conversation, factory.conversation(account).id).assignee_id == kari.id


def test_supervisor_view_and_rule_validation(app, factory):
    tenant, other = factory.tenant(), factory.tenant()
    admin = factory.user(tenant, Role.ADMIN)
    other_admin = factory.user(other, Role.ADMIN)
    team = factory.team(tenant, "Byggesak")
    member = factory.user(tenant, Role.CASEWORKER, name="Kari Saksbehandler")
    db.session.add(TeamMember(team_id=team.id, user_id=member.id))
    db.session.commit()
    client = signed_in(app, admin)
    base = f"/admin/municipality/{tenant.id}/routing"
    forget()
    resp = client.post(f"{base}/rules", data={"team_id": str(team.id)})
    assert resp.status_code == 400 and "at least one condition" in resp.get_data(as_text=True)
    forget()
    resp = client.post(f"{base}/rules", data={"phone_prefix": "+47abc", "team_id": str(team.id)})
    assert resp.status_code == 400 and "digits" in resp.get_data(as_text=True)
    forget()
    resp = client.post(f"{base}/rules", data={"keyword": "bygg", "team_id": str(team.id)})
    assert resp.status_code == 303
    forget()
    resp = client.post(f"{base}/teams/{team.id}", data={"auto_assign": "1", "cap": "3"})
    assert resp.status_code == 303
    forget()
    page = client.get(base).get_data(as_text=True)
    assert "Kari Saksbehandler" in page and "0 / 3" in page and "«bygg»" in page
    forget()
    resp = client.post(
        f"{base}/teams/{team.id}/members/{member.id}/available", data={"available": "0"}
    )
    assert resp.status_code == 303
    db.session.expire_all()
    assert not db.session.get(type(member), member.id).is_available
    actions = set(db.session.scalars(select(AuditEntry.action)))
    assert {"routing.rule_add", "routing.assignment", "routing.away"} <= actions
    # Another municipality's admin sees nothing of it and cannot use its team.
    outsider = signed_in(app, other_admin)
    forget()
    assert outsider.get(base).status_code == 404
    forget()
    resp = outsider.post(
        f"/admin/municipality/{other.id}/routing/rules",
        data={"keyword": "x", "team_id": str(team.id)},
    )
    assert resp.status_code == 400


def test_a_caseworker_marks_themself_away_and_back(app, factory):
    tenant = factory.tenant()
    team = factory.team(tenant, "Servicetorget")
    team.auto_assign, team.max_open_per_member = True, 10
    kari, ola = factory.user(tenant, Role.CASEWORKER), factory.user(tenant, Role.CASEWORKER)
    for u in (kari, ola):
        db.session.add(TeamMember(team_id=team.id, user_id=u.id))
    db.session.commit()
    ola_client = signed_in(app, ola)
    kari_client = signed_in(app, kari)
    page = kari_client.get("/account/sessions").get_data(as_text=True)
    assert "You are available" in page
    resp = kari_client.post("/account/availability", data={"available": "0"})
    assert resp.status_code == 303
    forget()
    assert "You are away" in kari_client.get("/account/sessions").get_data(as_text=True)
    account = factory.channel(tenant, ChannelKind.WEBCHAT, team_id=team.id)
    assignees = {
        db.session.get(Conversation, factory.conversation(account).id).assignee_id for _ in range(3)
    }
    assert assignees == {ola.id}  # Kari is away: nothing for her
    away = db.session.scalar(
        select(AuditEntry).where(
            AuditEntry.action == "routing.away", AuditEntry.actor_id == kari.id
        )
    )
    assert away is not None and away.tenant_id == tenant.id
    forget()
    kari_client.post("/account/availability", data={"available": "1"})
    assert db.session.get(Conversation, factory.conversation(account).id).assignee_id == kari.id
    assert ola_client
