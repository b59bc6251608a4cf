"""Contact matching after ingest: suggestions only, nothing is merged here."""

from __future__ import annotations

from celery import shared_task

from inbox.extensions import db
from inbox.services import matching


@shared_task(name=matching.TASK)
def match_contacts(contact_ids: list[int] | int) -> int:
    """Suggestions for the new contacts of one transaction (a single id: a task queued by an
    earlier version)."""
    ids = [contact_ids] if isinstance(contact_ids, int) else contact_ids
    created = matching.suggest_for_contacts(ids)
    db.session.commit()
    return len(created)
