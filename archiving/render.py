"""Render an archive item's messages to an archival document."""

from __future__ import annotations

import hashlib
from zoneinfo import ZoneInfo

from archiving.interfaces import Document
from archiving.models import ArchiveItem
from inbox.extensions import db
from inbox.models import Conversation, Direction, Message, Tenant


def render_text(item: ArchiveItem) -> Document:
    """Plain UTF-8 text (PRONOM x-fmt/111), an accepted archival format."""
    conv = db.session.get(Conversation, item.conversation_id)
    tenant = db.session.get(Tenant, item.tenant_id)
    assert conv is not None and tenant is not None
    tz = ZoneInfo(tenant.timezone)
    ids = [m.message_id for m in item.messages]
    messages = sorted((db.session.get(Message, i) for i in ids), key=lambda m: (m.sent_at, m.id))
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
    return Document(
        title=item.title,
        filename=f"henvendelse-{item.id}.txt",
        mime_type="text/plain; charset=utf-8",
        puid="x-fmt/111",
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
    )
