"""Server-time benchmark of the insight dashboard (not part of pytest).

Against a database seeded with `servicetorg seed-bench` and refreshed with
`servicetorg insight-refresh --full`, it signs in as a records officer of the largest
municipality (made here if missing) and times the dashboard for the last 90 days of the data,
a CSV download and an incremental refresh with nothing to do:

    SERVICETORG_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/servicetorg_insight_bench \\
    SERVICETORG_INSTANCE_PATH=/tmp/insight-bench-instance \\
    .venv/bin/python benchmarks/insight_bench.py --iterations 100

See benchmarks/RESULTS-insight.md for the numbers.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select  # noqa: E402

from benchmarks.bench import measure  # noqa: E402
from inbox import create_app  # noqa: E402
from inbox.benchseed import BENCH_PASSWORD, NOW  # noqa: E402
from inbox.extensions import db  # noqa: E402
from inbox.models import (  # noqa: E402
    ConversationFact,
    Message,
    Role,
    Tenant,
    User,
)
from inbox.services import insight  # noqa: E402
from inbox.services.users import create_user  # noqa: E402

TARGET_MS = 300.0
EMAIL = "innsikt@bench.example"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args()

    app = create_app({"WTF_CSRF_ENABLED": False})
    gc.freeze()
    with app.app_context():
        tenant = db.session.scalar(
            select(Tenant)
            .join(ConversationFact, ConversationFact.tenant_id == Tenant.id)
            .group_by(Tenant.id)
            .order_by(func.count().desc())
            .limit(1)
        )
        assert tenant is not None, "seed and refresh first: seed-bench, insight-refresh --full"
        if db.session.scalar(select(User).where(User.email == EMAIL)) is None:
            create_user(EMAIL, "Innsikt Bench", BENCH_PASSWORD, {tenant.id: Role.RECORDS_OFFICER})
            db.session.commit()
        end = NOW.astimezone(insight._zone(tenant)).date()  # noqa: SLF001
        start = end - timedelta(days=args.days - 1)
        lo, hi = insight.Period(start, end).bounds(insight._zone(tenant))  # noqa: SLF001
        in_period = db.session.scalar(
            select(func.count())
            .select_from(ConversationFact)
            .where(
                ConversationFact.tenant_id == tenant.id,
                ConversationFact.created_at >= lo,
                ConversationFact.created_at < hi,
            )
        )
        totals = (
            db.session.scalar(select(func.count()).select_from(Message)),
            db.session.scalar(select(func.count()).select_from(ConversationFact)),
        )
        tenant_id, name = tenant.id, tenant.name
        db.session.remove()

    client = app.test_client()
    resp = client.post("/login", data={"email": EMAIL, "password": BENCH_PASSWORD})
    assert resp.status_code == 302, resp.status_code
    query = f"tenant={tenant_id}&from={start.isoformat()}&to={end.isoformat()}"

    def get(url: str) -> Callable[[], object]:
        def run() -> object:
            r = client.get(url)
            assert r.status_code == 200, (url, r.status_code)
            return r.data

        return run

    def incremental() -> object:
        with app.app_context():
            t = db.session.get(Tenant, tenant_id)
            result = insight.refresh(t)
            db.session.remove()
            return result

    def uncached(url: str) -> Callable[[], object]:
        fetch = get(url)

        def run() -> object:
            insight.clear_cache()
            return fetch()

        return run

    scenarios: list[tuple[str, Callable[[], object]]] = [
        (
            f"Dashboard, {args.days} days, whole municipality, first view after a refresh",
            uncached(f"/insight/?{query}"),
        ),
        (f"Dashboard, {args.days} days, whole municipality", get(f"/insight/?{query}")),
        (f"Dashboard, {args.days} days, one team", get(f"/insight/?{query}&team=0")),
        (
            f"CSV of the busiest-hours table, {args.days} days",
            get(f"/insight/{tenant_id}/heat.csv?{query.split('&', 1)[1]}"),
        ),
        ("Incremental refresh, nothing changed", incremental),
    ]
    # The team scenario: pick a real team of the tenant.
    with app.app_context():
        team = insight.teams_of(tenant_id)[0]
        scenarios[2] = (
            f"Dashboard, {args.days} days, one team",
            get(f"/insight/?{query}&team={team.id}"),
        )
        db.session.remove()

    print(f"Data: {totals[0]:,} messages, {totals[1]:,} conversation facts")
    print(f"Municipality: {name}; {in_period:,} inquiries in {start} – {end}")
    print(
        f"Machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    )
    print(f"Iterations per scenario: {args.iterations}")
    print(f"Load average before: {os.getloadavg()[0]:.2f}\n")
    print("| Scenario | p50 ms | p95 ms | p95 app CPU ms | target p95 | |")
    print("|---|---:|---:|---:|---:|---|")
    started = time.monotonic()
    for label, fn in scenarios:
        p50, p95, cpu95 = measure(fn, args.iterations)
        target = TARGET_MS if label.startswith("Dashboard") else None
        verdict = "" if target is None else ("ok" if p95 <= target else "MISSED")
        shown = "" if target is None else f"≤ {target:.0f}"
        print(f"| {label} | {p50:.1f} | {p95:.1f} | {cpu95:.1f} | {shown} | {verdict} |")
    print(f"\nLoad average after: {os.getloadavg()[0]:.2f}; {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
