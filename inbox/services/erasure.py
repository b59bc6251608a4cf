"""Removing personal data: the deletes and anonymisations that retention and erasure requests
share. Nothing here decides *what* goes; callers pass ids they have checked. Flushes only.

"Anonymise" keeps the rows (so statistics of volume, channels and answer times survive) and
takes away everything that says who wrote what: message text, earlier versions, attachments,
provider metadata, the contact's name and identities.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select, update

from inbox.extensions import db
from inbox.models import (
    Attachment,
    Contact,
    ContactIdentity,
    Conversation,
    Message,
    MessageRevision,
)
from inbox.models.base import utcnow
from inbox.models.matching import ContactMatchSuggestion

ANONYMISED_FILENAME = "removed"


def delete_conversations(ids: list[int]) -> None:
    """Delete conversations with their messages, attachments and archive items (those that
    reached the records system or were withdrawn; callers never pass pending ones)."""
    if not ids:
        return
    from archiving.models import ArchiveItem, ArchiveItemMessage, JournalReceipt

    item_ids = select(ArchiveItem.id).where(ArchiveItem.conversation_id.in_(ids))
    db.session.execute(delete(JournalReceipt).where(JournalReceipt.archive_item_id.in_(item_ids)))
    db.session.execute(
        delete(ArchiveItemMessage).where(ArchiveItemMessage.archive_item_id.in_(item_ids))
    )
    db.session.execute(delete(ArchiveItem).where(ArchiveItem.conversation_id.in_(ids)))
    # Conversations merged into these keep pointing nowhere rather than blocking the delete.
    db.session.execute(
        update(Conversation)
        .where(Conversation.merged_into_id.in_(ids))
        .values(merged_into_id=None)
        .execution_options(synchronize_session=False)
    )
    delete_messages(select(Message.id).where(Message.conversation_id.in_(ids)))
    db.session.execute(
        delete(Conversation)
        .where(Conversation.id.in_(ids))
        .execution_options(synchronize_session=False)
    )


def delete_messages(message_ids: Iterable[int] | object) -> None:
    """Delete messages (a list of ids or a select of ids) with their attachments and edits,
    and their place in archive items that never reached the records system (withdrawn)."""
    from archiving.models import ArchiveItemMessage

    db.session.execute(
        delete(ArchiveItemMessage).where(ArchiveItemMessage.message_id.in_(message_ids))
    )
    db.session.execute(delete(Attachment).where(Attachment.message_id.in_(message_ids)))
    db.session.execute(delete(MessageRevision).where(MessageRevision.message_id.in_(message_ids)))
    db.session.execute(
        delete(Message)
        .where(Message.id.in_(message_ids))
        .execution_options(synchronize_session=False)
    )


def anonymise_conversations(ids: list[int]) -> None:
    if not ids:
        return
    message_ids = select(Message.id).where(Message.conversation_id.in_(ids))
    db.session.execute(delete(Attachment).where(Attachment.message_id.in_(message_ids)))
    db.session.execute(delete(MessageRevision).where(MessageRevision.message_id.in_(message_ids)))
    db.session.execute(
        update(Message)
        .where(Message.conversation_id.in_(ids))
        .values(body="", error_message=None, meta={})
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(Conversation)
        .where(Conversation.id.in_(ids))
        .values(subject=None, meta={}, anonymised_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def remove_attachment_files(ids: list[int], *, keep_rows: bool) -> None:
    """Delete attachments, or (keep_rows) keep a row saying a file was there."""
    if not ids:
        return
    if keep_rows:
        db.session.execute(
            update(Attachment)
            .where(Attachment.id.in_(ids))
            .values(data=None, provider_url=None, sha256=None, size=0, filename=ANONYMISED_FILENAME)
            .execution_options(synchronize_session=False)
        )
    else:
        db.session.execute(
            delete(Attachment)
            .where(Attachment.id.in_(ids))
            .execution_options(synchronize_session=False)
        )


def _release_references(ids: list[int]) -> None:
    """Undo bookkeeping that points at these contacts (merge history) is let go."""
    db.session.execute(
        update(Contact)
        .where(Contact.merged_into_id.in_(ids))
        .values(merged_into_id=None)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(ContactIdentity)
        .where(ContactIdentity.previous_contact_id.in_(ids))
        .values(previous_contact_id=None)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        delete(ContactMatchSuggestion).where(
            ContactMatchSuggestion.contact_a_id.in_(ids)
            | ContactMatchSuggestion.contact_b_id.in_(ids)
        )
    )


def delete_contacts(ids: list[int]) -> None:
    """Delete contacts that have no conversations or messages left."""
    if not ids:
        return
    _release_references(ids)
    db.session.execute(delete(ContactIdentity).where(ContactIdentity.contact_id.in_(ids)))
    db.session.execute(
        delete(Contact).where(Contact.id.in_(ids)).execution_options(synchronize_session=False)
    )


def anonymise_contacts(ids: list[int]) -> None:
    if not ids:
        return
    _release_references(ids)
    db.session.execute(delete(ContactIdentity).where(ContactIdentity.contact_id.in_(ids)))
    db.session.execute(
        update(Contact)
        .where(Contact.id.in_(ids))
        .values(name=None, email=None, phone=None, anonymised_at=utcnow())
        .execution_options(synchronize_session=False)
    )
