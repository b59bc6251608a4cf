"""The newcomer path: `servicetorg run` starts web, worker and beat on an embedded broker, and a
chat message can be answered through them."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from tests.live import ROOT, wait_for

pytestmark = pytest.mark.worker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_servicetorg_run_answers_a_chat_end_to_end(tmp_path: Path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVICETORG_")}
    env["SERVICETORG_INSTANCE_PATH"] = str(tmp_path / "instance")
    exe = Path(sys.executable).with_name("servicetorg")
    proc = subprocess.Popen(
        [str(exe), "run", "--port", str(port)],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    output: list[str] = []
    threading.Thread(target=lambda: output.extend(proc.stdout), daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: "Press Ctrl+C" in "".join(output), timeout=90)
        text = "".join(output)
        assert f"{base}/demo/eksempel" in text
        email, password = re.search(r"caseworker\s+(\S+)\s+password: (\S+)", text).groups()
        wait_for(lambda: _ok(f"{base}/healthz"), timeout=30)
        wait_for(lambda: " ready." in "".join(output), timeout=60)  # the Celery worker

        demo = requests.get(f"{base}/demo/eksempel", timeout=20).text
        key = re.search(r'data-key="([^"]+)"', demo).group(1)
        token = requests.post(f"{base}/api/chat/{key}/visitor", timeout=20).json()["token"]
        chat = {"X-Chat-Token": token}
        api = f"{base}/api/chat/{key}/messages"
        r = requests.post(
            api, json={"body": "Hei fra demo", "client_id": "demo-0001"}, headers=chat, timeout=20
        )
        assert r.status_code == 202, "".join(output[-80:])  # stored by the worker

        staff = requests.Session()
        login = staff.get(f"{base}/login", timeout=20).text
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login).group(1)
        r = staff.post(
            f"{base}/login",
            data={"email": email, "password": password, "csrf_token": csrf},
            timeout=20,
        )
        conv_path = wait_for(
            lambda: re.search(r'href="(/c/\d+)"', staff.get(f"{base}/", timeout=20).text),
            timeout=30,
            interval=0.5,
        ).group(1)
        page = staff.get(base + conv_path, timeout=20).text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        staff.post(
            f"{base}{conv_path}/reply",
            data={"body": "Hei tilbake", "kind": "reply", "csrf_token": csrf},
            timeout=20,
        )

        def answered():
            msgs = requests.get(api, headers=chat, timeout=20).json()["messages"]
            return [m["body"] for m in msgs if m["from"] == "staff"]

        assert wait_for(answered, timeout=30, interval=1) == ["Hei tilbake"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    assert proc.returncode == 0 or proc.returncode == -signal.SIGTERM


def _ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=10).status_code == 200
    except (requests.ConnectionError, requests.Timeout):
        return False
