"""Keeps the insight facts and rollups up to date (inbox/services/insight.py, docs/insight.md)."""

from __future__ import annotations

from celery import shared_task

from inbox.services import insight


@shared_task(name="servicetorg.insight.refresh")
def refresh() -> int:
    """Refresh every municipality's facts from what changed since the last run."""
    return insight.refresh_all()
