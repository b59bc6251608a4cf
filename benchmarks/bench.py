"""Server-time benchmark of the queue, search and conversation pages (not part of pytest).

Runs the real Flask app in-process (test client: routing, auth, queries, templates; no network)
against a database seeded with `servicetorg seed-bench`, and prints p50/p95 per scenario.

    SERVICETORG_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/servicetorg_bench \\
    SERVICETORG_INSTANCE_PATH=/tmp/bench-instance \\
    .venv/bin/python benchmarks/bench.py --iterations 200

See benchmarks/RESULTS.md for the numbers and how they were measured.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select  # noqa: E402

from inbox import create_app  # noqa: E402
from inbox.benchseed import BENCH_PASSWORD  # noqa: E402
from inbox.extensions import db  # noqa: E402
from inbox.models import (  # noqa: E402
    ContactIdentity,
    Conversation,
    IdentityKind,
    Membership,
    Message,
    User,
)

TARGETS = {"queue": 30.0, "deep": 30.0, "search": 100.0, "conversation": 50.0}


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def measure(
    fn: Callable[[], object], iterations: int, warmup: int = 5
) -> tuple[float, float, float]:
    """Wall-clock p50 and p95, and the p95 of the web process's own CPU time (which the
    other tenants of a shared machine disturb less; database time is not in it)."""
    for _ in range(warmup):
        fn()
    samples, cpu = [], []
    for _ in range(iterations):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return statistics.median(samples), percentile(samples, 95), percentile(cpu, 95)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--deep-pages", type=int, default=400)
    parser.add_argument("--only", default="", help="run only scenarios whose label contains this")
    args = parser.parse_args()

    app = create_app({"WTF_CSRF_ENABLED": False})
    gc.freeze()  # as the production entry point inbox/wsgi.py does after start-up
    with app.app_context():
        user = db.session.scalar(
            select(User).where(User.email.like("saksbehandler0@bench-1-%")).limit(1)
        )
        assert user is not None, "seed the database first: servicetorg seed-bench"
        tenant_id = db.session.scalar(
            select(Membership.tenant_id).where(Membership.user_id == user.id)
        )
        phone = db.session.scalar(
            select(ContactIdentity.value)
            .where(
                ContactIdentity.tenant_id == tenant_id, ContactIdentity.kind == IdentityKind.PHONE
            )
            .order_by(ContactIdentity.id.desc())
            .limit(1)
        )
        long_conv = db.session.scalar(
            select(Message.conversation_id)
            .where(Message.tenant_id == tenant_id)
            .group_by(Message.conversation_id)
            .having(func.count() >= 200)
            .limit(1)
        )
        totals = (
            db.session.scalar(select(func.count()).select_from(Message)),
            db.session.scalar(select(func.count()).select_from(Conversation)),
        )
        email = user.email
        db.session.remove()

    client = app.test_client()
    resp = client.post("/login", data={"email": email, "password": BENCH_PASSWORD})
    assert resp.status_code == 302, resp.status_code

    def get(url: str) -> Callable[[], object]:
        def run() -> object:
            r = client.get(url)
            assert r.status_code == 200, (url, r.status_code)
            return r.data

        return run

    # Follow the cursor deep into the closed conversations (the big history).
    url = "/?view=all&status=closed"
    for _ in range(args.deep_pages):
        html = client.get(url).get_data(as_text=True)
        marker = 'class="more" href="'
        start = html.index(marker) + len(marker)
        url = html[start : html.index('"', start)].replace("&amp;", "&")
    deep_url = url

    scenarios = [
        ("queue", "Queue: unassigned, first page", "/?view=unassigned"),
        ("queue", "Queue: mine, first page", "/?view=mine"),
        ("queue", "Queue: my teams, first page", "/?view=team"),
        ("queue", "Queue: all, first page", "/?view=all"),
        ("queue", "Queue: all, sorted by waiting time", "/?view=all&sort=waiting"),
        ("queue", "Queue: all, unread + SMS filter", "/?view=all&unread=1&channel=sms"),
        ("deep", f"Queue: closed, page {args.deep_pages + 1} (keyset)", deep_url),
        ("search", "Search: common word «søknaden»", "/search?q=s%C3%B8knaden"),
        ("search", "Search: topic word «parkeringstillatelse»", "/search?q=parkeringstillatelse"),
        ("search", f"Search: one phone number ({phone})", f"/search?q={phone.replace('+', '%2B')}"),
        ("search", "Search: phone without country code", f"/search?q={phone[3:]}"),
        ("conversation", "Conversation with 200 messages", f"/c/{long_conv}"),
    ]
    print(f"Data: {totals[0]:,} messages, {totals[1]:,} conversations")
    print(
        f"Machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    )
    print(f"Iterations per scenario: {args.iterations}\n")
    print(f"Load average before: {os.getloadavg()[0]:.2f}")
    print("| Scenario | p50 ms | p95 ms | p95 app CPU ms | target p95 | |")
    print("|---|---:|---:|---:|---:|---|")
    for kind, label, target_url in scenarios:
        if args.only not in label:
            continue
        p50, p95, cpu95 = measure(get(target_url), args.iterations)
        ok = "ok" if p95 <= TARGETS[kind] else "MISSED"
        print(f"| {label} | {p50:.1f} | {p95:.1f} | {cpu95:.1f} | ≤ {TARGETS[kind]:.0f} | {ok} |")
    print(f"Load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
