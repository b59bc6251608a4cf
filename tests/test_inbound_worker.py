"""A real worker process SIGKILLed while it turns a burst of webhooks into messages: its
uncommitted batch stays pending, the next batch stores it; nothing lost, nothing doubled."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from inbox.extensions import db
from inbox.models import Message
from inbox.services.events import PROCESS_TASK
from tests.live import celery_worker, wait_for
from tests.sms_support import sms_setup
from workers.celery_app import CeleryDispatcher

pytestmark = pytest.mark.worker
BURST = 150


def states() -> dict[str, int]:
    db.session.expire_all()
    rows = db.session.execute(db.text("SELECT state, count(*) FROM inbound_event GROUP BY state"))
    return {state: n for state, n in rows}


def test_worker_killed_mid_batch_loses_and_doubles_nothing(app, factory, monkeypatch, base_config):
    with sms_setup(app, factory, monkeypatch) as sms:
        for i in range(BURST):
            sms.inbound(f"melding {i}", from_=f"+4791{i % 50:06d}", process=False)
        assert states() == {"pending": BURST}
        kick = CeleryDispatcher(app.extensions["celery"])
        config = {**base_config, "WORKER_ENV": {"SERVICETORG_INBOUND_BATCH_SIZE": "50"}}
        with celery_worker(config, name="doomed") as doomed:
            kick.send(PROCESS_TASK, (), {})
            wait_for(lambda: states().get("done"), timeout=60, interval=0.02)
            doomed.kill()  # SIGKILL: no clean-up, its open transaction is simply gone
            doomed.wait(10)
        at_kill = states()
        assert at_kill.get("pending"), at_kill  # it died with work left
        # The next worker's batch (run here, in-process) finds the dead one's events pending.
        celery = app.extensions["celery"]
        celery.loader.import_default_modules()
        celery.tasks[PROCESS_TASK].apply().get()
        assert states() == {"done": BURST}
        db.session.expire_all()
        total = db.session.scalar(select(func.count()).select_from(Message))
        distinct = db.session.scalar(select(func.count(func.distinct(Message.provider_message_id))))
        assert (total, distinct) == (BURST, BURST)
