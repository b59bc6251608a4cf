"""The conversation page reads what it shows in a fixed number of queries: the same for a
short thread and a long one, each thing once (benchmarks/RESULTS-workspace.md has the times)."""

from __future__ import annotations

from inbox.extensions import db
from inbox.models import (
    Attachment,
    ChannelKind,
    ConversationTag,
    DeliveryStatus,
    Direction,
    Message,
    MessageRevision,
    Role,
    Tag,
)
from tests.sql_support import statements

# What a caseworker's full conversation page (queue list beside it) and the pane alone may
# issue; the code before these limits issued 32 and 26 in this setting.
FULL_PAGE_MAX = 26
PANE_MAX = 23


def _tag(conv, name: str) -> None:  # type: ignore[no-untyped-def]
    tag = Tag(tenant_id=conv.tenant_id, name=name)
    db.session.add(tag)
    db.session.flush()
    db.session.add(ConversationTag(conversation_id=conv.id, tag_id=tag.id))


def _conversation(factory, tenant, sms, cw, messages: int):  # type: ignore[no-untyped-def]
    conv = factory.conversation(sms, body="Søknad om byggesak", contact_name="Ola Innbygger")
    for i in range(messages - 1):
        inbound = i % 2 == 0
        msg = Message(
            tenant_id=tenant.id,
            conversation_id=conv.id,
            channel_account_id=sms.id,
            direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
            contact_id=conv.contact_id if inbound else None,
            author_id=None if inbound else cw.id,
            body=f"Melding {i}" if inbound else f"Svar {i}",
            delivery_status=DeliveryStatus.RECEIVED if inbound else DeliveryStatus.SENT,
        )
        db.session.add(msg)
        db.session.flush()
        if i % 4 == 0:
            db.session.add(MessageRevision(message_id=msg.id, body=f"Først skrevet {i}"))
            db.session.add(
                Attachment(
                    tenant_id=tenant.id,
                    message_id=msg.id,
                    filename=f"vedlegg-{i}.pdf",
                    content_type="application/pdf",
                )
            )
    _tag(conv, f"byggesak {conv.id}")
    db.session.commit()
    return conv


def _page_queries(client, conv_id: int, pane: bool = False) -> tuple[list[str], str]:  # type: ignore[no-untyped-def]
    url = f"/c/{conv_id}" + ("?pane=1" if pane else "")
    client.get(url)  # the first visit marks the messages read
    with statements() as seen:
        resp = client.get(url)
    assert resp.status_code == 200
    return seen, resp.get_data(as_text=True)


def test_a_long_thread_costs_no_more_queries_than_a_short_one_and_stays_under_the_ceiling(
    app, client, login, factory
):
    tenant = factory.tenant()
    sms = factory.channel(tenant, ChannelKind.SMS, name="SMS 2222")
    cw = factory.user(tenant, Role.CASEWORKER, name="Kari Saksbehandler")
    _tag(factory.conversation(sms, body="Annen sak"), "parkering")
    short = _conversation(factory, tenant, sms, cw, 25)
    long = _conversation(factory, tenant, sms, cw, 50)
    login(cw)
    client.get("/?view=all")  # the queue the list beside the conversation shows

    short_full, _page = _page_queries(client, short.id)
    long_full, page = _page_queries(client, long.id)
    short_pane, _pane = _page_queries(client, short.id, pane=True)
    long_pane, _pane = _page_queries(client, long.id, pane=True)

    assert len(long_full) == len(short_full)
    assert len(long_pane) == len(short_pane)
    assert len(long_full) <= FULL_PAGE_MAX, "\n".join(long_full)
    assert len(long_pane) <= PANE_MAX, "\n".join(long_pane)
    # What the queries read is still on the page: attachments, earlier texts, the tag
    # suggestion list and the tag already on the conversation.
    assert page.count("vedlegg-") == 13
    assert page.count("Først skrevet") == 13
    assert '<option value="parkering">' in page
    assert f'value="byggesak {long.id}"' in page


def test_each_thing_on_the_conversation_page_is_read_once(app, client, login, factory):
    tenant = factory.tenant()
    sms = factory.channel(tenant, ChannelKind.SMS, name="SMS 2222")
    cw = factory.user(tenant, Role.CASEWORKER)
    conv = _conversation(factory, tenant, sms, cw, 30)
    login(cw)

    for pane in (False, True):
        statements, _page = _page_queries(client, conv.id, pane=pane)
        tenant_tags = [s for s in statements if "FROM tag WHERE tag.tenant_id" in s]
        archive_items = [s for s in statements if s.startswith("SELECT archive_item.id")]
        attachments = [s for s in statements if "FROM attachment" in s]
        revisions = [s for s in statements if "FROM message_revision" in s]
        assert len(tenant_tags) == 1, tenant_tags
        assert len(archive_items) == 1, archive_items
        assert len(attachments) == 1, attachments
        assert len(revisions) == 1, revisions
