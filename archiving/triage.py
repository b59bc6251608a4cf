"""Caseworkers flag what is part of a case; records staff review it."""

from __future__ import annotations

import re

from flask_babel import gettext as _
from sqlalchemy import select

from archiving.models import ArchiveItem, ArchiveItemMessage, ArchiveState
from inbox.db import enqueue
from inbox.extensions import db
from inbox.models import Conversation, Direction, Message, User
from inbox.services import audit

CASE_NUMBER_RE = re.compile(r"^(19|20)\d{2}/\d{1,7}$")


class TriageError(ValueError):
    MESSAGES = {
        "case": lambda: _(
            "Give an existing case number (for example 2026/1234) or a title for a new case."
        ),
        "case_format": lambda: _("A case number is written year/number, for example 2026/1234."),
        "title": lambda: _("The journal entry needs a title."),
        "nothing": lambda: _("There is nothing in this conversation to archive."),
        "state": lambda: _("This item cannot be changed any more."),
    }

    def user_message(self) -> str:
        return self.MESSAGES.get(str(self), lambda: str(self))()


def journalposttype_for(message: Message) -> str:
    """A citizen's message is inngående (I); the municipality's reply is utgående (U)."""
    return "I" if message.direction is Direction.INBOUND else "U"


def flag_conversation(
    conv: Conversation,
    user: User,
    *,
    case_number: str,
    new_case_title: str,
    title: str,
) -> ArchiveItem:
    case_number, new_case_title, title = (
        case_number.strip(),
        new_case_title.strip(),
        title.strip(),
    )
    if not case_number and not new_case_title:
        raise TriageError("case")
    if case_number and not CASE_NUMBER_RE.match(case_number):
        raise TriageError("case_format")
    if not title or len(title) > 300 or len(new_case_title) > 300:
        raise TriageError("title")
    messages = db.session.scalars(
        select(Message)
        .where(Message.conversation_id == conv.id, Message.is_note.is_(False))
        .order_by(Message.sent_at, Message.id)
    ).all()
    if not messages:
        raise TriageError("nothing")
    item = ArchiveItem(
        tenant_id=conv.tenant_id,
        conversation_id=conv.id,
        case_number=case_number or None,
        new_case_title=new_case_title or None,
        title=title,
        correspondent_name=conv.contact.name,
        anonymous=conv.contact.name is None,
        flagged_by_id=user.id,
    )
    item.messages = [
        ArchiveItemMessage(message_id=m.id, journalposttype=journalposttype_for(m))
        for m in messages
    ]
    db.session.add(item)
    conv.flagged_for_archive = True
    db.session.flush()
    audit.record("archive.flag", item, tenant_id=conv.tenant_id, actor=user, title=title)
    return item


def approve(item: ArchiveItem, user: User) -> None:
    if item.state is not ArchiveState.FLAGGED:
        raise TriageError("state")
    item.move_to(ArchiveState.APPROVED)
    item.approved_by_id = user.id
    audit.record("archive.approve", item, tenant_id=item.tenant_id, actor=user)
    enqueue("servicetorg.archiving.journal", item.id)
