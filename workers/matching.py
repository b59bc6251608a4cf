"""Contact matching after ingest: suggestions only, nothing is merged here."""

from __future__ import annotations

from celery import shared_task

from inbox.extensions import db
from inbox.services import matching


@shared_task(name=matching.TASK)
def match_contacts(contact_id: int) -> int:
    created = matching.suggest_for_contact(contact_id)
    db.session.commit()
    return len(created)
