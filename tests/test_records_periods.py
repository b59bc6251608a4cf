"""The records pages' periods: records staff close the open period of the embedded journal."""

from __future__ import annotations

from sqlalchemy import select

from archiving.adapters.embedded_models import RecordsCase, RecordsChange, RecordsEntry
from inbox.extensions import db
from inbox.models import AuditEntry, Role
from tests.test_records_export import journalled_tenant


def test_records_officer_closes_the_period_from_the_records_pages(
    app, client, login, factory, tasks
):
    tenant = journalled_tenant(factory, tasks)
    officer = factory.user(tenant, Role.RECORDS_OFFICER)
    caseworker = factory.user(tenant, Role.CASEWORKER)
    other = factory.user(factory.tenant(), Role.RECORDS_OFFICER)

    login(caseworker)
    assert client.get("/records/periods/").status_code == 403
    assert client.post(f"/records/periods/{tenant.id}/close").status_code == 403
    login(other)
    assert client.post(f"/records/periods/{tenant.id}/close").status_code == 404
    assert db.session.scalars(select(RecordsChange)).all() == []

    login(officer)
    page = client.get("/records/periods/").get_data(as_text=True)
    assert "Åpen periode 1" in page and "3 journalposter i 1 saker" in page
    resp = client.post(f"/records/periods/{tenant.id}/close")
    assert resp.status_code == 303
    page = client.get(resp.location).get_data(as_text=True)
    assert "Periode 1 er avsluttet: 3 journalposter er arkivert" in page
    assert "Åpen periode 2" in page and f"av {officer.name}" in page

    db.session.expire_all()
    assert {c.saksstatus for c in db.session.scalars(select(RecordsCase))} == {"A"}
    assert {e.journalstatus for e in db.session.scalars(select(RecordsEntry))} == {"A"}
    assert {c.endret_av for c in db.session.scalars(select(RecordsChange))} == {officer.name}
    assert (
        db.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "archive.close_period")
        ).actor_id
        == officer.id
    )

    # Nothing left to close: said plainly, nothing changes.
    resp = client.post(f"/records/periods/{tenant.id}/close", follow_redirects=True)
    assert "ingenting å avslutte" in resp.get_data(as_text=True)
