"""Celery wired to Flask: every task runs inside an application context."""

from __future__ import annotations

import time
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
    "channels.facebook.tasks",
    "workers.insight",
    "channels.sms_alerts.tasks",
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
    # Publishing happens after a commit, in the request: with the broker down it must cost
    # milliseconds, not the default retries (the sweeper sends what could not be sent).
    conf["task_publish_retry_policy"] = {
        "max_retries": 1,  # one reconnect, for a pooled connection the broker has dropped
        "interval_start": 0,
        "interval_step": 0.1,
        "interval_max": 0.1,
    }
    conf["broker_connection_timeout"] = BROKER_TIMEOUT_SECONDS
    url = str(cfg["BROKER_URL"])
    if url.startswith("redis"):
        options: dict[str, Any] = {
            "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
            "socket_timeout": 5,
        }
        if cfg["CELERY_QUEUE_PREFIX"]:
            # Keep several installations (or test runs) apart on one Redis.
            options["global_keyprefix"] = cfg["CELERY_QUEUE_PREFIX"]
        conf["broker_transport_options"] = options
    return conf


BROKER_TIMEOUT_SECONDS = 0.5  # connecting to the broker (loopback or the local network)


class BrokerUnavailable(ConnectionError):
    """The broker failed moments ago; this send was not tried."""


class CeleryDispatcher:
    """Sends tasks by name through the broker (used after each commit).

    After a failed send it tries nothing for `pause` seconds: with the broker down, every
    request would otherwise pay for a connection attempt. What was not sent stays in the
    database for the sweeper."""

    def __init__(self, celery: Celery, pause: float = 2.0) -> None:
        self.celery, self.pause = celery, pause
        self._down_until = 0.0

    def send(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if time.monotonic() < self._down_until:
            raise BrokerUnavailable("the broker failed moments ago; not tried")
        try:
            self.celery.send_task(name, args=args, kwargs=kwargs)
        except Exception:
            self._down_until = time.monotonic() + self.pause
            raise
