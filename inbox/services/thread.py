"""What the conversation page shows: the citizen's whole thread across channels, and the
contact card. Everything is filtered by what the user may see."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import defer

from inbox.extensions import db
from inbox.models import (
    ChannelAccount,
    Contact,
    Conversation,
    Membership,
    Message,
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
        .options(defer(Message.meta))
    ).all()
    channels: dict[int, ChannelLabel] = {}
    items = [
        ThreadItem(m, channels.setdefault(ch_id, ChannelLabel(ch_id, ch_name)), cid, name)
        for m, ch_id, ch_name, cid, name in rows
    ]
    items.reverse()
    names = author_names(conv, {it.message.contact_id for it in items})
    for it in items:
        if not it.message.is_note and it.message.contact_id is not None:
            it.contact_name = names.get(it.message.contact_id)
    return items


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
