"""Retention per municipality, set on the admin page: four periods, delete or anonymise, a
preview before it is switched on, every run in the audit log, and nothing on its way to the
records system touched. The beat job uses these settings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from archiving import triage
from inbox.extensions import db
from inbox.models import (
    Attachment,
    AuditEntry,
    Contact,
    ContactIdentity,
    Conversation,
    ConversationStatus,
    Message,
    Role,
)
from inbox.models.base import utcnow
from inbox.services.ingest import InboundAttachment
from workers.housekeeping import apply_retention

LONG_AGO = utcnow() - timedelta(days=400)


def count(model) -> int:  # type: ignore[no-untyped-def]
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def town(factory):
    """Old conversations of every kind in one municipality, retention switched off."""
    tenant = factory.tenant(retention_enabled=False, retention_days=30)
    account = factory.channel(tenant)
    staff = factory.user(tenant, Role.CASEWORKER)
    closed = factory.conversation(account, body="Lukket og gammel", contact_name="Kari Lukket")
    left_open = factory.conversation(account, body="Åpen og glemt", contact_name="Ola Åpen")
    fresh = factory.conversation(account, body="Ny i dag")
    to_archive = factory.conversation(account, body="Skal arkiveres", contact_name="Per Arkiv")
    with_file = factory.conversation(
        account,
        body="Her er bildet",
        attachments=[InboundAttachment("bilde.png", "image/png", data=b"\x89PNG....")],
    )
    triage.flag_conversation(to_archive, staff, case_number="", new_case_title="S", title="T")
    for conv in (closed, to_archive):
        conv.status = ConversationStatus.CLOSED
    for conv in (closed, left_open, to_archive):
        conv.last_activity_at = LONG_AGO
    for att in db.session.scalars(select(Attachment)):
        att.created_at = LONG_AGO
    lonely = Contact(tenant_id=tenant.id, name="Kontakt uten samtaler", created_at=LONG_AGO)
    db.session.add(lonely)
    db.session.commit()
    return {
        "tenant": tenant,
        "admin": factory.user(tenant, Role.ADMIN),
        "closed": closed,
        "open": left_open,
        "fresh": fresh,
        "archive": to_archive,
        "file": with_file,
        "lonely": lonely.id,
        "closed_contact": closed.contact_id,
        "closed_id": closed.id,
    }


SETTINGS = {
    "closed_days": "30",
    "open_days": "180",
    "contact_days": "30",
    "attachment_days": "90",
    "mode": "delete",
}


def test_the_admin_page_previews_before_anything_is_switched_on(town, client, login):
    login(town["admin"])
    page = client.get(f"/admin/privacy/?tenant={town['tenant'].id}").get_data(as_text=True)
    assert "Lagringstid" in page and "slått av" in page
    resp = client.post(f"/admin/privacy/{town['tenant'].id}", data={**SETTINGS, "enabled": "on"})
    assert resp.status_code == 200
    preview = resp.get_data(as_text=True).split('id="retention-preview"')[1]
    # Counts and examples: the closed one, the one left open, the lonely contact, the file.
    assert "Avsluttede samtaler: 1" in preview and "Kari Lukket" in preview
    assert "Åpne samtaler uten aktivitet: 1" in preview and "Ola Åpen" in preview
    assert "Kontakter uten samtaler igjen: 1" in preview and "Kontakt uten samtaler" in preview
    assert "Vedlegg: 1" in preview and "bilde.png" in preview
    assert "Per Arkiv" not in preview  # flagged for the archive
    db.session.expire_all()
    assert town["tenant"].retention_enabled is False  # a preview saves nothing
    assert town["tenant"].retention_open_days is None
    apply_retention.apply().get()
    assert count(Conversation) == 5  # switched off: the beat job leaves everything


def test_saved_settings_drive_the_beat_job_and_every_run_is_audited(town, client, login):
    login(town["admin"])
    resp = client.post(
        f"/admin/privacy/{town['tenant'].id}",
        data={**SETTINGS, "enabled": "on", "action": "save"},
    )
    assert resp.status_code == 303
    [saved] = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "privacy.settings")
    ).all()
    assert saved.actor_id == town["admin"].id and saved.data["after"]["open_days"] == 180

    assert apply_retention.apply().get() == 4
    db.session.expire_all()
    remaining = set(db.session.scalars(select(Conversation.id)))
    assert remaining == {town["fresh"].id, town["archive"].id, town["file"].id}
    assert db.session.get(Contact, town["lonely"]) is None
    assert count(Attachment) == 0
    assert db.session.scalar(select(Message.body).where(Message.body == "Skal arkiveres"))
    [run] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "retention.run"))
    assert run.tenant_id == town["tenant"].id
    assert run.data == {
        "mode": "delete",
        "closed": 1,
        "open": 1,
        "contacts": 1,
        "attachments": 1,
    }
    # The contacts of the deleted conversations go at the next run (no conversations left,
    # created long ago), and that run is in the log too, with its counts.
    for c in db.session.scalars(select(Contact)):
        c.created_at = LONG_AGO
    db.session.commit()
    apply_retention.apply().get()
    runs = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "retention.run").order_by(AuditEntry.id)
    ).all()
    assert [r.data["contacts"] for r in runs] == [1, 2]
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 3


def test_anonymise_keeps_the_rows_and_removes_what_says_who(town, client, login):
    login(town["admin"])
    client.post(
        f"/admin/privacy/{town['tenant'].id}",
        data={**SETTINGS, "mode": "anonymise", "enabled": "on", "action": "save"},
    )
    apply_retention.apply().get()
    db.session.expire_all()
    assert count(Conversation) == 5
    closed = db.session.get(Conversation, town["closed_id"])
    assert closed.anonymised_at is not None
    bodies = [m.body for m in db.session.scalars(select(Message).order_by(Message.id))]
    assert "Lukket og gammel" not in bodies and "Åpen og glemt" not in bodies
    assert "Skal arkiveres" in bodies and "Ny i dag" in bodies
    [att] = db.session.scalars(select(Attachment)).all()
    assert att.data is None and att.filename == "removed"
    lonely = db.session.get(Contact, town["lonely"])
    assert lonely.name is None and lonely.anonymised_at is not None
    # The contacts of anonymised conversations follow once their time is up.
    for c in db.session.scalars(select(Contact)):
        c.created_at = LONG_AGO
    db.session.commit()
    apply_retention.apply().get()
    db.session.expire_all()
    kari = db.session.get(Contact, closed.contact_id)
    assert kari.name is None and kari.anonymised_at is not None
    assert not db.session.scalars(
        select(ContactIdentity).where(ContactIdentity.contact_id == kari.id)
    ).all()
    archived = db.session.get(Conversation, town["archive"].id)
    assert archived.contact.name == "Per Arkiv"  # on its way to the records system


def test_invalid_settings_are_refused_with_a_message(town, client, login):
    login(town["admin"])
    resp = client.post(
        f"/admin/privacy/{town['tenant'].id}",
        data={**SETTINGS, "open_days": "-3", "action": "save"},
    )
    assert resp.status_code == 400
    assert "samtaler som står åpne" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert town["tenant"].retention_open_days is None
