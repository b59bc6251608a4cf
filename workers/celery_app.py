"""Celery wired to Flask: every task runs inside an application context."""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from flask import Flask

from inbox.db import writer
from workers.schedule import beat_schedule

# Task modules; each holds the tasks of one queue.
TASK_MODULES = [
    "workers.inbound",
    "workers.events",
    "workers.outbound",
    "workers.archiving",
    "workers.housekeeping",
    "workers.matching",
    "channels.twilio_sms.tasks",
]
QUEUES = ("inbound", "outbound", "archiving", "default")


def queue_names(prefix: str) -> dict[str, str]:
    return {q: f"{prefix}{q}" for q in QUEUES}


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context(), writer():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask, include=TASK_MODULES)
    celery.conf.update(celery_config(app.config))
    celery.set_default()
    app.extensions["celery"] = celery
    app.extensions.setdefault("servicetorg.dispatcher", CeleryDispatcher(celery))
    return celery


def celery_config(cfg: dict[str, Any]) -> dict[str, Any]:
    q = queue_names(cfg["CELERY_QUEUE_PREFIX"])
    conf: dict[str, Any] = {
        "broker_url": cfg["BROKER_URL"],
        "broker_connection_retry_on_startup": True,
        "task_ignore_result": True,
        # A task is acknowledged only when it finished, and re-delivered when the worker dies.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_default_queue": q["default"],
        "task_routes": {
            "servicetorg.inbound.*": {"queue": q["inbound"]},
            "servicetorg.outbound.*": {"queue": q["outbound"]},
            "servicetorg.archiving.*": {"queue": q["archiving"]},
            "servicetorg.housekeeping.*": {"queue": q["default"]},
        },
        "beat_schedule": beat_schedule(cfg),
        "timezone": "UTC",
        "task_always_eager": cfg["CELERY_TASK_ALWAYS_EAGER"],
        "worker_hijack_root_logger": False,
    }
    url = str(cfg["BROKER_URL"])
    if url.startswith("redis") and cfg["CELERY_QUEUE_PREFIX"]:
        # Keep several installations (or test runs) apart on one Redis.
        conf["broker_transport_options"] = {"global_keyprefix": cfg["CELERY_QUEUE_PREFIX"]}
    return conf


class CeleryDispatcher:
    """Sends tasks by name through the broker (used after each commit)."""

    def __init__(self, celery: Celery) -> None:
        self.celery = celery

    def send(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.celery.send_task(name, args=args, kwargs=kwargs)
