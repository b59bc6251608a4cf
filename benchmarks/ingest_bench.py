"""Ingest benchmark: signed Twilio webhooks against the production setup, on loopback only.

    make bench-ingest                                   # the full run (about 10 minutes at most)
    .venv/bin/python benchmarks/ingest_bench.py --burst 2000 --label before

It starts everything itself and stops everything on exit (also on Ctrl-C or an error): a fresh
PostgreSQL database on 127.0.0.1:5432 (created, then dropped), Redis on 127.0.0.1:6379 (two
database numbers that must be empty, emptied again afterwards, and a queue prefix of its own),
gunicorn (gthread, 2 workers) serving `inbox.wsgi:app` in production mode, one Celery worker,
the same in embedded mode (SQLite, embedded broker) and a bare Flask app under the same gunicorn
settings (benchmarks/ingest_ceiling.py). One load generator (benchmarks/ingest_loadgen.py, a
process of its own) measures, alternating over --rounds rounds:

  (a) the bare-Flask ceiling: max answers/s and p50/p99 at --rate offered;
  (b) the app's signed webhook acceptance: max accepted/s and p50/p99 at --rate offered;
  (c) end to end: --burst messages from the first request until all are rows in the database,
      the final count asserted to be exactly --burst (none lost, no twins);
  (d) (b)'s max accepted/s in embedded mode, with the count of 5xx answers;
  (e) after the run, the PSS of the web workers and the Celery worker (/proc/PID/smaps_rollup).

On a PostgreSQL server with autovacuum off, the bench runs VACUUM ANALYZE on its database after
each of the app's runs, as autovacuum would (--no-vacuum: it does not).

Results go into benchmarks/RESULTS-ingest.md, in a section named by --label (replaced on a
re-run with the same label), as ratios to the ceiling of the same run with the issue's goals.
--profile runs py-spy (`.venv/bin/pip install py-spy`) on the web workers during (b).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from ingest_loadgen import sid_prefix  # noqa: E402
from ingest_report import Round, Summary, render, summarise, write_section  # noqa: E402
from ingest_setup import (  # noqa: E402
    NUMBER,
    TOKEN_ENV,
    Postgres,
    RedisDbs,
    Servers,
    Sqlite,
    beat_cmd,
    celery_cmd,
    children,
    clean_env,
    cpu_seconds,
    cpu_used,
    free_port,
    gunicorn_cmd,
    http_ok,
    pids_named,
    pss_kib,
    run_seed,
    tree,
    wait_until,
)

# Phases: the first hex digit of a MessageSid's phase byte; the second is the round.
PH_CEILING, PH_APP_MAX, PH_APP_RATE, PH_BURST, PH_EMB_MAX = 1, 2, 3, 4, 5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    p.add_argument("--burst", type=int, default=20_000, help="messages in the end-to-end burst")
    p.add_argument("--burst-timeout", type=float, default=150, help="give up a burst after (s)")
    p.add_argument("--max-seconds", type=float, default=5, help="length of a max-rate run (s)")
    p.add_argument("--rate", type=int, default=500, help="offered rate of the latency run (/s)")
    p.add_argument("--rate-seconds", type=float, default=5, help="length of the latency run (s)")
    p.add_argument("--connections", type=int, default=32, help="generator connections")
    p.add_argument("--timeout", type=float, default=30, help="a request's timeout (s)")
    p.add_argument("--senders", type=int, default=5000, help="distinct citizens' numbers")
    p.add_argument("--web-workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=16, help="gunicorn gthread threads per worker")
    p.add_argument(
        "--worker-args",
        default="--pool threads --concurrency 4",
        help="extra arguments of the production `celery worker` (default, as in README's "
        "production section: %(default)s)",
    )
    p.add_argument(
        "--worker-nice",
        type=int,
        default=10,
        help="niceness of the Celery worker, as README's production section starts it "
        "(default %(default)s; 0 = the web's priority)",
    )
    p.add_argument("--beat", action="store_true", help="also run Celery beat (the sweeper)")
    p.add_argument("--drain-timeout", type=float, default=120, help="wait for a backlog (s)")
    p.add_argument("--no-embedded", action="store_true", help="skip (d)")
    p.add_argument(
        "--no-vacuum",
        action="store_true",
        help="on a server with autovacuum off, do not VACUUM ANALYZE between the app's runs",
    )
    p.add_argument("--profile", action="store_true", help="py-spy the web workers during (b)")
    p.add_argument("--label", default="after", help="results section (default: %(default)s)")
    p.add_argument("--output", type=Path, default=HERE / "RESULTS-ingest.md")
    p.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432", help="server URL")
    p.add_argument("--redis", default="redis://127.0.0.1:6379", help="server URL")
    p.add_argument("--redis-dbs", default="11,12", help="broker and REDIS_URL database numbers")
    args = p.parse_args(argv)
    for name in ("pg", "redis"):
        host = getattr(args, name).split("@")[-1].split("//")[-1].split(":")[0]
        if host not in ("127.0.0.1", "localhost", "::1"):
            p.error(f"--{name}: loopback only, not {host}")
    return args


# --- measuring -------------------------------------------------------------------------------


class Target:
    """One server under load: its address, its Twilio number's webhook, where its rows land."""

    def __init__(self, name: str, proc: Any, port: int, account_id: int, counter: Any) -> None:
        self.name, self.proc, self.port, self.counter = name, proc, port, counter
        self.path = f"/webhooks/twilio/{account_id}/sms"

    def spec(self, args: argparse.Namespace, token: str, **extra: Any) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "path": self.path,
            "public_base_url": f"http://127.0.0.1:{self.port}",
            "token": token,
            "to": NUMBER,
            "senders": args.senders,
            "timeout": args.timeout,
            "connections": args.connections,
            **extra,
        }


def start_generator(spec: dict[str, Any]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, str(HERE / "ingest_loadgen.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(spec))
    proc.stdin.close()
    return proc


def finish_generator(proc: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    assert proc.stdout is not None and proc.stderr is not None
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
    out, err = proc.stdout.read(), proc.stderr.read()
    if proc.returncode:
        raise RuntimeError(f"load generator failed:\n{err}")
    return json.loads(out)


def generate(spec: dict[str, Any]) -> dict[str, Any]:
    proc = start_generator(spec)
    try:
        return finish_generator(proc, 120 + spec.get("seconds", 0) + spec["timeout"] * 2)
    finally:
        if proc.poll() is None:
            proc.kill()


def drain(target: Target, redis_dbs: RedisDbs | None, prefix: str, timeout: float) -> float:
    """Wait until the server has worked off what earlier runs left (requests queued in its
    backlog, events or tasks queued for the worker): the row count is still for 2 s and the
    Celery queues are empty. Returns the seconds waited."""
    start = time.monotonic()
    last, still_since = None, time.monotonic()
    while time.monotonic() - start < timeout:
        count = target.counter.count("SM")[0]
        queued = redis_dbs.queued(prefix) if redis_dbs else 0
        if count != last or queued:
            last, still_since = count, time.monotonic()
        elif time.monotonic() - still_since >= 2.0:
            break
        time.sleep(0.25)
    return time.monotonic() - start


def burst(target: Target, spec: dict[str, Any], expected: int, give_up: float) -> dict[str, Any]:
    """(c): from the first request until `expected` rows with the burst's MessageSids exist."""
    prefix = sid_prefix(spec["phase"], spec.get("run", 0))
    proc = start_generator(spec)
    done_at = None
    deadline = time.monotonic() + give_up + 60  # + building the requests
    try:
        while time.monotonic() < deadline:
            if target.counter.count(prefix)[0] >= expected:
                done_at = time.time()
                break
            time.sleep(0.25)
        result = finish_generator(proc, 30 + spec["timeout"])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    time.sleep(1.0)  # a twin would arrive late
    rows, distinct = target.counter.count(prefix)
    seconds = (done_at - result["started_at"]) if done_at else None
    return {
        **result,
        "expected": expected,
        "rows": rows,
        "distinct": distinct,
        "e2e_seconds": seconds,
        "msgs_per_s": expected / seconds if seconds else None,
        "exact": rows == expected and distinct == expected,
        "gave_up_after_s": None if done_at else give_up,
    }


def profile_start(pids: list[int], tmp: Path) -> list[subprocess.Popen[bytes]]:
    """py-spy on each web worker, sampling Python code that holds the GIL (is on the CPU)."""
    exe = Path(sys.executable).parent / "py-spy"
    if not exe.exists():
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    procs = []
    for pid in pids:
        out = tmp / f"spy-{pid}.txt"
        cmd = [str(exe), "record", "--pid", str(pid), "--rate", "100", "--gil"]
        cmd += ["--format", "raw", "--output", str(out)]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # noqa: S603
    return procs


def profile_stop(procs: list[subprocess.Popen[bytes]], tmp: Path) -> str:
    """Stop py-spy as Ctrl-C does (it then writes its file) and return the collapsed stacks."""
    for proc in procs:
        proc.send_signal(signal.SIGINT)
    for proc in procs:
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return "\n".join(p.read_text(errors="replace") for p in sorted(tmp.glob("spy-*.txt")))


def run_rounds(
    args: argparse.Namespace,
    token: str,
    ceiling: Target,
    app: Target,
    emb: Target | None,
    drain_app: Callable[[], float],
    drain_emb: Callable[[], float],
    tmp: Path,
    cpu_groups: Callable[[Target], dict[str, list[int]]],
) -> tuple[list[Round], str]:
    max_count = int(3500 * (args.max_seconds + 1))
    rate_count = int(args.rate * args.rate_seconds)
    rounds, stacks = [], ""
    for r in range(args.rounds):
        got: dict[str, Any] = {}
        print(f"round {r + 1}/{args.rounds}", flush=True)
        order = [ceiling, app] if r % 2 == 0 else [app, ceiling]
        # py-spy samples the app's workers through (b) of the first round, max rate and latency.
        spy = profile_start(children(app.proc.pid), tmp) if args.profile and r == 0 else []
        for target in order:  # max accepted/s
            phase = (PH_CEILING if target is ceiling else PH_APP_MAX) << 4 | r
            spec = target.spec(args, token, mode="max", phase=phase, count=max_count)
            spec["seconds"] = args.max_seconds
            groups = cpu_groups(target)
            before = {name: cpu_seconds(pids) for name, pids in groups.items()}
            got[f"{target.name}_max"] = generate(spec)
            after = cpu_groups(target)  # again: PostgreSQL backends opened during the run
            got[f"{target.name}_max"]["cpu_s"] = {
                name: cpu_used(before[name], cpu_seconds(pids)) for name, pids in after.items()
            }
            got[f"{target.name}_max"]["drain_s"] = drain_app() if target is app else 0.0
        for target in order:  # latency at a fixed offered rate
            phase = (PH_CEILING if target is ceiling else PH_APP_RATE) << 4 | r
            spec = target.spec(args, token, mode="rate", phase=phase, count=rate_count)
            spec["rate"], spec["seconds"] = args.rate, args.rate_seconds
            got[f"{target.name}_rate"] = generate(spec)
            got[f"{target.name}_rate"]["drain_s"] = drain_app() if target is app else 0.0
        if spy:
            stacks = profile_stop(spy, tmp)
        spec = app.spec(args, token, mode="burst", phase=PH_BURST << 4 | r, count=args.burst)
        spec["give_up_seconds"] = args.burst_timeout
        got["burst"] = burst(app, spec, args.burst, args.burst_timeout)
        got["burst"]["drain_s"] = drain_app()
        print(f"  burst: {json.dumps(got['burst'])}", flush=True)
        if emb is not None:
            spec = emb.spec(args, token, mode="max", phase=PH_EMB_MAX << 4 | r, count=max_count)
            spec["seconds"] = args.max_seconds
            got["emb_max"] = generate(spec)
            got["emb_max"]["drain_s"] = drain_emb()
        for key, value in got.items():
            if key != "burst":
                print(f"  {key}: {json.dumps(value)}", flush=True)
        rounds.append(Round(**got))
    return rounds, stacks


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    commit = subprocess.run(  # noqa: S603
        ["git", "-C", str(ROOT), "log", "-1", "--format=%h (%cd)", "--date=short"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {"cores": os.cpu_count(), "cpu": model, "commit": commit}


def _interrupt(*_args: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not 1 <= args.rounds <= 15:
        raise SystemExit("--rounds: 1 to 15")
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in background
    meta: dict[str, Any] = {**machine(), "load_before": os.getloadavg()}
    meta["started"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    meta["command"] = "python benchmarks/ingest_bench.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ingest-bench-")))
        token = secrets.token_hex(16)
        pg = Postgres(args.pg, f"ingest_bench_{os.getpid()}")
        stack.callback(pg.drop)
        rdb = RedisDbs(args.redis, [int(n) for n in args.redis_dbs.split(",")])
        stack.callback(rdb.empty)
        prefix = f"ingestbench{os.getpid()}-"
        port_c, port_a, port_e = free_port(), free_port(), free_port()
        common = {TOKEN_ENV: token, "SERVICETORG_CELERY_QUEUE_PREFIX": prefix}
        prod_env = clean_env(
            SERVICETORG_MODE="production",
            SERVICETORG_SECRET_KEY=secrets.token_urlsafe(48),
            SERVICETORG_DATABASE_URL=pg.url,
            SERVICETORG_BROKER_URL=rdb.urls[0],
            SERVICETORG_REDIS_URL=rdb.urls[1],
            SERVICETORG_PUBLIC_BASE_URL=f"http://127.0.0.1:{port_a}",
            SERVICETORG_INSTANCE_PATH=str(tmp / "production"),
            **common,
        )
        emb_env = clean_env(
            SERVICETORG_MODE="embedded",
            SERVICETORG_PUBLIC_BASE_URL=f"http://127.0.0.1:{port_e}",
            SERVICETORG_INSTANCE_PATH=str(tmp / "embedded"),
            **common,
        )
        print("setting up the databases", flush=True)
        app_account = run_seed(prod_env)
        emb_account = None if args.no_embedded else run_seed(emb_env)

        servers = Servers()
        stack.callback(servers.stop)

        def serve(name: str, cmd: list[str], env: dict[str, str]) -> Any:
            log = tmp / f"{name}.log"
            # gunicorn stops at once on SIGINT (SIGTERM waits for requests); Celery on SIGTERM.
            sig = signal.SIGINT if "gunicorn" in cmd else signal.SIGTERM
            return servers.start(cmd, env, log, sig), log

        ceiling_cmd = gunicorn_cmd(args, port_c, "ingest_ceiling:app", "--pythonpath", str(HERE))
        c_proc, c_log = serve("ceiling", ceiling_cmd, clean_env())
        a_proc, a_log = serve("app", gunicorn_cmd(args, port_a, "inbox.wsgi:app"), prod_env)
        w_extra = args.worker_args.split()
        nice = ["nice", "-n", str(args.worker_nice)] if args.worker_nice else []
        w_proc, w_log = serve("worker", nice + celery_cmd(prefix, "bench", *w_extra), prod_env)
        if args.beat:
            serve("beat", beat_cmd(tmp / "celerybeat-schedule"), prod_env)
        waits = [(port_c, c_log, "bare Flask"), (port_a, a_log, "the app")]
        worker_logs = [w_log]
        emb = None
        if emb_account is not None:
            e_cmd = gunicorn_cmd(args, port_e, "inbox.wsgi:app")
            e_proc, e_log = serve("embedded", e_cmd, emb_env)
            ew_cmd = celery_cmd(prefix, "bench-embedded", "--pool=solo")
            _, ew_log = serve("embedded-worker", ew_cmd, emb_env)
            waits.append((port_e, e_log, "the embedded app"))
            worker_logs.append(ew_log)
            sqlite = Sqlite(tmp / "embedded" / "servicetorg.db")
            emb = Target("emb", e_proc, port_e, emb_account, sqlite)
        for port, log, what in waits:
            wait_until(lambda port=port: http_ok(port), 60, what, log)
        for log in worker_logs:
            wait_until(lambda log=log: b" ready." in log.read_bytes(), 90, log.stem, log)
        ceiling = Target("ceiling", c_proc, port_c, 1, None)
        app = Target("app", a_proc, port_a, app_account, pg)

        # A server with autovacuum off (as on the machines these benchmarks were written
        # on) never analyzes the fresh database: after the first burst the planner still
        # takes its tables for empty and scans them, a cost a database in service never has.
        # Then the bench vacuums and analyzes after each of the app's runs, as autovacuum
        # would have (not while anything is measured).
        vacuum = not pg.autovacuum() and not args.no_vacuum

        def drain_app() -> float:
            waited = drain(app, rdb, prefix, args.drain_timeout)
            if vacuum:
                pg.vacuum()
            return waited

        def drain_emb() -> float:
            return drain(emb, None, prefix, args.drain_timeout) if emb else 0.0

        def cpu_groups(target: Target) -> dict[str, list[int]]:
            """Whose CPU time a max-rate run is charged to (the web server's workers, and for
            the app its Celery worker, every PostgreSQL process and Redis)."""
            groups = {"web": children(target.proc.pid)}
            if target is app:
                groups["worker"] = tree(w_proc.pid)
                groups["postgres"] = pids_named("postgres")
                groups["redis"] = pids_named("redis-server")
            return groups

        rounds, stacks = run_rounds(
            args, token, ceiling, app, emb, drain_app, drain_emb, tmp, cpu_groups
        )
        web = {pid: pss_kib(pid) for pid in children(a_proc.pid)}
        worker = {pid: pss_kib(pid) for pid in tree(w_proc.pid)}
        meta.update(
            load_after=os.getloadavg(),
            minutes=(time.monotonic() - started) / 60,
            postgres=pg.version()
            + (
                " (autovacuum off on this server: the bench ran VACUUM ANALYZE on its database "
                "after each of the app's runs, as autovacuum would have)"
                if vacuum
                else ""
            ),
            redis=rdb.version,
            gunicorn=f"gthread --preload, {args.web_workers} workers x {args.threads} threads",
            worker_args=(f"nice -n {args.worker_nice} " if args.worker_nice else "")
            + args.worker_args
            + (" (and beat)" if args.beat else ""),
            memory={"web_kib": web, "worker_kib": worker},
        )
    summary: Summary = summarise(rounds)
    text = render(meta, args, rounds, summary, stacks, ROOT)
    write_section(args.output, args.label, text)
    print(text)
    print(f"written to {args.output} (section {args.label!r})")
    return 0 if all(r.burst["exact"] for r in rounds) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: servers stopped, database dropped, Redis emptied", file=sys.stderr)
        sys.exit(130)
