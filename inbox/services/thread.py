"""What the conversation page shows: the citizen's whole thread across channels, and the
contact card. Everything is filtered by what the user may see."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import defer, lazyload

from inbox.extensions import db
from inbox.models import (
    Attachment,
    ChannelAccount,
    Contact,
    Conversation,
    Membership,
    Message,
    MessageRevision,
    Team,
    User,
)
from inbox.services.access import visible_conversations_clause

THREAD_LIMIT = 500


@dataclass
class ChannelLabel:
    id: int
    name: str


@dataclass
class ThreadItem:
    message: Message
    channel: ChannelLabel
    conversation_id: int
    author_name: str | None
    # Who wrote an inbound message: its own contact (a comment thread has many commenters),
    # not the conversation's first contact.
    contact_name: str | None = None
    # The message's attachments and earlier texts, read for the whole thread at once.
    attachments: list[Attachment] = field(default_factory=list)
    revisions: list[MessageRevision] = field(default_factory=list)


def thread(conv: Conversation, user: User) -> list[ThreadItem]:
    """Messages of every conversation of this contact the user may see, oldest first."""
    rows = db.session.execute(
        select(Message, ChannelAccount.id, ChannelAccount.name, Conversation.id, User.name)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(ChannelAccount, ChannelAccount.id == Message.channel_account_id)
        .outerjoin(User, User.id == Message.author_id)
        .where(
            Conversation.tenant_id == conv.tenant_id,
            Conversation.contact_id == conv.contact_id,
            visible_conversations_clause(user),
        )
        .order_by(Message.sent_at.desc(), Message.id.desc())
        .limit(THREAD_LIMIT)
        .options(defer(Message.meta), lazyload(Message.attachments), lazyload(Message.revisions))
    ).all()
    channels: dict[int, ChannelLabel] = {}
    items = [
        ThreadItem(m, channels.setdefault(ch_id, ChannelLabel(ch_id, ch_name)), cid, name)
        for m, ch_id, ch_name, cid, name in rows
    ]
    items.reverse()
    _attach_files_and_revisions(items)
    names = author_names(conv, {it.message.contact_id for it in items})
    for it in items:
        if not it.message.is_note and it.message.contact_id is not None:
            it.contact_name = names.get(it.message.contact_id)
    return items


def _attach_files_and_revisions(items: list[ThreadItem]) -> None:
    """Two queries for the whole thread, instead of loading both collections on every one of
    its (hundreds of) messages. They select by the thread's few conversations, not by a list
    of hundreds of message ids."""
    by_id = {it.message.id: it for it in items}
    if not by_id:
        return
    in_thread = select(Message.id).where(
        Message.conversation_id.in_({it.conversation_id for it in items})
    )
    for att in db.session.scalars(
        select(Attachment).where(Attachment.message_id.in_(in_thread)).order_by(Attachment.id)
    ):
        if att.message_id in by_id:
            by_id[att.message_id].attachments.append(att)
    for rev in db.session.scalars(
        select(MessageRevision)
        .where(MessageRevision.message_id.in_(in_thread))
        .order_by(MessageRevision.id)
    ):
        if rev.message_id in by_id:
            by_id[rev.message_id].revisions.append(rev)


def author_names(conv: Conversation, contact_ids: set[int | None]) -> dict[int, str]:
    """The shown name of each contact that wrote messages, within the conversation's tenant.
    A contact merged into another is shown by the name of the one it was merged into."""
    wanted = {cid for cid in contact_ids if cid is not None}
    names: dict[int, str] = {conv.contact_id: conv.contact.display_name}
    wanted -= set(names)
    if not wanted:
        return names
    contacts = db.session.scalars(
        select(Contact).where(Contact.tenant_id == conv.tenant_id, Contact.id.in_(wanted))
    ).all()
    for c in contacts:
        target = c
        if c.merged_into_id is not None:
            merged = db.session.get(Contact, c.merged_into_id)
            if merged is not None and merged.tenant_id == conv.tenant_id:
                target = merged
        names[c.id] = target.display_name
    return names


@dataclass
class ContactCard:
    contact: Contact
    conversations: list[Conversation]
    merged_contacts: list[Contact]


def contact_card(conv: Conversation, user: User) -> ContactCard:
    contact = conv.contact
    others = list(
        db.session.scalars(
            select(Conversation)
            .where(
                Conversation.contact_id == contact.id,
                Conversation.id != conv.id,
                Conversation.merged_into_id.is_(None),
                visible_conversations_clause(user),
            )
            .order_by(Conversation.last_activity_at.desc())
            .limit(20)
        )
    )
    merged = list(
        db.session.scalars(
            select(Contact).where(Contact.merged_into_id == contact.id).order_by(Contact.id)
        )
    )
    return ContactCard(contact, others, merged)


@dataclass
class StaffLabel:
    id: int
    name: str


def staff_and_teams(tenant_id: int) -> tuple[list[StaffLabel], list[Team]]:
    """Who a conversation can be assigned to (names only) and the teams it can move to."""
    staff = [
        StaffLabel(uid, name)
        for uid, name in db.session.execute(
            select(User.id, User.name)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.tenant_id == tenant_id, User.is_enabled.is_(True))
            .order_by(User.name)
        )
    ]
    teams = list(
        db.session.scalars(select(Team).where(Team.tenant_id == tenant_id).order_by(Team.name))
    )
    return staff, teams
