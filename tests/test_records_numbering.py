"""Numbers and dates of the embedded journal: the tenant's time zone decides the year, several
workers journalling at once get every number exactly once, and no error or killed worker leaves
an item stuck or a stray file in the records folder."""

from __future__ import annotations

import queue
import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from archiving import journal as journalling
from archiving import triage
from archiving.adapters.embedded import EmbeddedRecords
from archiving.adapters.embedded_models import RecordsCase, RecordsDocument, RecordsEntry
from archiving.journal import build_request, claim, journal_item, parts
from archiving.models import ArchiveItem, ArchiveState
from inbox.extensions import db
from inbox.models import Role, Tenant
from tests.records_helpers import approved_item
from tests.test_records_export import export

WORKERS = 4
# PostgreSQL takes row locks, so workers really overlap: the full run. SQLite lets one writer
# at a time in (the writer lock serialises them), so fewer items show the same.
ITEMS = {"postgresql": 200, "sqlite": 40}


def reload(item_id):
    db.session.expire_all()
    return db.session.get(ArchiveItem, item_id)


def test_half_past_midnight_on_new_years_day_is_the_new_year(
    app, factory, tasks, tmp_path, monkeypatch
):
    # 23:30 UTC on 31 December is 00:30 on 1 January in Oslo.
    moment = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    monkeypatch.setattr("archiving.adapters.embedded.utcnow", lambda: moment)
    item = approved_item(factory, answer=False)
    assert tasks.run_all() == ["journalled"]
    [receipt] = reload(item.id).receipts
    assert receipt.case_number == "2027/1" and receipt.journalpostnummer == "2027/1-1"
    entry = db.session.scalars(select(RecordsEntry)).one()
    assert (entry.journalaar, entry.case.saksaar) == (2027, 2027)
    out = tmp_path / "uttrekk"
    export(app, db.session.get(Tenant, item.tenant_id), out, "--open")
    assert "<journaldato>2027-01-01</journaldato>" in (out / "loependeJournal.xml").read_text()


def test_an_unexpected_error_is_shown_at_once_not_left_journalling(
    app, factory, client, login, tmp_path
):
    # The records folder has been replaced by a file.
    blocker = tmp_path / "records"
    blocker.write_text("not a folder")
    app.config["RECORDS_DIR"] = str(blocker)
    item = approved_item(factory, answer=False)
    result = journal_item(item.id)
    item = reload(item.id)
    assert item.state is not ArchiveState.JOURNALLING, result
    assert "NotADirectoryError" in item.last_error
    officer = factory.user(db.session.get(Tenant, item.tenant_id), Role.RECORDS_OFFICER)
    login(officer)
    assert "NotADirectoryError" in client.get("/records/").get_data(as_text=True)
    # Once the folder is back, the item is journalled.
    blocker.unlink()
    item.next_attempt_at = None
    db.session.commit()
    assert journal_item(item.id) == "journalled"


def test_a_worker_killed_before_its_commit_leaves_no_stray_file(app, factory, tmp_path):
    app.config["RECORDS_DIR"] = str(tmp_path / "records")
    item = approved_item(factory, answer=False)
    tenant = db.session.get(Tenant, item.tenant_id)
    # A worker writes the entry and its document, then is killed: no commit, no clean-up.
    assert claim(item.id)
    item = reload(item.id)
    [(kind, messages)] = parts(item)
    EmbeddedRecords(tenant).journal(build_request(item, tenant, 0, kind, messages, None))
    db.session.info.pop("records.pending_files", None)  # a killed process runs no hooks
    db.session.rollback()
    # The lease runs out; another worker takes the item over.
    db.session.execute(
        update(ArchiveItem)
        .where(ArchiveItem.id == item.id)
        .values(updated_at=datetime.now(UTC) - timedelta(hours=1))
    )
    db.session.commit()
    assert journal_item(item.id) == "journalled"
    on_disk = sorted(
        p.relative_to(tmp_path / "records").as_posix()
        for p in (tmp_path / "records").rglob("*")
        if p.is_file()
    )
    named = sorted(db.session.scalars(select(RecordsDocument.path)).all())
    assert on_disk == named and len(named) == 1


def test_concurrent_workers_number_every_entry_once(app, factory):
    """WORKERS threads (each its own session, as workers are) journal the items at once,
    half into one case and half into new cases: no gap, no duplicate, nothing stuck."""
    count = ITEMS[db.engine.dialect.name]
    tenant = factory.tenant()
    account = factory.channel(tenant)
    worker = factory.user(tenant, Role.RECORDS_OFFICER)

    def flag(n: int, case_number: str = "") -> int:
        conv = factory.conversation(account, body=f"Henvendelse nummer {n}")
        item = triage.flag_conversation(
            conv,
            worker,
            case_number=case_number,
            new_case_title="" if case_number else f"Sak {n}",
            title=f"Henvendelse {n}",
        )
        triage.approve(item, worker)
        db.session.commit()
        return item.id

    first = flag(0)
    assert journal_item(first) == "journalled"
    shared = reload(first).receipts[0].case_number
    ids: queue.Queue[int] = queue.Queue()
    for n in range(1, count):
        ids.put(flag(n, shared if n % 2 else ""))
    results: list[str] = []
    errors: list[BaseException] = []

    def work() -> None:
        with app.app_context():
            try:
                while True:
                    try:
                        item_id = ids.get_nowait()
                    except queue.Empty:
                        return
                    results.append(journalling.journal_item(item_id))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work) for _ in range(WORKERS)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    print(f"{count} items, {WORKERS} workers: {time.monotonic() - started:.1f} s")
    assert not errors, errors
    db.session.expire_all()
    states = db.session.scalars(select(ArchiveItem.state)).all()
    assert len(states) == count and set(states) == {ArchiveState.JOURNALLED}, results
    entries = db.session.scalars(select(RecordsEntry)).all()
    year = entries[0].journalaar
    assert sorted(e.journalsekvensnummer for e in entries) == list(range(1, count + 1))
    cases = db.session.scalars(select(RecordsCase)).all()
    assert sorted(c.sakssekvensnummer for c in cases) == list(range(1, len(cases) + 1))
    assert {c.saksaar for c in cases} == {year} and len(cases) == count - count // 2
    in_shared = [e.journalpostnummer for e in entries if e.case.case_number == shared]
    assert sorted(in_shared) == list(range(1, len(in_shared) + 1))
    assert len(in_shared) == 1 + count // 2
