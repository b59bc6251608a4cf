"""An alert to 500 recipients through a real Celery worker that is SIGKILLed mid-send, while
Twilio holds the answer to a message it has just created: every recipient gets it once."""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

import channels.sms_alerts.tasks  # noqa: F401 - registers the sweep source
from channels.sms_alerts import services as alerts
from inbox.extensions import db
from inbox.models import Alert, AlertRecipient, AlertState, RecipientState, User
from tests.alerts_support import draft, numbers, recipients
from tests.live import celery_worker, wait_for
from tests.sms_support import PUBLIC, sms_setup
from workers.celery_app import CeleryDispatcher
from workers.housekeeping import sweep

pytestmark = pytest.mark.worker
COUNT = 500
KILL_AT = 180


def handed_over(alert_id: int) -> int:
    db.session.expire_all()
    return db.session.scalar(
        select(func.count()).where(
            AlertRecipient.alert_id == alert_id, AlertRecipient.provider_sid.is_not(None)
        )
    )


def test_worker_killed_mid_alert_every_recipient_once(app, factory, monkeypatch, base_config):
    lease = 2
    app.extensions["servicetorg.dispatcher"] = CeleryDispatcher(app.extensions["celery"])
    app.config.update(SEND_LEASE_SECONDS=lease, ALERT_SETTLE_SECONDS=1, SWEEP_STALE_SECONDS=2)
    env = {
        "SERVICETORG_PUBLIC_BASE_URL": PUBLIC,
        "SERVICETORG_SEND_LEASE_SECONDS": str(lease),
        "SERVICETORG_ALERT_SETTLE_SECONDS": "1",
        "SERVICETORG_ALERT_RATE_PER_SECOND": "500",
        "SERVICETORG_ALERT_BATCH_SIZE": "100",
    }
    config = {**base_config, "WORKER_ENV": env}
    with sms_setup(app, factory, monkeypatch) as sms:
        phones = numbers(COUNT)
        alert = draft(sms, phones, body="Kokevarsel: kok drikkevannet i Kvernhusvegen.")
        alert_id = alert.id
        doomed_pid: list[int] = []
        killed = threading.Event()

        def kill_mid_send(record):  # in the fake's thread, before Twilio's answer goes
            if len(sms.fake.sent()) == KILL_AT and doomed_pid:
                os.killpg(doomed_pid[0], signal.SIGKILL)
                killed.set()

        sms.fake.on_create = kill_mid_send
        with celery_worker(config, name="alert-doomed") as doomed:
            doomed_pid.append(doomed.pid)
            alerts.confirm(alert, db.session.get(User, alert.author_id))
            db.session.commit()
            assert killed.wait(120), "the worker never got that far"
            doomed.wait(10)
        sms.fake.on_create = None
        assert len(sms.fake.sent()) == KILL_AT
        # The killed attempt: Twilio has it, we do not know its SID.
        stuck = [r for r in recipients(alert) if r.state is RecipientState.SENDING]
        assert len(stuck) == 1 and stuck[0].provider_sid is None

        with celery_worker(config, name="alert-heir"):

            def finished() -> bool:
                sweep()  # takes back the dead worker's recipient once its lease ran out
                db.session.expire_all()
                return db.session.get(Alert, alert_id).state is AlertState.DONE

            wait_for(finished, timeout=180, interval=1)

        sent = sms.fake.sent()
        per_number = Counter(m["to"] for m in sent)
        assert len(sent) == COUNT
        assert per_number == Counter(f"+47{p}" for p in phones)  # none twice, none missing
        rows = recipients(alert)
        assert {r.state for r in rows} == {RecipientState.SENT}
        assert sorted(r.provider_sid for r in rows) == sorted(m["sid"] for m in sent)
        assert handed_over(alert_id) == COUNT
        adopted = db.session.get(AlertRecipient, stuck[0].id)
        assert adopted.attempts == 2  # looked up at Twilio, adopted, not sent again

        # Replies from 50 recipients land threaded under the alert.
        for p in phones[:50]:
            sms.inbound("Gjelder dette oss?", from_=f"+47{p}")
        convs = alerts.replies(db.session.get(Alert, alert_id))
        assert len(convs) == 50
        assert {c.meta["alert_id"] for c in convs} == {alert_id}
