"""Caseworkers flag what is part of a case; records staff review it.

Every function validates, changes state through ArchiveItem.move_to, writes the audit log and
flushes; the caller (a view) commits. Tasks are queued to be sent after that commit.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select

from archiving import noark
from archiving.interfaces import CaseInfo, RecordsRejected, RecordsUnavailable
from archiving.models import ArchiveItem, ArchiveItemMessage, ArchiveState
from inbox.db import enqueue
from inbox.extensions import db
from inbox.models import Contact, Conversation, Direction, Message, Tenant, User
from inbox.services import audit

log = logging.getLogger(__name__)

CASE_NUMBER_RE = re.compile(r"^(19|20)\d{2}/\d{1,7}$")
JOURNALPOST_TYPES = ("I", "U", "N", "X")
# States in which a message belongs to a live item and cannot be flagged again.
ACTIVE = (
    ArchiveState.FLAGGED,
    ArchiveState.RETURNED,
    ArchiveState.APPROVED,
    ArchiveState.JOURNALLING,
    ArchiveState.JOURNALLED,
    ArchiveState.FAILED,
)
MAX = {"title": 300, "name": 200, "address": 300, "basis": 200, "fields": 200, "note": 4000}


class TriageError(ValueError):
    MESSAGES = {
        "case": lambda: _(
            "Give an existing case number (for example 2026/1234) or a title for a new case."
        ),
        "case_both": lambda: _("Give either an existing case number or a new case, not both."),
        "case_format": lambda: _("A case number is written year/number, for example 2026/1234."),
        "title": lambda: _("The journal entry needs a title."),
        "too_long": lambda: _("A field is too long."),
        "nothing": lambda: _("There is nothing in this conversation to archive."),
        "messages": lambda: _("Choose messages from this conversation."),
        "already": lambda: _("A chosen message is already flagged for the archive."),
        "type": lambda: _("The journal entry type must be I, U, N or X."),
        "correspondent": lambda: _(
            "Give the citizen's name, or mark the correspondent as anonymous."
        ),
        "screening_code": lambda: _("Choose an access restriction code from the list."),
        "screening_fields": lambda: _("Choose what is screened from the list."),
        "screening_basis": lambda: _(
            "Screening needs both an access restriction code and a legal basis."
        ),
        "comment": lambda: _("Write a comment to the caseworker."),
        "state": lambda: _("This item cannot be changed any more."),
        "case_unknown": lambda case="": _(
            "There is no case %(case)s in the records system. Check the number, or give a "
            "title for a new case.",
            case=case,
        ),
        "case_closed": lambda case="": _(
            "Case %(case)s is closed in the records system. Give another case or a title for "
            "a new case.",
            case=case,
        ),
        "case_unreachable": lambda case="": _(
            "The records system did not answer, so case %(case)s could not be checked. Try "
            "again in a moment.",
            case=case,
        ),
    }

    def __init__(self, code: str, **params: str) -> None:
        super().__init__(code)
        self.params = params

    def user_message(self) -> str:
        message = self.MESSAGES.get(str(self))
        if message is None:
            return str(self)
        return message(**self.params) if self.params else message()


@dataclass
class FlagDetails:
    """What a caseworker (or records officer) says about the item; validated by clean()."""

    case_number: str = ""
    new_case_title: str = ""
    title: str = ""
    correspondent_name: str = ""
    correspondent_address: str = ""
    anonymous: bool = False
    screening_code: str = ""
    screening_basis: str = ""
    screening_fields: str = ""
    note: str = ""
    # message id -> journalposttype; None = derived from the direction of each message.
    types: dict[int, str] = field(default_factory=dict)

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> FlagDetails:
        types = {}
        for key, value in form.items():
            if key.startswith("type_") and key[5:].isdigit():
                types[int(key[5:])] = value.strip().upper()
        new_case = form.get("case_choice") == "new"
        existing = form.get("case_choice") == "existing"
        return cls(
            case_number="" if new_case else form.get("case_number", ""),
            new_case_title="" if existing else form.get("new_case_title", ""),
            title=form.get("title", ""),
            correspondent_name=form.get("correspondent_name", ""),
            correspondent_address=form.get("correspondent_address", ""),
            anonymous=form.get("anonymous") in ("1", "on", "true"),
            screening_code=form.get("screening_code", ""),
            screening_basis=form.get("screening_basis", ""),
            screening_fields=",".join(_values(form, "screening_fields")),
            note=form.get("note", ""),
            types=types,
        )

    def clean(self) -> FlagDetails:
        d = FlagDetails(
            **{k: v.strip() if isinstance(v, str) else v for k, v in self.__dict__.items()}
        )
        d.screening_code = noark.tilgangsrestriksjon_code(d.screening_code)
        codes = [c.strip() for c in d.screening_fields.split(",") if c.strip()]
        if any(c not in noark.SKJERMING_METADATA for c in codes):
            raise TriageError("screening_fields")
        d.screening_fields = ",".join(c for c in noark.SKJERMING_METADATA if c in codes)
        if d.screening_code and not d.screening_basis:
            d.screening_basis = noark.default_basis(d.screening_code) or ""
        if not d.case_number and not d.new_case_title:
            raise TriageError("case")
        if d.case_number and d.new_case_title:
            raise TriageError("case_both")
        if d.case_number and not CASE_NUMBER_RE.match(d.case_number):
            raise TriageError("case_format")
        if not d.title:
            raise TriageError("title")
        limits = {
            "title": (d.title, d.new_case_title),
            "name": (d.correspondent_name,),
            "address": (d.correspondent_address,),
            "basis": (d.screening_basis,),
            "fields": (d.screening_fields,),
            "note": (d.note,),
        }
        if any(len(v) > MAX[k] for k, vs in limits.items() for v in vs):
            raise TriageError("too_long")
        if d.anonymous:  # anonymous means no name and no way to reach them in the archive
            d.correspondent_name = ""
            d.correspondent_address = ""
        elif not d.correspondent_name:
            raise TriageError("correspondent")
        if d.screening_code and d.screening_code not in noark.TILGANGSRESTRIKSJON:
            raise TriageError("screening_code")
        if bool(d.screening_code) != bool(d.screening_basis) or (
            d.screening_fields and not d.screening_code
        ):
            raise TriageError("screening_basis")
        if any(t not in JOURNALPOST_TYPES for t in d.types.values()):
            raise TriageError("type")
        return d


def check_case(conv: Conversation, details: FlagDetails) -> CaseInfo | None:
    """Look an existing case up in the tenant's records system when messages are flagged into
    it, so that a wrong number is refused now rather than after approval. Returns the case
    (its title confirms the choice), or None for a new case. Raises TriageError."""
    number = details.case_number.strip()
    if not number or not CASE_NUMBER_RE.match(number):
        return None  # clean() explains what is missing or malformed
    from archiving.adapters import records_system_for

    tenant = db.session.get(Tenant, conv.tenant_id)
    assert tenant is not None
    try:
        info = records_system_for(tenant).lookup_case(number)
    except (RecordsUnavailable, RecordsRejected, LookupError) as exc:
        log.warning("case lookup of %s for tenant %s failed: %s", number, tenant.slug, exc)
        raise TriageError("case_unreachable", case=number) from exc
    if info is None:
        raise TriageError("case_unknown", case=number)
    if info.closed:
        raise TriageError("case_closed", case=number)
    return info


def _values(form: Mapping[str, str], name: str) -> list[str]:
    """All values of a field that may repeat (checkboxes); a plain mapping holds one string."""
    getlist = getattr(form, "getlist", None)
    values = getlist(name) if getlist else [form.get(name, "")]
    return [v for value in values for v in str(value).split(",") if v.strip()]


def journalposttype_for(message: Message | MessageSummary) -> str:
    """A citizen's message is inngående (I); the municipality's reply is utgående (U)."""
    return "I" if message.direction is Direction.INBOUND else "U"


def default_details(conv: Conversation, message_ids: Iterable[int] | None = None) -> FlagDetails:
    """The form's starting values: the author of the flagged messages as correspondent (the
    first citizen among them; in a comment thread that need not be the conversation's first
    contact), anonymous when unnamed. message_ids None: every archivable message."""
    contact = message_author(conv, message_ids)
    address = contact.email or contact.phone or ""
    if not address:
        address = next(
            (i.value for i in contact.identities if i.kind.value in ("phone", "email")), ""
        )
    from channels.webchat import idporten

    verified = idporten.verified(contact)
    if verified is not None:
        # Identified through ID-porten: the verified person is the correspondent.
        name = verified.name or contact.name or ""
        return FlagDetails(
            correspondent_name=name,
            correspondent_address=address,
            anonymous=not name,
            title=conv.subject or "",
        )
    return FlagDetails(
        correspondent_name=contact.name or "",
        correspondent_address=address,
        anonymous=contact.name is None,
        title=conv.subject or "",
    )


def message_author(conv: Conversation, message_ids: Iterable[int] | None = None) -> Contact:
    """The contact who wrote the first citizen message among the given ones (a contact merged
    into another stands for that one); the conversation's contact when there is none."""
    query = (
        select(Message.contact_id)
        .where(
            Message.conversation_id == conv.id,
            Message.is_note.is_(False),
            Message.direction == Direction.INBOUND,
            Message.contact_id.is_not(None),
        )
        .order_by(Message.sent_at, Message.id)
        .limit(1)
    )
    if message_ids is not None:
        query = query.where(Message.id.in_([int(i) for i in message_ids]))
    contact_id = db.session.scalar(query)
    contact = db.session.get(Contact, contact_id) if contact_id else None
    if contact is not None and contact.merged_into_id is not None:
        contact = db.session.get(Contact, contact.merged_into_id)
    if contact is None or contact.tenant_id != conv.tenant_id:
        return conv.contact
    return contact


def message_authors(conv: Conversation) -> dict[int, str]:
    """Message id -> the shown name of who wrote each citizen message of the conversation."""
    from inbox.services.thread import author_names

    rows = db.session.execute(
        select(Message.id, Message.contact_id).where(
            Message.conversation_id == conv.id, Message.direction == Direction.INBOUND
        )
    ).all()
    names = author_names(conv, {cid for _, cid in rows})
    return {mid: names.get(cid, conv.contact.display_name) for mid, cid in rows if cid}


def archivable_messages(conv: Conversation) -> list[Message]:
    return list(
        db.session.scalars(
            select(Message)
            .where(Message.conversation_id == conv.id, Message.is_note.is_(False))
            .order_by(Message.sent_at, Message.id)
        ).all()
    )


@dataclass(frozen=True)
class MessageSummary:
    """What the flag form needs of a message: no attachments, revisions or provider data."""

    id: int
    direction: Direction
    sent_at: datetime
    body: str


def archivable_summaries(conv: Conversation) -> list[MessageSummary]:
    """archivable_messages() as light rows, for forms that list them."""
    rows = db.session.execute(
        select(Message.id, Message.direction, Message.sent_at, Message.body)
        .where(Message.conversation_id == conv.id, Message.is_note.is_(False))
        .order_by(Message.sent_at, Message.id)
    ).all()
    return [MessageSummary(*row) for row in rows]


def flagged_message_ids(conv: Conversation, exclude_item: int | None = None) -> set[int]:
    """Messages of the conversation that already belong to a live archive item."""
    query = (
        select(ArchiveItemMessage.message_id)
        .join(ArchiveItem)
        .where(ArchiveItem.conversation_id == conv.id, ArchiveItem.state.in_(ACTIVE))
    )
    if exclude_item is not None:
        query = query.where(ArchiveItem.id != exclude_item)
    return set(db.session.scalars(query).all())


def unflagged_message_ids(conv: Conversation) -> list[int]:
    """The conversation's archivable messages not yet in a live item, oldest first."""
    flagged = flagged_message_ids(conv)
    return [m.id for m in archivable_summaries(conv) if m.id not in flagged]


def flag_conversation(
    conv: Conversation,
    user: User,
    *,
    case_number: str = "",
    new_case_title: str = "",
    title: str = "",
    message_ids: Iterable[int] | None = None,
    details: FlagDetails | None = None,
) -> ArchiveItem:
    """Flag the whole conversation (message_ids None) or the chosen messages."""
    if details is None:
        details = default_details(conv, message_ids)
        details.case_number, details.new_case_title = case_number, new_case_title
        details.title = title
    d = details.clean()
    messages = _chosen(conv, message_ids, exclude_item=None)
    item = ArchiveItem(tenant_id=conv.tenant_id, conversation_id=conv.id, flagged_by_id=user.id)
    _apply(item, d, messages)
    db.session.add(item)
    conv.flagged_for_archive = True
    db.session.flush()
    audit.record(
        "archive.flag",
        item,
        tenant_id=conv.tenant_id,
        actor=user,
        title=d.title,
        messages=[m.id for m in messages],
        case_number=item.case_number,
    )
    return item


def _chosen(
    conv: Conversation, message_ids: Iterable[int] | None, exclude_item: int | None
) -> list[Message]:
    messages = archivable_messages(conv)
    if message_ids is not None:
        wanted = {int(i) for i in message_ids}
        if not wanted or not wanted <= {m.id for m in messages}:
            raise TriageError("messages")
        messages = [m for m in messages if m.id in wanted]
    if not messages:
        raise TriageError("nothing")
    if {m.id for m in messages} & flagged_message_ids(conv, exclude_item):
        raise TriageError("already")
    return messages


def _apply(item: ArchiveItem, d: FlagDetails, messages: list[Message] | None = None) -> None:
    item.case_number = d.case_number or None
    item.new_case_title = d.new_case_title or None
    item.title = d.title
    item.anonymous = d.anonymous
    item.correspondent_name = d.correspondent_name or None
    item.correspondent_address = d.correspondent_address or None
    item.screening_code = d.screening_code or None
    item.screening_basis = d.screening_basis or None
    item.screening_fields = d.screening_fields or None
    if d.note or item.note_to_records is None:
        item.note_to_records = d.note or None
    if messages is not None:
        item.messages = [
            ArchiveItemMessage(
                message_id=m.id, journalposttype=d.types.get(m.id) or journalposttype_for(m)
            )
            for m in messages
        ]
    else:
        for link in item.messages:
            link.journalposttype = d.types.get(link.message_id) or link.journalposttype


def withdraw(item: ArchiveItem, user: User) -> None:
    """The caseworker unflags it; possible until records staff approve it."""
    if item.state not in (ArchiveState.FLAGGED, ArchiveState.RETURNED):
        raise TriageError("state")
    item.move_to(ArchiveState.WITHDRAWN)
    _refresh_conversation_flag(item.conversation_id)
    audit.record("archive.withdraw", item, tenant_id=item.tenant_id, actor=user)


def reflag(item: ArchiveItem, user: User, details: FlagDetails) -> None:
    """The caseworker corrects a returned item and sends it to records staff again."""
    if item.state is not ArchiveState.RETURNED:
        raise TriageError("state")
    d = details.clean()
    _apply(item, d)
    item.move_to(ArchiveState.FLAGGED)
    audit.record("archive.reflag", item, tenant_id=item.tenant_id, actor=user, title=d.title)


def update_metadata(item: ArchiveItem, user: User, details: FlagDetails) -> list[str]:
    """Records staff correct the metadata before approving; returns the changed fields."""
    if item.state not in (ArchiveState.FLAGGED, ArchiveState.FAILED):
        raise TriageError("state")
    d = details.clean()
    before = _snapshot(item)
    _apply(item, d)
    after = _snapshot(item)
    changed = sorted(k for k in after if before[k] != after[k])
    if changed:
        audit.record(
            "archive.edit",
            item,
            tenant_id=item.tenant_id,
            actor=user,
            changed={k: [before[k], after[k]] for k in changed},
        )
    return changed


def _snapshot(item: ArchiveItem) -> dict[str, object]:
    keys = [
        "case_number",
        "new_case_title",
        "title",
        "anonymous",
        "correspondent_name",
        "correspondent_address",
        "screening_code",
        "screening_basis",
        "screening_fields",
        "note_to_records",
    ]
    snap: dict[str, object] = {k: getattr(item, k) for k in keys}
    snap["types"] = {str(m.message_id): m.journalposttype for m in item.messages}
    return snap


def return_to_caseworker(item: ArchiveItem, user: User, comment: str) -> None:
    comment = comment.strip()
    if not comment:
        raise TriageError("comment")
    if len(comment) > MAX["note"]:
        raise TriageError("too_long")
    if item.state is not ArchiveState.FLAGGED:
        raise TriageError("state")
    item.move_to(ArchiveState.RETURNED)
    item.review_comment = comment
    audit.record("archive.return", item, tenant_id=item.tenant_id, actor=user, comment=comment)


def approve(item: ArchiveItem, user: User) -> None:
    if item.state is not ArchiveState.FLAGGED:
        raise TriageError("state")
    item.move_to(ArchiveState.APPROVED)
    item.approved_by_id = user.id
    item.review_comment = None
    audit.record("archive.approve", item, tenant_id=item.tenant_id, actor=user)
    enqueue("servicetorg.archiving.journal", item.id)


def retry(item: ArchiveItem, user: User) -> None:
    """Try again now: a failed item, or one waiting for a records system that was down."""
    if item.state is ArchiveState.FAILED:
        item.move_to(ArchiveState.APPROVED)
    elif item.state is not ArchiveState.APPROVED:
        raise TriageError("state")
    error, item.last_error, item.next_attempt_at = item.last_error, None, None
    audit.record("archive.retry", item, tenant_id=item.tenant_id, actor=user, error=error)
    enqueue("servicetorg.archiving.journal", item.id)


def _refresh_conversation_flag(conversation_id: int) -> None:
    conv = db.session.get(Conversation, conversation_id)
    if conv is None:
        return
    db.session.flush()
    live = db.session.scalar(
        select(ArchiveItem.id)
        .where(ArchiveItem.conversation_id == conversation_id, ArchiveItem.state.in_(ACTIVE))
        .limit(1)
    )
    conv.flagged_for_archive = live is not None
