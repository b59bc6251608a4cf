"""The beat schedule: pollers and housekeeping."""

from __future__ import annotations

from typing import Any


def beat_schedule(cfg: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        # Re-sends work whose task was lost (broker down at commit time, worker killed).
        "sweep": {
            "task": "servicetorg.housekeeping.sweep",
            "schedule": float(cfg["SWEEP_INTERVAL_SECONDS"]),
        },
        # Pull connectors catch what webhooks missed.
        "poll-channels": {
            "task": "servicetorg.inbound.poll_all",
            "schedule": float(cfg["POLL_INTERVAL_SECONDS"]),
        },
        # Snoozed conversations reopen when their time comes (at most a minute late).
        "reopen-snoozed": {
            "task": "servicetorg.housekeeping.reopen_snoozed",
            "schedule": 60.0,
        },
        # Processed inbound events (raw copies of what citizens sent) past their keep time.
        "purge-events": {
            "task": "servicetorg.housekeeping.purge_events",
            "schedule": 3600.0,
        },
        "retention": {
            "task": "servicetorg.housekeeping.apply_retention",
            "schedule": 3600.0,
        },
        # The insight dashboard's facts and rollups (docs/insight.md).
        "insight-refresh": {
            "task": "servicetorg.insight.refresh",
            "schedule": 300.0,
        },
    }
