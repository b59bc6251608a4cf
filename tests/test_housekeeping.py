"""The sweeper re-sends lost work; retention deletes what is past its time."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from archiving import triage
from archiving.models import ArchiveItem, ArchiveState
from inbox.extensions import db
from inbox.models import Conversation, ConversationStatus, DeliveryStatus, Message, Role
from inbox.models.base import utcnow
from inbox.services import conversations
from workers.housekeeping import apply_retention, sweep


def test_sweep_resends_replies_and_archive_items_whose_task_was_lost(app, factory, tasks):
    tenant = factory.tenant()
    account = factory.channel(tenant)
    user = factory.user(tenant, Role.RECORDS_OFFICER)
    conv = factory.conversation(account)
    reply = conversations.reply(conv, user, "Svar")
    item = triage.flag_conversation(conv, user, case_number="", new_case_title="S", title="T")
    triage.approve(item, user)
    db.session.commit()
    tasks.sent.clear()  # the broker "lost" both tasks

    fresh = {
        "messages": 0,
        "abandoned": 0,
        "archive_items": 0,
        "unsent_tasks": 0,
        "inbound_events": 0,
        "alerts": 0,  # alert recipients abandoned mid-send (tests/test_alerts_send.py)
    }
    assert sweep.apply().get() == fresh
    old = utcnow() - timedelta(minutes=5)
    db.session.execute(update(Message).where(Message.id == reply.id).values(sent_at=old))
    db.session.execute(update(ArchiveItem).values(updated_at=old))
    db.session.commit()
    assert sweep.apply().get() == fresh | {"messages": 1, "archive_items": 1}
    assert sorted(tasks.names()) == [
        "servicetorg.archiving.journal",
        "servicetorg.outbound.send_message",
    ]
    tasks.run_all()
    db.session.expire_all()
    assert db.session.get(Message, reply.id).delivery_status is DeliveryStatus.SENT
    assert db.session.get(ArchiveItem, item.id).state is ArchiveState.JOURNALLED


def test_sweep_waits_for_the_back_off_of_an_unavailable_records_system(app, factory, tasks):
    tenant = factory.tenant()
    user = factory.user(tenant, Role.RECORDS_OFFICER)
    conv = factory.conversation(factory.channel(tenant))
    item = triage.flag_conversation(conv, user, case_number="", new_case_title="S", title="T")
    triage.approve(item, user)
    item.updated_at = utcnow() - timedelta(minutes=5)
    item.next_attempt_at = utcnow() + timedelta(minutes=10)
    db.session.commit()
    tasks.sent.clear()
    assert sweep.apply().get()["archive_items"] == 0
    item.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    db.session.execute(update(ArchiveItem).values(updated_at=utcnow() - timedelta(minutes=5)))
    db.session.commit()
    assert sweep.apply().get()["archive_items"] == 1


def test_sweep_leaves_a_reply_alone_until_its_retry_is_due(app, factory, tasks):
    """A reply the provider refused for now waits for its back-off; the sweeper re-sends it
    only when that retry is overdue (its task lost), not every time it runs."""
    tenant = factory.tenant()
    user = factory.user(tenant, Role.CASEWORKER)
    reply = conversations.reply(factory.conversation(factory.channel(tenant)), user, "Svar")
    reply.sent_at = utcnow() - timedelta(minutes=30)
    reply.send_attempts, reply.next_attempt_at = 4, utcnow() + timedelta(minutes=2)
    db.session.commit()
    tasks.sent.clear()
    assert sweep.apply().get()["messages"] == 0
    reply.next_attempt_at = utcnow() - timedelta(minutes=3)  # due, and its task never came
    db.session.commit()
    assert sweep.apply().get()["messages"] == 1
    assert tasks.names() == ["servicetorg.outbound.send_message"]


def test_sweep_takes_back_a_send_whose_worker_died(app, factory, tasks):
    """A reply still "sending" after its worker's lease ran out goes back to the queue, marked
    as possibly sent; one still inside its lease is left to its worker."""
    from channels.interfaces import unconfirmed_send

    tenant = factory.tenant()
    user = factory.user(tenant, Role.CASEWORKER)
    conv = factory.conversation(factory.channel(tenant))
    held, abandoned = (conversations.reply(conv, user, text) for text in ("Holdt", "Forlatt"))
    now = utcnow()
    for msg, lease_ends in ((held, now + timedelta(minutes=4)), (abandoned, now)):
        msg.delivery_status, msg.next_attempt_at, msg.send_attempts = (
            DeliveryStatus.SENDING,
            lease_ends,
            1,
        )
    db.session.commit()
    tasks.sent.clear()
    assert sweep.apply().get()["abandoned"] == 1
    db.session.expire_all()
    assert db.session.get(Message, held.id).delivery_status is DeliveryStatus.SENDING
    taken = db.session.get(Message, abandoned.id)
    assert taken.delivery_status is DeliveryStatus.QUEUED and taken.next_attempt_at is None
    mark = unconfirmed_send(taken)
    assert mark is not None
    assert mark.first_started_at == now - timedelta(seconds=app.config["SEND_LEASE_SECONDS"])
    assert tasks.names() == ["servicetorg.outbound.send_message"]
    tasks.run_all()  # a web-chat reply: the widget reads it, so sending again is storing
    db.session.expire_all()
    assert db.session.get(Message, abandoned.id).delivery_status is DeliveryStatus.SENT
    assert unconfirmed_send(db.session.get(Message, abandoned.id)) is None


def test_retention_deletes_only_closed_conversations_past_their_time(app, factory):
    tenant = factory.tenant(retention_days=30)
    account = factory.channel(tenant)
    user = factory.user(tenant, Role.CASEWORKER)
    expired = factory.conversation(account, body="gammel")
    recent = factory.conversation(account, body="ny")
    still_open = factory.conversation(account, body="åpen")
    pending_archive = factory.conversation(account, body="til arkivet")
    triage.flag_conversation(pending_archive, user, case_number="", new_case_title="S", title="T")
    long_ago = utcnow() - timedelta(days=31)
    for conv in (expired, recent, pending_archive):
        conv.status = ConversationStatus.CLOSED
    for conv in (expired, still_open, pending_archive):
        conv.last_activity_at = long_ago
    db.session.commit()

    assert apply_retention.apply().get() == 1
    remaining = set(db.session.scalars(select(Conversation.id)).all())
    assert remaining == {recent.id, still_open.id, pending_archive.id}
    bodies = db.session.scalars(select(Message.body)).all()
    assert "gammel" not in bodies and len(bodies) == 3
    assert db.session.scalar(select(func.count()).select_from(ArchiveItem)) == 1
