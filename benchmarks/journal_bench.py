"""Benchmark: journal entries per second through archiving.journal.journal_item, including the
PDF/A-2u rendering, into the embedded records system (SQLite in a temporary folder).

    .venv/bin/python benchmarks/journal_bench.py [--threads 20] [--messages 10] [--processes 2]

Two shapes of a thread of --messages messages are measured:
  alternating  citizen, reply, citizen, ...: one journal entry (and one PDF) per message
  one-run      citizen messages only: one journal entry holding all the messages
--processes N journals with N worker processes at once (as a Celery worker with concurrency N
would), each on its own municipality's items. Wall-clock time is measured from the start of
the first to the end of the last; CPU seconds are summed over the workers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TEXT = (
    "Hei, jeg lurer på hvordan jeg søker om parkeringstillatelse for beboere i sentrum, og om "
    "vedtaket kan påklages. Gjelder sak 2026/1234. Mvh Kari Nordmann."
)


class _Discard:
    """Tasks queued by approve() are not sent: the benchmark calls journal_item itself."""

    def send(self, name: str, args: Any, kwargs: Any) -> None:
        pass


def make_app(tmp: Path) -> Any:
    from inbox import create_app

    app = create_app(
        {
            "INSTANCE_PATH": str(tmp),
            "SECRET_KEY": "x" * 40,
            "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
            "BROKER_URL": f"sqla+sqlite:///{tmp / 'broker.db'}",
            "RECORDS_DIR": str(tmp / "records"),
        }
    )
    app.extensions["servicetorg.dispatcher"] = _Discard()
    return app


def build(n_threads: int, n_messages: int, alternating: bool) -> list[int]:
    """A municipality with n_threads flagged and approved conversations; their item ids."""
    from archiving import triage
    from inbox.extensions import db
    from inbox.models import (
        ChannelAccount,
        ChannelKind,
        DeliveryStatus,
        Direction,
        IdentityKind,
        Message,
        Role,
        Tenant,
    )
    from inbox.services.ingest import InboundMessage, ingest
    from inbox.services.users import create_user

    tenant = Tenant(slug=f"bench-{secrets.token_hex(4)}", name="Benchmark kommune")
    db.session.add(tenant)
    db.session.flush()
    user = create_user(
        f"{tenant.slug}@example.no", "Bench Officer", "pw-123456789", {tenant.id: Role.ADMIN}
    )
    account = ChannelAccount(
        tenant_id=tenant.id, kind=ChannelKind.SMS, name="SMS", external_id=tenant.slug
    )
    db.session.add(account)
    db.session.flush()
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    items = []
    for t in range(n_threads):
        conv = None
        for i in range(n_messages):
            when, pid = start + timedelta(minutes=i), f"SM{t:05d}{i:03d}"
            if conv is not None and alternating and i % 2 == 1:
                db.session.add(
                    Message(
                        tenant_id=tenant.id,
                        conversation_id=conv.id,
                        channel_account_id=account.id,
                        direction=Direction.OUTBOUND,
                        author_id=user.id,
                        body=f"Svar {i}: {TEXT}",
                        provider_message_id=pid,
                        delivery_status=DeliveryStatus.DELIVERED,
                        sent_at=when,
                    )
                )
                continue
            msg, _ = ingest(
                account,
                InboundMessage(
                    identity_kind=IdentityKind.PHONE,
                    identity_value=f"+4790{t:06d}",
                    body=f"{i}: {TEXT}",
                    provider_message_id=pid,
                    sent_at=when,
                    contact_name=f"Innbygger {t}",
                ),
            )
            conv = msg.conversation
        db.session.flush()
        item = triage.flag_conversation(conv, user, new_case_title=f"Sak {t}", title=f"Chat {t}")
        triage.approve(item, user)
        items.append(item.id)
    db.session.commit()
    return items


def worker(tmp: Path, ids: list[int]) -> None:
    """Journal the given items; print the CPU seconds used and the results as JSON."""
    from archiving.journal import journal_item

    app = make_app(tmp)
    with app.app_context():
        warm = ids[:1]  # fonts are found and WeasyPrint imported once per process
        journal_item(warm[0])
        print("ready", flush=True)
        sys.stdin.readline()  # start together
        cpu = time.process_time()
        results = [journal_item(i) for i in ids[1:]]
        print(json.dumps({"cpu": time.process_time() - cpu, "results": results}), flush=True)


def measure(tmp: Path, shape: str, alternating: bool, args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy import func, select

    from archiving.models import JournalReceipt
    from inbox.extensions import db

    batches = [build(args.threads + 1, args.messages, alternating) for _ in range(args.processes)]
    procs = [
        subprocess.Popen(  # noqa: S603 - this script, with our own arguments
            [sys.executable, __file__, "--worker", str(tmp), json.dumps(ids)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for ids in batches
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    t0 = time.perf_counter()
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    outputs = [json.loads(p.communicate()[0]) for p in procs]
    wall = time.perf_counter() - t0
    measured = [i for ids in batches for i in ids[1:]]
    assert all(r == "journalled" for o in outputs for r in o["results"]), outputs
    db.session.expire_all()
    entries = db.session.scalar(
        select(func.count())
        .select_from(JournalReceipt)
        .where(JournalReceipt.archive_item_id.in_(measured))
    )
    cpu = sum(o["cpu"] for o in outputs)
    return {
        "shape": shape,
        "threads": len(measured),
        "entries": entries,
        "wall_s": round(wall, 2),
        "entries_per_s": round(entries / wall, 1),
        "cpu_ms_per_entry": round(1000 * cpu / entries, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=20, help="threads per process")
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(Path(args.worker[0]), json.loads(args.worker[1]))
        return
    from inbox.cli import upgrade_database
    from inbox.extensions import db

    tmp = Path(tempfile.mkdtemp(prefix="journal-bench-"))
    app = make_app(tmp)
    with app.app_context():
        upgrade_database()
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load average "
            f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}, Python "
            f"{platform.python_version()}, {db.engine.url.get_backend_name()}, "
            f"{args.processes} worker processes"
        )
        for shape, alternating in (("alternating", True), ("one-run", False)):
            print(json.dumps(measure(tmp, shape, alternating, args)))


if __name__ == "__main__":
    main()
