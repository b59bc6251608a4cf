"""Who handles a conversation and when: assign, claim, transfer to a team, status, snooze."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from inbox.extensions import db
from inbox.models import Conversation, ConversationStatus, Membership, Team, User
from inbox.models.base import utcnow
from inbox.services import audit
from inbox.services.conversations import set_status


class WorkflowError(ValueError):
    """The change is not possible; str(exc) is a short code the view turns into a message."""


def assign(conv: Conversation, actor: User, assignee_id: int | None) -> None:
    """Assign to a member of the conversation's tenant (or nobody, with None)."""
    if assignee_id is not None:
        member = db.session.get(Membership, (assignee_id, conv.tenant_id))
        if member is None:
            raise WorkflowError("unknown_user")
    if conv.assignee_id == assignee_id:
        return
    old = conv.assignee_id
    conv.assignee_id = assignee_id
    audit.record("assign", conv, tenant_id=conv.tenant_id, actor=actor, old=old, new=assignee_id)


def transfer(conv: Conversation, actor: User, team_id: int | None) -> None:
    """Hand the conversation to another team of the same tenant (None = no team)."""
    if team_id is not None:
        team = db.session.get(Team, team_id)
        if team is None or team.tenant_id != conv.tenant_id:
            raise WorkflowError("unknown_team")
    if conv.team_id == team_id:
        return
    old = conv.team_id
    conv.team_id = team_id
    # The person it was assigned to may not be in the new team; the team picks it up.
    conv.assignee_id = None
    audit.record("transfer", conv, tenant_id=conv.tenant_id, actor=actor, old=old, new=team_id)


def change_status(conv: Conversation, actor: User, status: str) -> None:
    try:
        new = ConversationStatus(status)
    except ValueError:
        raise WorkflowError("unknown_status") from None
    if new is ConversationStatus.SNOOZED:
        raise WorkflowError("snooze_needs_time")
    set_status(conv, actor, new)


def snooze(conv: Conversation, actor: User, until: datetime) -> None:
    """Put the conversation aside until `until` (aware); it reopens then, or on a new message."""
    if until.tzinfo is None:
        raise WorkflowError("snooze_time")
    if until <= utcnow():
        raise WorkflowError("snooze_past")
    set_status(conv, actor, ConversationStatus.SNOOZED)
    conv.snoozed_until = until
    audit.record("snooze", conv, tenant_id=conv.tenant_id, actor=actor, until=until.isoformat())


def reopen_due(limit: int = 1000) -> int:
    """Reopen snoozed conversations whose time has come (the housekeeping beat task)."""
    now = utcnow()
    rows = db.session.execute(
        select(Conversation.id, Conversation.tenant_id)
        .where(
            Conversation.status == ConversationStatus.SNOOZED,
            Conversation.snoozed_until <= now,
        )
        .limit(limit)
    ).all()
    ids = [r.id for r in rows]
    if not ids:
        return 0
    # Conditional update: a conversation a caseworker changed meanwhile is left alone.
    db.session.execute(
        update(Conversation)
        .where(Conversation.id.in_(ids), Conversation.status == ConversationStatus.SNOOZED)
        .values(status=ConversationStatus.OPEN, snoozed_until=None, has_unread=True)
        .execution_options(synchronize_session=False)
    )
    for row in rows:
        audit.record("snooze.due", _Ref(row.id), tenant_id=row.tenant_id, actor_label="worker")
    return len(ids)


class _Ref:
    """Audit a conversation by id without loading it."""

    def __init__(self, id: int) -> None:  # noqa: A002
        self.id = id


_Ref.__name__ = "Conversation"
