"""The thread as a conversation: who wrote each message, when, by which channel, and where a
reply is (sent, delivered, read, failed and why); internal notes marked as staff-only; edited
and removed comments marked, with the earlier text one click away."""

from __future__ import annotations

from datetime import timedelta

from inbox.extensions import db
from inbox.models import (
    ChannelKind,
    DeliveryStatus,
    Direction,
    IdentityKind,
    Message,
    MessageRevision,
    Role,
)
from inbox.models.base import utcnow
from inbox.services import conversations


def meta_of(page: str, message_id: int) -> str:
    start = page.index(f'id="msg-{message_id}"')
    return page[start : page.index("</li>", start)]


def test_thread_says_who_when_where_and_how_far(app, client, login, factory):
    tenant = factory.tenant()
    sms = factory.channel(tenant, ChannelKind.SMS, name="SMS 2222")
    cw = factory.user(tenant, Role.CASEWORKER, name="Kari Saksbehandler")
    conv = factory.conversation(
        sms,
        body="Hei",
        contact_name="Ola Innbygger",
        kind=IdentityKind.PHONE,
        identity="+4791234567",
    )
    reply = conversations.reply(conv, cw, "Hei Ola")
    reply.delivery_status = DeliveryStatus.SENT
    failed = conversations.reply(conv, cw, "Svar 2")
    failed.delivery_status = DeliveryStatus.FAILED
    failed.error_message = "Nummeret finnes ikke"
    note = conversations.add_note(conv, cw, "Ring ham i morgen")
    edited = Message(
        tenant_id=tenant.id,
        conversation_id=conv.id,
        channel_account_id=sms.id,
        direction=Direction.INBOUND,
        contact_id=conv.contact_id,
        body="Ny tekst",
        delivery_status=DeliveryStatus.RECEIVED,
        edited_at=utcnow(),
        removed_at=utcnow() + timedelta(minutes=1),
    )
    db.session.add(edited)
    db.session.flush()
    db.session.add(MessageRevision(message_id=edited.id, body="Gammel tekst"))
    db.session.commit()
    login(cw)
    page = client.get(f"/c/{conv.id}").get_data(as_text=True)

    sent = meta_of(page, reply.id)
    assert "Kari Saksbehandler" in sent and "SMS 2222" in sent and "<time" in sent
    assert "levert til kanalen, ikke bekreftet mottatt ennå" in sent
    assert "Nummeret finnes ikke" in meta_of(page, failed.id)
    staff_note = meta_of(page, note.id)
    assert "msg--note" in page[page.rindex("<li", 0, page.index(f'id="msg-{note.id}"')) :][:200]
    assert "bare ansatte ser dette" in staff_note
    changed = meta_of(page, edited.id)
    assert "Redigert" in changed and "fjernet" in changed
    # The earlier text is one click away.
    assert "<details" in changed and "Gammel tekst" in changed
