"""Exactly once through a real Celery worker process: a worker killed between the records
system's answer and our commit leaves no second journal entry behind."""

from __future__ import annotations

import os
import signal

import pytest

from archiving.journal import entry_key
from archiving.models import ArchiveItem, ArchiveState
from inbox.extensions import db
from tests.fakes.noark5 import FakeNoark5
from tests.live import celery_worker, wait_for
from tests.test_records_noark5 import assert_complete, rest_item
from workers.celery_app import CeleryDispatcher
from workers.housekeeping import sweep

pytestmark = pytest.mark.worker
LEASE_SECONDS = 2


def test_worker_killed_mid_journalling_makes_one_entry(app, factory, base_config, monkeypatch):
    monkeypatch.setenv("NOARK_TOKEN_TEST", "test-token")
    app.extensions["servicetorg.dispatcher"] = CeleryDispatcher(app.extensions["celery"])
    app.config["ARCHIVE_LEASE_SECONDS"] = LEASE_SECONDS
    config = dict(
        base_config,
        WORKER_ENV={
            "NOARK_TOKEN_TEST": "test-token",
            "SERVICETORG_ARCHIVE_LEASE_SECONDS": str(LEASE_SECONDS),
        },
    )
    with FakeNoark5(token="test-token") as noark:
        # The records system makes the entry, then the answer never comes back in time.
        noark.hang_after_create("journalpost")
        with celery_worker(config, name="doomed") as doomed:
            item = rest_item(factory, noark, answer=False)
            assert noark.hanging.wait(30), "the worker never reached the records system"
            os.kill(doomed.pid, signal.SIGKILL)
            doomed.wait(10)
        noark.release()
        key = entry_key(item, 0)
        assert len(noark.entries(key)) == 1
        db.session.expire_all()
        assert db.session.get(ArchiveItem, item.id).state is ArchiveState.JOURNALLING

        with celery_worker(config, name="heir"):
            # Once the dead worker's lease runs out the sweeper hands the item on.
            wait_for(lambda: sweep()["archive_items"], timeout=LEASE_SECONDS + 10, interval=0.3)

            def journalled():
                db.session.expire_all()
                found = db.session.get(ArchiveItem, item.id)
                return found.state is ArchiveState.JOURNALLED and found.receipts

            [receipt] = wait_for(journalled, timeout=30)
        assert_complete(noark, key)
        assert len(noark.entries()) == 1 and len(noark.of_kind("saksmappe")) == 1
        assert receipt.system_id == noark.entries()[0]["systemID"]
