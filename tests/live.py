"""Real processes for end-to-end tests: a Celery worker subprocess and a live HTTP server."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
QUEUES = ("inbound", "outbound", "archiving", "default")


def worker_env(config: dict[str, Any]) -> dict[str, str]:
    env = dict(os.environ)
    for key in ("DATABASE_URL", "BROKER_URL", "SECRET_KEY", "CELERY_QUEUE_PREFIX", "RECORDS_DIR"):
        env[f"SERVICETORG_{key}"] = str(config[key])
    if config.get("REDIS_URL"):
        env["SERVICETORG_REDIS_URL"] = config["REDIS_URL"]
    env["SERVICETORG_INSTANCE_PATH"] = config["INSTANCE_PATH"]
    env["SERVICETORG_MODE"] = "embedded"
    for key, value in config.get("WORKER_ENV", {}).items():
        env[key] = value
    return env


@contextmanager
def celery_worker(
    config: dict[str, Any], name: str = "test", extra_args: tuple[str, ...] = ()
) -> Iterator[subprocess.Popen[str]]:
    """Start `celery worker` on the test broker and database; stop it afterwards. It leads a
    process group of its own (a test may SIGKILL the group)."""
    prefix = config["CELERY_QUEUE_PREFIX"]
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers.worker_app",
        "worker",
        "--pool=solo",
        "-Q",
        ",".join(prefix + q for q in QUEUES),
        "--loglevel=INFO",
        "--without-heartbeat",
        "--without-mingle",
        "--without-gossip",
        "-n",
        f"{name}-{os.getpid()}@%h",
        *extra_args,
    ]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=worker_env(config),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if " ready." in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 60
    while not ready.wait(0.2):
        if proc.poll() is not None or time.monotonic() > deadline:
            break
    if not ready.is_set():
        proc.kill()
        raise RuntimeError("celery worker did not start:\n" + "".join(lines[-40:]))
    proc.output = lines  # type: ignore[attr-defined]
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextmanager
def live_server(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def wait_for(check: Callable[[], Any], timeout: float = 30, interval: float = 0.1) -> Any:
    """Poll until check() returns something truthy; fail with the last value otherwise."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")
