"""The conversation's action bar: assignee, team, status, snooze and tags applied at once, and
undone within a few seconds (the snapshot of what was there before is kept in the session).

Every change goes through inbox.services.workflow and inbox.services.tags, so it is checked and
audited as the single actions are; so is the undo."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from inbox.models import Conversation, ConversationStatus, User
from inbox.services import tags as tag_svc
from inbox.services import workflow


@dataclass
class Snapshot:
    conversation_id: int
    assignee_id: int | None
    team_id: int | None
    status: str
    snoozed_until: str | None
    tags: list[str]
    taken_at: str  # ISO time; the undo is refused once it is older than UNDO_SECONDS

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Snapshot | None:
        try:
            return cls(**data)
        except TypeError:
            return None


def snapshot(conv: Conversation, now: datetime) -> Snapshot:
    return Snapshot(
        conversation_id=conv.id,
        assignee_id=conv.assignee_id,
        team_id=conv.team_id,
        status=conv.status.value,
        snoozed_until=conv.snoozed_until.isoformat() if conv.snoozed_until else None,
        tags=tag_svc.names_for([conv.id]).get(conv.id, []),
        taken_at=now.isoformat(),
    )


@dataclass
class Wanted:
    """What the bar's form asks for; None for a field left as it was."""

    assignee_id: int | None | str = "unchanged"
    team_id: int | None | str = "unchanged"
    status: str | None = None
    snooze_until: datetime | None = None
    tags: list[str] | None = None


def apply(conv: Conversation, user: User, wanted: Wanted) -> list[str]:
    """Apply what changed; returns the names of what changed (for the message). Raises
    workflow.WorkflowError or tags.InvalidTag; the caller rolls back."""
    changed = []
    if wanted.assignee_id != "unchanged" and wanted.assignee_id != conv.assignee_id:
        workflow.assign(conv, user, wanted.assignee_id)  # type: ignore[arg-type]
        changed.append("assignee")
    if wanted.team_id != "unchanged" and wanted.team_id != conv.team_id:
        workflow.transfer(conv, user, wanted.team_id)  # type: ignore[arg-type]
        changed.append("team")
    if wanted.snooze_until is not None:
        workflow.snooze(conv, user, wanted.snooze_until)
        changed.append("snooze")
    elif wanted.status and wanted.status != conv.status.value:
        workflow.change_status(conv, user, wanted.status)
        changed.append("status")
    if wanted.tags is not None:
        have = tag_svc.names_for([conv.id]).get(conv.id, [])
        want = [tag_svc.clean_name(t) for t in wanted.tags]
        for name in want:
            if name not in have:
                tag_svc.add(conv, user, name)
        for name in have:
            if name not in want:
                tag_svc.remove(conv, user, name)
        if sorted(set(want)) != sorted(have):
            changed.append("tags")
    return changed


def restore(conv: Conversation, user: User, before: Snapshot) -> None:
    """Put back what the snapshot holds (each step audited like the action it undoes)."""
    if conv.assignee_id != before.assignee_id:
        workflow.assign(conv, user, before.assignee_id)
    if conv.team_id != before.team_id:
        workflow.transfer(conv, user, before.team_id)
    status = ConversationStatus(before.status)
    if status is ConversationStatus.SNOOZED and before.snoozed_until:
        until = datetime.fromisoformat(before.snoozed_until)
        if conv.status is not status or conv.snoozed_until != until:
            workflow.set_status(conv, user, status)
            conv.snoozed_until = until
    elif conv.status is not status:
        workflow.set_status(conv, user, status)
        conv.snoozed_until = None
    have = tag_svc.names_for([conv.id]).get(conv.id, [])
    for name in before.tags:
        if name not in have:
            tag_svc.add(conv, user, name)
    for name in have:
        if name not in before.tags:
            tag_svc.remove(conv, user, name)
