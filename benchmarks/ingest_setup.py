"""Set-up of benchmarks/ingest_bench.py: the servers it starts and stops (process groups of
their own), the databases it creates and removes, and the municipality with one Twilio number
(`python benchmarks/ingest_setup.py seed`, run in the app's environment)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TOKEN_ENV = "BENCH_TWILIO_TOKEN"  # noqa: S105 - the NAME of the variable holding the token
NUMBER = "+4740000000"
try:  # the queues `servicetorg run` has its worker consume, so new ones are included
    from inbox.cli import QUEUE_NAMES as QUEUES
except ImportError:  # pragma: no cover
    QUEUES = ("inbound", "outbound", "archiving", "default")
# The webhook's messages, counted by the MessageSid prefix of a phase ("SM" = all of them).
COUNT_SQL = (
    "SELECT count(*), count(DISTINCT provider_message_id) FROM message "
    "WHERE provider_message_id LIKE {}"
)


# --- processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVICETORG_")}
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Servers:
    """The servers of a run, each in a process group of its own. On exit all are told to stop
    at once, and whatever is left of a group after 10 s is killed."""

    def __init__(self) -> None:
        self.procs: list[tuple[subprocess.Popen[bytes], int]] = []

    def start(
        self, cmd: list[str], env: dict[str, str], log: Path, stop_signal: int = signal.SIGTERM
    ) -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            proc = subprocess.Popen(  # noqa: S603
                cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.procs.append((proc, stop_signal))
        return proc

    def stop(self) -> None:
        for proc, stop_signal in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, stop_signal)
        deadline = time.monotonic() + 10
        for proc, _ in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
        for proc, _ in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the group: also workers left behind
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)


def gunicorn_cmd(args: Any, port: int, app: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "-k",
        "gthread",
        "--threads",
        str(args.threads),
        "-w",
        str(args.web_workers),
        "--preload",  # as README's production section runs it (pages shared by the workers)
        "-b",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        *extra,
        app,
    ]


def beat_cmd(schedule: Path) -> list[str]:
    cmd = [sys.executable, "-m", "celery", "-A", "workers.worker_app", "beat"]
    return [*cmd, "--loglevel=WARNING", "-s", str(schedule)]


def celery_cmd(prefix: str, name: str, *extra: str) -> list[str]:
    queues = ",".join(prefix + q for q in QUEUES)
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers.worker_app",
        "worker",
        "-Q",
        queues,
        "--loglevel=INFO",
        "--without-heartbeat",
        "--without-mingle",
        "--without-gossip",
        "-n",
        f"{name}-{os.getpid()}@%h",
        *extra,
    ]


def wait_until(check: Callable[[], bool], timeout: float, what: str, log: Path | None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if check():
                return
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise RuntimeError(f"{what} did not start within {timeout:.0f} s\n{tail}")


def http_ok(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        return s.recv(64).startswith(b"HTTP/1.1 200")


def children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out += [int(c) for c in (task / "children").read_text().split()]
    return out


def pss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU time each process has used so far (those gone are left out)."""
    out = {}
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            out[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    return out


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between two readings by the processes alive at the second: all of it
    for those started in between (a backend the pool opened during the run)."""
    return sum(used - before.get(pid, 0.0) for pid, used in after.items())


def pids_named(name: str) -> list[int]:
    """Processes whose command name is `name` (e.g. every PostgreSQL backend)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/comm"):
        with contextlib.suppress(OSError, ValueError):
            if stat.read_text().strip() == name:
                out.append(int(stat.parent.name))
    return out


def tree(pid: int) -> list[int]:
    out = [pid]
    for child in children(pid):
        out += tree(child)
    return out


# --- databases -------------------------------------------------------------------------------


class Postgres:
    def __init__(self, server: str, name: str) -> None:
        import psycopg

        self.server, self.name = server.rstrip("/"), name
        self.admin = psycopg.connect(f"{self.server}/postgres", autocommit=True)
        self.admin.execute(f'CREATE DATABASE "{name}"')
        self.url = f"{self.server}/{name}"
        self.conn: Any = None

    def count(self, prefix: str) -> tuple[int, int]:
        import psycopg

        if self.conn is None:
            self.conn = psycopg.connect(self.url, autocommit=True)
        return self.conn.execute(COUNT_SQL.format("%s"), (prefix + "%",)).fetchone()

    def version(self) -> str:
        return self.admin.execute("SHOW server_version").fetchone()[0]

    def autovacuum(self) -> bool:
        return self.admin.execute("SHOW autovacuum").fetchone()[0] == "on"

    def vacuum(self) -> None:
        """What autovacuum does for a database in service: statistics that know how big the
        tables are (else the planner scans tables it takes for tiny) and no dead rows."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")

    def drop(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.admin.close()


class Sqlite:
    def __init__(self, path: Path) -> None:
        self.path = path

    def count(self, prefix: str) -> tuple[int, int]:
        with contextlib.closing(sqlite3.connect(self.path, timeout=30)) as conn:
            return conn.execute(COUNT_SQL.format("?"), (prefix + "%",)).fetchone()


class RedisDbs:
    """The benchmark's Redis databases: refused unless empty, emptied again at the end."""

    def __init__(self, server: str, dbs: list[int]) -> None:
        import redis

        self.clients = [redis.Redis.from_url(f"{server.rstrip('/')}/{n}") for n in dbs]
        self.urls = [f"{server.rstrip('/')}/{n}" for n in dbs]
        for n, client in zip(dbs, self.clients, strict=True):
            if client.dbsize():
                raise SystemExit(f"Redis database {n} is not empty; choose others (--redis-dbs)")
        self.version = self.clients[0].info("server")["redis_version"]

    def queued(self, prefix: str) -> int:
        return sum(int(self.clients[0].llen(prefix + q)) for q in QUEUES)

    def empty(self) -> None:
        for client in self.clients:
            for key in client.scan_iter(count=1000):
                client.delete(key)
            client.close()


# --- set-up (runs in a subprocess with the app's environment) ---------------------------------


def seed() -> None:
    """Migrate and create one municipality with one Twilio number; print its account id."""
    from inbox import create_app
    from inbox.cli import upgrade_database
    from inbox.extensions import db
    from inbox.models import ChannelAccount, ChannelKind, Tenant

    app = create_app()
    with app.app_context():
        upgrade_database()
        tenant = Tenant(slug="bench", name="Benkmark kommune")
        db.session.add(tenant)
        db.session.flush()
        account = ChannelAccount(
            tenant_id=tenant.id,
            kind=ChannelKind.SMS,
            external_id=NUMBER,
            name="SMS-varsling",
            config={"account_sid": "AC" + "be" * 16},
            secret_refs={"auth_token": TOKEN_ENV},
        )
        db.session.add(account)
        db.session.commit()
        print(json.dumps({"account_id": account.id}))


def run_seed(env: dict[str, str]) -> int:
    out = subprocess.run(  # noqa: S603
        [sys.executable, str(Path(__file__).resolve()), "seed"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode:
        raise RuntimeError(f"set-up failed:\n{out.stdout}\n{out.stderr}")
    return int(json.loads(out.stdout.strip().splitlines()[-1])["account_id"])


if __name__ == "__main__" and sys.argv[1:] == ["seed"]:
    seed()
