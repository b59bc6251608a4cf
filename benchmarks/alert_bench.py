"""Benchmark: an SMS alert to 10,000 recipients through a real Celery worker and the fake
Twilio over HTTP, with the worker SIGKILLed mid-way while Twilio holds the answer to a message
it has just created. A second worker and the sweeper finish the alert.

    .venv/bin/python benchmarks/alert_bench.py [--recipients 10000] [--rate 100] [--kill-at 4000]
        [--database-url postgresql://...] [--broker-url redis://...] [--replies 100]

Reports: wall-clock time from confirmation to the last recipient handed over (the dead
worker's lease and the settle wait included), the send rate held (the highest number of
creates Twilio saw in any one-second window, against the configured rate), sends, doubles
(numbers texted more than once) and missing (never texted), recipients without a final state,
and how many of --replies replies landed threaded under the alert. Results go to stdout as
JSON; benchmarks/RESULTS-alerts.md records a run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PUBLIC = "https://innboks.example.kommune.no"
BODY = "Kokevarsel: kok drikkevannet i Kvernhusvegen til nytt varsel. Hilsen Øystre kommune"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--recipients", type=int, default=10000)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--kill-at", type=int, default=4000)
    ap.add_argument("--replies", type=int, default=100)
    ap.add_argument("--lease", type=int, default=5)
    ap.add_argument("--database-url")
    ap.add_argument("--broker-url")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="alertbench"))
    token = secrets.token_hex(16)
    os.environ["SERVICETORG_BENCH_TWILIO_TOKEN"] = token
    config = {
        "INSTANCE_PATH": str(tmp),
        "SECRET_KEY": "x" * 40,
        "DATABASE_URL": args.database_url or f"sqlite:///{tmp / 'bench.db'}",
        "BROKER_URL": args.broker_url or f"sqla+sqlite:///{tmp / 'broker.db'}",
        "RECORDS_DIR": str(tmp / "records"),
        "CELERY_QUEUE_PREFIX": f"bench{secrets.token_hex(3)}.",
        "PUBLIC_BASE_URL": PUBLIC,
        "SEND_LEASE_SECONDS": args.lease,
        "ALERT_SETTLE_SECONDS": 2,
        "SWEEP_STALE_SECONDS": 5,
    }
    env = {
        "SERVICETORG_PUBLIC_BASE_URL": PUBLIC,
        "SERVICETORG_SEND_LEASE_SECONDS": str(args.lease),
        "SERVICETORG_ALERT_SETTLE_SECONDS": "2",
        "SERVICETORG_ALERT_RATE_PER_SECOND": str(args.rate),
        "SERVICETORG_ALERT_BATCH_SIZE": "500",
    }
    from inbox import create_app

    app = create_app(config)
    with app.app_context():
        from inbox.cli import upgrade_database

        upgrade_database()
        print(json.dumps(run(app, {**config, "WORKER_ENV": env}, args, token)), flush=True)


def run(app: Any, config: dict[str, Any], args: Any, token: str) -> dict[str, Any]:
    from sqlalchemy import func, select

    import channels.sms_alerts.tasks  # noqa: F401 - the sweep source
    from channels.sms_alerts import services as alerts
    from inbox.extensions import db
    from inbox.models import (
        Alert,
        AlertRecipient,
        AlertState,
        ChannelAccount,
        ChannelKind,
        RecipientState,
        Role,
        Tenant,
    )
    from inbox.services.users import create_user
    from tests.fakes.twilio import FakeTwilio, new_sid
    from tests.live import celery_worker
    from tests.sms_support import sign
    from workers.housekeeping import sweep

    fake = FakeTwilio("AC" + secrets.token_hex(16), token)
    with fake:
        tenant = Tenant(slug=f"bench-{secrets.token_hex(3)}", name="Øystre kommune")
        db.session.add(tenant)
        db.session.flush()
        user = create_user(
            f"varsler@{tenant.slug}.no", "Varsler", "pw-" * 6, {tenant.id: Role.ADMIN}
        )
        account = ChannelAccount(
            tenant_id=tenant.id,
            kind=ChannelKind.SMS,
            name="Varsling",
            external_id="+4740000001",
            config={"account_sid": fake.account_sid, "api_base_url": fake.url},
            secret_refs={"auth_token": "SERVICETORG_BENCH_TWILIO_TOKEN"},
        )
        db.session.add(account)
        db.session.commit()
        phones = [f"+47{40000000 + i}" for i in range(args.recipients)]
        built = time.monotonic()
        alert = alerts.create(
            tenant.id,
            user,
            title="Kokevarsel",
            body=BODY,
            account_id=account.id,
            sender="number",
            team_id=None,
            source=alerts.Source("bench", [{"phone": p} for p in phones]),
        )
        alert.state = AlertState.AWAITING_APPROVAL  # confirmed below, as a second person
        db.session.commit()
        alert_id, build_s = alert.id, time.monotonic() - built

        created: list[float] = []
        doomed_pid: list[int] = []
        lock = threading.Lock()

        def on_create(record: dict[str, Any]) -> None:
            with lock:
                created.append(time.monotonic())
                n = len(created)
            if n == args.kill_at and doomed_pid:
                os.killpg(doomed_pid[0], signal.SIGKILL)

        fake.on_create = on_create
        with celery_worker(config, name="bench-doomed") as doomed:
            doomed_pid.append(doomed.pid)
            started = time.monotonic()
            approver = create_user(
                f"leder@{tenant.slug}.no", "Leder", "pw-" * 6, {tenant.id: Role.ADMIN}
            )
            alerts.confirm(db.session.get(Alert, alert_id), approver)
            db.session.commit()
            while doomed.poll() is None and len(created) < args.recipients:
                time.sleep(0.2)
            killed_at = time.monotonic() - started
        with celery_worker(config, name="bench-heir"):
            while True:
                sweep()
                db.session.expire_all()
                if db.session.get(Alert, alert_id).state is AlertState.DONE:
                    break
                time.sleep(1)
            finished = time.monotonic() - started

            # Replies from some recipients, signed as Twilio signs them.
            client = app.test_client()
            path = f"/webhooks/twilio/{account.id}/sms"
            for p in phones[: args.replies]:
                params = {
                    "MessageSid": new_sid("SM"),
                    "AccountSid": fake.account_sid,
                    "From": p,
                    "To": account.external_id,
                    "Body": "Gjelder dette Kvernhusvegen 12?",
                    "NumMedia": "0",
                }
                resp = client.post(
                    path,
                    data=params,
                    headers={"X-Twilio-Signature": sign(PUBLIC + path, params, token)},
                )
                assert resp.status_code == 200, resp.status_code
            deadline = time.monotonic() + 120
            threaded = 0
            while time.monotonic() < deadline:
                db.session.expire_all()
                threaded = len(alerts.replies(db.session.get(Alert, alert_id)))
                if threaded >= args.replies:
                    break
                time.sleep(0.5)

        sent = fake.sent()
        per_number = Counter(m["to"] for m in sent)
        states = dict(
            db.session.execute(
                select(AlertRecipient.state, func.count())
                .where(AlertRecipient.alert_id == alert_id)
                .group_by(AlertRecipient.state)
            ).all()
        )
        with_sid = db.session.scalar(
            select(func.count()).where(
                AlertRecipient.alert_id == alert_id, AlertRecipient.provider_sid.is_not(None)
            )
        )
        window, peak = 0, 0
        for i, t in enumerate(created):
            while created[window] <= t - 1.0:  # a half-open window (t-1 s, t]
                window += 1
            peak = max(peak, i - window + 1)
        send_span = (created[-1] - created[0]) if len(created) > 1 else 0.0
        return {
            "recipients": args.recipients,
            "configured_rate_per_s": args.rate,
            "killed_after_sends": args.kill_at,
            "worker_killed_at_s": round(killed_at, 1),
            "seconds_to_done": round(finished, 1),
            "seconds_first_to_last_send": round(send_span, 1),
            "mean_rate_per_s": round(len(created) / send_span, 1) if send_span else None,
            "peak_sends_in_1s": peak,
            "sends": len(sent),
            "doubles": sum(1 for n in per_number.values() if n > 1),
            "missing": len(set(phones) - set(per_number)),
            "recipient_states": {str(k): v for k, v in states.items()},
            "recipients_with_twilio_sid": with_sid,
            "unfinished": sum(
                v for k, v in states.items() if k in (RecipientState.QUEUED, RecipientState.SENDING)
            ),
            "replies_sent": args.replies,
            "replies_threaded": threaded,
            "build_seconds": round(build_s, 1),
            "database": str(db.engine.url.get_backend_name()),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        }


if __name__ == "__main__":
    main()
