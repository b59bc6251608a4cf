"""Render the messages of a journal entry to archival documents."""

from __future__ import annotations

import hashlib
from zoneinfo import ZoneInfo

from archiving.interfaces import Document
from archiving.models import ArchiveItem
from inbox.extensions import db
from inbox.models import Conversation, Direction, Message, Tenant


def render_documents(item: ArchiveItem, tenant: Tenant, messages: list[Message]) -> list[Document]:
    """The hoveddokument first, then any vedlegg. Same input, same bytes."""
    conv = db.session.get(Conversation, item.conversation_id)
    assert conv is not None
    tz = ZoneInfo(tenant.timezone)
    lines = [
        tenant.name,
        f"Kanal: {conv.channel_account.name} ({conv.channel_account.kind})",
        f"Innbygger: {conv.contact.display_name}",
        f"Tittel: {item.title}",
        "",
    ]
    for m in messages:
        who = conv.contact.display_name if m.direction is Direction.INBOUND else tenant.name
        when = m.sent_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")
        pid = f" [{m.provider_message_id}]" if m.provider_message_id else ""
        lines += [f"{when} {who}{pid}:", m.body, ""]
    data = "\n".join(lines).encode("utf-8")
    # Plain UTF-8 text (PRONOM x-fmt/111) is an accepted archival format.
    return [
        Document(
            title=item.title,
            filename=f"henvendelse-{item.id}-{messages[0].id}.txt",
            mime_type="text/plain; charset=utf-8",
            puid="x-fmt/111",
            data=data,
            sha256=hashlib.sha256(data).hexdigest(),
        )
    ]
