"""The action bar: assignee, team, status and tags changed in one go, undone within a few
seconds; merging is behind a confirmation; another municipality's conversation is out of reach."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import AuditEntry, ChannelKind, ConversationStatus, Role
from inbox.services import tags


@pytest.fixture
def desk(app, factory):  # type: ignore[no-untyped-def]
    tenant = factory.tenant()
    team = factory.team(tenant, "Bygg")
    cw = factory.user(tenant, Role.CASEWORKER, name="Kari Saksbehandler")
    colleague = factory.user(tenant, Role.CASEWORKER, name="Ola Kollega")
    conv = factory.conversation(factory.channel(tenant, ChannelKind.WEBCHAT), body="Hei")
    tags.add(conv, cw, "vann")
    db.session.commit()
    return {"tenant": tenant, "team": team, "cw": cw, "colleague": colleague, "conv": conv}


def bar(desk, **fields):
    form = {"assignee": "", "team_id": "", "status": "open", "until": "", "tags": "vann"}
    form.update(fields)
    return form


def test_one_apply_changes_everything_and_undo_puts_it_back(client, login, desk):
    conv, colleague = desk["conv"], desk["colleague"]
    login(desk["cw"])
    page = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert 'id="action-form"' in page and 'id="assign-form"' not in page  # one form, not five
    resp = client.post(
        f"/c/{conv.id}/actions",
        data=bar(desk, assignee=str(colleague.id), status="pending", tags="vann, avløp"),
    )
    assert resp.status_code == 303
    page = client.get(resp.location).get_data(as_text=True)
    assert "Lagret: ansvarlig, status, stikkord." in page
    assert 'id="undo-form"' in page
    db.session.refresh(conv)
    assert conv.assignee_id == colleague.id and conv.status is ConversationStatus.PENDING
    assert tags.names_for([conv.id])[conv.id] == ["avløp", "vann"]
    actions = [e.action for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert {"assign", "status", "tag.add"} <= set(actions)

    resp = client.post(f"/c/{conv.id}/undo")
    page = client.get(resp.location).get_data(as_text=True)
    assert "Angret." in page and 'id="undo-form"' not in page
    db.session.refresh(conv)
    assert conv.assignee_id is None and conv.status is ConversationStatus.OPEN
    assert tags.names_for([conv.id])[conv.id] == ["vann"]
    # An undo is used once.
    resp = client.post(f"/c/{conv.id}/undo")
    assert "For sent å angre" in client.get(resp.location).get_data(as_text=True)


def test_undo_runs_out(client, login, desk, app):
    app.config["UNDO_SECONDS"] = -1  # already past
    login(desk["cw"])
    conv = desk["conv"]
    client.post(f"/c/{conv.id}/actions", data=bar(desk, status="pending"))
    assert 'id="undo-form"' not in client.get(f"/c/{conv.id}").get_data(as_text=True)
    resp = client.post(f"/c/{conv.id}/undo")
    assert "For sent å angre" in client.get(resp.location).get_data(as_text=True)
    db.session.refresh(conv)
    assert conv.status is ConversationStatus.PENDING


def test_snooze_from_the_bar_and_bad_input(client, login, desk):
    conv = desk["conv"]
    login(desk["cw"])
    resp = client.post(f"/c/{conv.id}/actions", data=bar(desk, until="2099-01-01T08:00"))
    assert "Lagret: slumretid." in client.get(resp.location).get_data(as_text=True)
    db.session.refresh(conv)
    assert conv.status is ConversationStatus.SNOOZED
    resp = client.post(f"/c/{conv.id}/actions", data=bar(desk, until="i morgen"))
    assert "Skriv tidspunktet" in client.get(resp.location).get_data(as_text=True)
    resp = client.post(f"/c/{conv.id}/actions", data=bar(desk, tags="x" * 65))
    assert "Et stikkord er 1 til 64 tegn." in client.get(resp.location).get_data(as_text=True)
    assert client.post(f"/c/{conv.id}/actions", data=bar(desk, assignee="abc")).status_code == 400


def test_merge_is_confirmed_and_destructive(client, login, desk, factory):
    conv = desk["conv"]
    factory.conversation(conv.channel_account, body="Igjen", identity=None)
    login(desk["cw"])
    page = client.get(f"/c/{conv.id}").get_data(as_text=True)
    if 'id="merge-conv-form"' in page:
        form = page[page.index('id="merge-conv-form"') :]
        form = form[: form.index("</form>")]
        assert 'name="confirm" value="yes"' in form and 'class="danger"' in form


def test_other_municipality_cannot_use_the_bar(client, login, desk, factory):
    other = factory.tenant()
    stranger = factory.user(other, Role.CASEWORKER)
    login(stranger)
    conv = desk["conv"]
    assert client.post(f"/c/{conv.id}/actions", data=bar(desk, status="closed")).status_code == 404
    assert client.post(f"/c/{conv.id}/undo").status_code == 404
    db.session.refresh(conv)
    assert conv.status is ConversationStatus.OPEN


def test_tags_are_suggested_from_the_first_message(client, login, desk, factory):
    tenant, cw = desk["tenant"], desk["cw"]
    conv = factory.conversation(
        factory.channel(tenant, ChannelKind.SMS), body="Spørsmål om byggesaken min i Storgata"
    )
    tags.add(desk["conv"], cw, "byggesak")
    tags.add(desk["conv"], cw, "skole")
    db.session.commit()
    login(cw)
    page = client.get(f"/c/{conv.id}").get_data(as_text=True)
    bar = page[page.index('id="tag-suggestions-bar"') :]
    bar = bar[: bar.index("</div>")]
    assert "+ byggesak" in bar and "skole" not in bar
    resp = client.post(f"/c/{conv.id}/actions", data={"tags": "byggesak"})
    assert "Lagret: stikkord." in client.get(resp.location).get_data(as_text=True)
    assert tags.names_for([conv.id])[conv.id] == ["byggesak"]
    assert 'id="tag-suggestions-bar"' not in client.get(f"/c/{conv.id}").get_data(as_text=True)
