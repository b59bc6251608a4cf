"""Journalling approved archive items."""

from __future__ import annotations

from celery import shared_task

from archiving.journal import journal_item


@shared_task(name="servicetorg.archiving.journal")
def journal(item_id: int) -> str:
    # Back-off for an unavailable records system is driven by the sweeper (next_attempt_at),
    # which survives worker restarts; the task itself just tries once.
    return journal_item(item_id)
