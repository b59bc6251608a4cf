"""What the conversation page shows: the citizen's whole thread across channels, and the
contact card. Everything is filtered by what the user may see."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

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
class ThreadItem:
    message: Message
    channel: ChannelAccount
    conversation_id: int
    author_name: str | None


def thread(conv: Conversation, user: User) -> list[ThreadItem]:
    """Messages of every conversation of this contact the user may see, oldest first."""
    rows = db.session.execute(
        select(Message, ChannelAccount, Conversation.id, User.name)
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
    ).all()
    items = [ThreadItem(m, ch, cid, name) for m, ch, cid, name in rows]
    items.reverse()
    return items


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


def merge_candidates(conv: Conversation, user: User) -> list[Conversation]:
    """Other open conversations the user could merge this one into (same contact first)."""
    return list(
        db.session.scalars(
            select(Conversation)
            .where(
                Conversation.tenant_id == conv.tenant_id,
                Conversation.contact_id == conv.contact_id,
                Conversation.id != conv.id,
                Conversation.merged_into_id.is_(None),
                visible_conversations_clause(user),
            )
            .order_by(Conversation.last_activity_at.desc())
            .limit(20)
        )
    )


def staff_and_teams(tenant_id: int) -> tuple[list[User], list[Team]]:
    staff = list(
        db.session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.tenant_id == tenant_id, User.is_enabled.is_(True))
            .order_by(User.name)
        )
    )
    teams = list(
        db.session.scalars(select(Team).where(Team.tenant_id == tenant_id).order_by(Team.name))
    )
    return staff, teams
