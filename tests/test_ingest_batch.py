"""A batch of inbound messages is stored set-based: a fixed number of statements whatever its
size, no savepoints, one contact and conversation per new sender, arrival order kept, twins
answered with the stored message, realtime events and contact matching only after the commit."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, func, select

from inbox.extensions import db
from inbox.models import (
    ChannelAccount,
    ChannelKind,
    Contact,
    ContactIdentity,
    ContactMatchSuggestion,
    Conversation,
    ConversationStatus,
    IdentityKind,
    MatchStatus,
    Message,
)
from inbox.services import realtime
from inbox.services.ingest import InboundAttachment, InboundMessage, ingest, ingest_many

MATCH_TASK = "servicetorg.default.match_contacts"
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@contextlib.contextmanager
def statements() -> Iterator[list[str]]:
    """Every SQL statement the session's engine sends while the block runs."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def sms(n: int, sender: str | None = None, **kw) -> InboundMessage:  # type: ignore[no-untyped-def]
    return InboundMessage(
        identity_kind=IdentityKind.PHONE,
        identity_value=sender or f"+47900{n:05d}",
        body=f"Melding {n}",
        provider_message_id=f"SM{n:030d}",
        sent_at=T0 + timedelta(seconds=n),
        **kw,
    )


def loaded(account: ChannelAccount) -> ChannelAccount:
    """The account with its columns loaded, as a worker holds it before a batch."""
    account = db.session.get(ChannelAccount, account.id)
    assert account is not None and account.tenant_id
    return account


def count(model: type, *where) -> int:  # type: ignore[no-untyped-def]
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_statements_do_not_grow_with_the_batch(factory) -> None:  # type: ignore[no-untyped-def]
    account = factory.channel(factory.tenant(), ChannelKind.SMS)
    used = []
    for start, size in ((0, 5), (100, 40)):
        items = [(loaded(account), sms(start + i)) for i in range(size)]
        with statements() as seen:
            results = ingest_many(items)
        db.session.commit()
        assert [created for _, created in results] == [True] * size
        assert not [s for s in seen if "SAVEPOINT" in s.upper()]
        used.append(len(seen))
    # 5 and 40 messages from as many new senders: the same handful of statements.
    assert used[0] == used[1] <= 15, used
    assert count(Contact) == 45 and count(Conversation) == 45 and count(Message) == 45


def test_one_new_sender_twice_in_a_batch_is_one_contact_and_one_conversation(factory) -> None:  # type: ignore[no-untyped-def]
    account = loaded(factory.channel(factory.tenant(), ChannelKind.SMS))
    results = ingest_many([(account, sms(1, "+4791234567")), (account, sms(2, "+4791234567"))])
    db.session.commit()
    (first, c1), (second, c2) = results
    assert c1 and c2
    assert first.contact_id == second.contact_id
    assert first.conversation_id == second.conversation_id
    assert count(Contact) == 1 and count(Conversation) == 1 and count(ContactIdentity) == 1
    contact = db.session.get(Contact, first.contact_id)
    assert contact.phone == "+4791234567"


def test_arrival_order_is_kept_per_conversation(factory) -> None:  # type: ignore[no-untyped-def]
    account = loaded(factory.channel(factory.tenant(), ChannelKind.SMS))
    order = ["a", "b", "a", "a", "c", "b", "a"]
    senders = {"a": "+4790000001", "b": "+4790000002", "c": "+4790000003"}
    items = [(account, sms(n, senders[who])) for n, who in enumerate(order)]
    results = ingest_many(items)
    db.session.commit()
    assert [m.body for m, _ in results] == [f"Melding {n}" for n in range(len(order))]
    for who in senders:
        ids = [m.id for (m, _), w in zip(results, order, strict=True) if w == who]
        stored = db.session.scalars(
            select(Message.id)
            .where(Message.conversation_id == results[order.index(who)][0].conversation_id)
            .order_by(Message.id)
        ).all()
        assert stored == ids and ids == sorted(ids)
        conv = db.session.get(Conversation, results[order.index(who)][0].conversation_id)
        last = max(n for n, w in enumerate(order) if w == who)
        first = min(n for n, w in enumerate(order) if w == who)
        assert conv.last_inbound_at == T0 + timedelta(seconds=last)
        assert conv.waiting_since == T0 + timedelta(seconds=first)
        assert conv.has_unread


def test_twins_in_the_batch_and_in_the_database_return_the_stored_message(factory) -> None:  # type: ignore[no-untyped-def]
    account = loaded(factory.channel(factory.tenant(), ChannelKind.SMS))
    stored, created = ingest(account, sms(1))
    db.session.commit()
    assert created
    results = ingest_many(
        [(loaded(account), sms(1)), (account, sms(2)), (account, sms(2)), (account, sms(3))]
    )
    db.session.commit()
    assert [(m.id, c) for m, c in results] == [
        (stored.id, False),
        (results[1][0].id, True),
        (results[1][0].id, False),
        (results[3][0].id, True),
    ]
    assert count(Message) == 3


def test_conversation_rules_are_those_of_a_single_ingest(factory) -> None:  # type: ignore[no-untyped-def]
    tenant = factory.tenant()
    web = loaded(factory.channel(tenant, ChannelKind.WEB_COMMENTS, config={"source": "webhook"}))
    chat = loaded(factory.channel(tenant, ChannelKind.WEBCHAT))

    def comment(n: int, author: str, thread: str, **kw) -> InboundMessage:  # type: ignore[no-untyped-def]
        return InboundMessage(
            identity_kind=IdentityKind.WEB_AUTHOR,
            identity_value=author,
            body=f"Kommentar {n}",
            provider_message_id=f"c{n}",
            thread_key=thread,
            subject=f"Side {thread}",
            **kw,
        )

    # A thread, a thread merged into another conversation, a closed thread, a snoozed chat.
    (t1, _), (t2, _), (t3, _), (snoozed, _) = ingest_many(
        [
            (web, comment(1, "w:kari", "page-1")),
            (web, comment(2, "w:ola", "page-2")),
            (web, comment(3, "w:per", "page-3")),
            (chat, InboundMessage(IdentityKind.CHAT_VISITOR, "v1", "Hei")),
        ]
    )
    db.session.commit()
    conv2 = db.session.get(Conversation, t2.conversation_id)
    conv2.merged_into_id = t1.conversation_id
    conv3 = db.session.get(Conversation, t3.conversation_id)
    conv3.status, conv3.closed_at = ConversationStatus.CLOSED, T0
    conv4 = db.session.get(Conversation, snoozed.conversation_id)
    conv4.status, conv4.snoozed_until = ConversationStatus.SNOOZED, T0 + timedelta(days=1)
    conv4.waiting_since = T0
    db.session.commit()

    results = ingest_many(
        [
            (web, comment(4, "w:anne", "page-1", contact_name="Anne Li")),
            (web, comment(5, "w:ola", "page-2", contact_name="Ola Nordmann")),
            (web, comment(6, "w:per", "page-3")),
            (chat, InboundMessage(IdentityKind.CHAT_VISITOR, "v1", "Er dere der?")),
            (chat, InboundMessage(IdentityKind.EMAIL, "kari@example.no", "E-post")),
        ]
    )
    db.session.commit()
    (m4, _), (m5, _), (m6, _), (m7, _), (m8, _) = results
    # Threads continue in their conversation; a merged one in the conversation it went into.
    assert m4.conversation_id == t1.conversation_id and m4.contact_id != t1.contact_id
    assert m5.conversation_id == t1.conversation_id
    # The contact known without a name takes the one now given.
    assert db.session.get(Contact, m5.contact_id).name == "Ola Nordmann"
    assert db.session.get(Contact, m4.contact_id).name == "Anne Li"
    # A new comment reopens a closed thread; a new chat message reopens a snoozed chat.
    conv3 = db.session.get(Conversation, t3.conversation_id)
    assert m6.conversation_id == conv3.id
    assert (conv3.status, conv3.closed_at) == (ConversationStatus.OPEN, None)
    conv4 = db.session.get(Conversation, snoozed.conversation_id)
    assert m7.conversation_id == conv4.id
    assert (conv4.status, conv4.snoozed_until) == (ConversationStatus.OPEN, None)
    assert conv4.waiting_since == T0  # already waiting: the earlier time stays
    # An e-mail identity fills the contact's address.
    assert db.session.get(Contact, m8.contact_id).email == "kari@example.no"
    assert count(Conversation) == 5


def test_a_closed_conversation_is_not_continued(factory) -> None:  # type: ignore[no-untyped-def]
    account = loaded(factory.channel(factory.tenant(), ChannelKind.SMS))
    (first, _) = ingest(account, sms(1, "+4791234567"))
    first.conversation.status = ConversationStatus.CLOSED
    db.session.commit()
    ((again, created),) = ingest_many([(loaded(account), sms(2, "+4791234567"))])
    db.session.commit()
    assert created and again.contact_id == first.contact_id
    assert again.conversation_id != first.conversation_id
    assert again.conversation.status is ConversationStatus.OPEN


def test_attachments_are_stored(factory) -> None:  # type: ignore[no-untyped-def]
    account = loaded(factory.channel(factory.tenant(), ChannelKind.SMS))
    files = [
        InboundAttachment("hull.jpg", "image/jpeg", data=b"\xff\xd8jpeg", sha256="ab" * 32),
        InboundAttachment("kart.pdf", "application/pdf", provider_url="https://example.no/k"),
    ]
    ((msg, _), (plain, _)) = ingest_many([(account, sms(1, attachments=files)), (account, sms(2))])
    db.session.commit()
    db.session.expire_all()
    msg = db.session.get(Message, msg.id)
    assert [(a.filename, a.size, a.data) for a in msg.attachments] == [
        ("hull.jpg", 6, b"\xff\xd8jpeg"),
        ("kart.pdf", 0, None),
    ]
    assert msg.attachments[1].provider_url == "https://example.no/k"
    assert db.session.get(Message, plain.id).attachments == []


def test_realtime_events_go_out_after_the_commit(app, factory) -> None:  # type: ignore[no-untyped-def]
    tenant = factory.tenant()
    account = loaded(factory.channel(tenant, ChannelKind.SMS))
    stream = realtime.events_for([tenant.id], None, 3, 0.05)
    results = ingest_many(
        [(account, sms(1)), (account, sms(2)), (account, sms(3, sms(1).identity_value))]
    )
    assert next(stream) == (None, None)  # nothing before the commit
    db.session.commit()
    got = []
    for _, payload in stream:
        if payload is not None:
            got.append(payload)
        if len([p for p in got if p["type"] == "message"]) == 3:
            break
    assert [p["message_id"] for p in got if p["type"] == "message"] == [m.id for m, _ in results]
    assert {p["conversation_id"] for p in got if p["type"] == "conversation"} == {
        results[0][0].conversation_id,
        results[1][0].conversation_id,
    }


def test_matching_is_its_own_task_after_the_commit(factory, tasks) -> None:  # type: ignore[no-untyped-def]
    tenant = factory.tenant()
    chat = factory.channel(tenant, ChannelKind.WEBCHAT)
    known = factory.inbound(chat, contact_name="Kari Nordmann")
    db.session.get(Contact, known.contact_id).phone = "912 34 567"
    db.session.commit()
    tasks.sent.clear()
    account = loaded(factory.channel(tenant, ChannelKind.SMS))
    ((msg, _),) = ingest_many([(account, sms(1, "+4791234567"))])
    assert tasks.sent == [] and count(ContactMatchSuggestion) == 0
    db.session.commit()
    assert tasks.names() == [MATCH_TASK]
    assert count(ContactMatchSuggestion) == 0  # not inside the ingest
    tasks.run_all()
    (s,) = db.session.scalars(select(ContactMatchSuggestion)).all()
    assert {s.contact_a_id, s.contact_b_id} == {known.contact_id, msg.contact_id}
    assert s.matched_on == "phone"


def test_a_batch_of_new_citizens_is_one_matching_task_of_a_few_statements(factory, tasks) -> None:  # type: ignore[no-untyped-def]
    """After an alert thousands of new citizens write at once. Each new contact used to be a
    task of its own (a broker message, a task run and four queries): matching took more of the
    worker than storing the messages. One task per batch now, and its queries do not grow with
    the number of contacts; it still finds each one's match."""
    tenant = factory.tenant()
    chat = factory.channel(tenant, ChannelKind.WEBCHAT)
    for n in (3, 27):  # two of the senders are known by their phone number already
        known = factory.inbound(chat, contact_name=f"Kjent {n}")
        db.session.get(Contact, known.contact_id).phone = f"+47900{n:05d}"
    db.session.commit()
    account = factory.channel(tenant, ChannelKind.SMS)
    used = []
    for start, size in ((0, 5), (20, 30)):
        tasks.sent.clear()
        ingest_many([(loaded(account), sms(start + i)) for i in range(size)])
        db.session.commit()
        assert tasks.names() == [MATCH_TASK]
        with statements() as seen:
            tasks.run_all()
        used.append(len(seen))
    assert used[0] == used[1], used
    pairs = db.session.execute(
        select(ContactMatchSuggestion.matched_on, ContactMatchSuggestion.status)
    ).all()
    assert sorted(pairs) == [("phone", MatchStatus.PENDING)] * 2


def test_a_rolled_back_batch_sends_nothing(factory, tasks) -> None:  # type: ignore[no-untyped-def]
    """Nothing is stored either: on SQLite a savepoint released outside a transaction commits
    (the driver issues no BEGIN), which is how a rolled-back ingest used to keep its rows."""
    account = loaded(factory.channel(factory.tenant(), ChannelKind.SMS))
    tasks.sent.clear()
    ingest_many([(account, sms(1))])
    db.session.rollback()
    db.session.commit()
    assert tasks.sent == [] and count(Message) == 0
