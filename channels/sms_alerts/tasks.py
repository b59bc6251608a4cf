"""Celery tasks of SMS alerts (on the outbound queue)."""

from __future__ import annotations

from celery import shared_task

from channels.sms_alerts import sending
from workers.housekeeping import sweep_source

sweep_source("alerts")(sending.stalled)


@shared_task(name=sending.BATCH_TASK)
def alert_batch(alert_id: int) -> dict[str, int]:
    return sending.run_batch(alert_id)
