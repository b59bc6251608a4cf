"""The reply box says which channel the answer goes through and lets the caseworker choose
another channel the citizen has: SMS to the number the citizen left in the web chat's offline
form is shown and chosen first. Where no channel can take a reply, the box says so once and Send
is disabled."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from channels.webchat.services import set_reply_preference
from inbox.extensions import db
from inbox.models import ChannelKind, Conversation, IdentityKind, Message, Role


@pytest.fixture
def town(app, factory):  # type: ignore[no-untyped-def]
    tenant = factory.tenant()
    chat = factory.channel(tenant, ChannelKind.WEBCHAT, name="Nettprat")
    sms = factory.channel(tenant, ChannelKind.SMS, name="SMS 2222")
    cw = factory.user(tenant, Role.CASEWORKER, name="Kari Saksbehandler")
    conv = factory.conversation(chat, body="Hei, dere har stengt", contact_name="Ola")
    return {"tenant": tenant, "chat": chat, "sms": sms, "cw": cw, "conv": conv}


def test_offline_form_preference_is_shown_and_chosen(client, login, town):
    conv = town["conv"]
    set_reply_preference(conv, {"method": "sms", "value": "+4791234567"})
    db.session.commit()
    login(town["cw"])
    page = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert "Innbyggeren ba om svar på SMS til +47 912 34 567." in page
    key = f"sms:{town['sms'].id}:+4791234567"
    assert f'name="route" value="{key}" checked' in page
    assert "Svar sendes via SMS til +47 912 34 567." in page

    resp = client.post(
        f"/c/{conv.id}/reply", data={"body": "Vi svarer på SMS.", "kind": "reply", "route": key}
    )
    assert resp.status_code == 303
    db.session.expire_all()
    msg = db.session.scalars(select(Message).where(Message.body == "Vi svarer på SMS.")).one()
    target = db.session.get(Conversation, msg.conversation_id)
    assert target.channel_account_id == town["sms"].id
    assert target.contact_id == conv.contact_id and target.meta["phone"] == "+4791234567"
    # The thread of the chat conversation shows the SMS answer (the contact's whole thread).
    page = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert "Vi svarer på SMS." in page[page.index('id="thread"') :]
    # The next answer reuses that SMS conversation.
    page = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert f'value="conv:{target.id}" checked' in page


def test_caseworker_may_choose_the_chat_instead(client, login, town):
    conv = town["conv"]
    set_reply_preference(conv, {"method": "sms", "value": "+4791234567"})
    db.session.commit()
    login(town["cw"])
    client.post(
        f"/c/{conv.id}/reply",
        data={"body": "Svar i chatten", "kind": "reply", "route": f"conv:{conv.id}"},
    )
    msg = db.session.scalars(select(Message).where(Message.body == "Svar i chatten")).one()
    assert msg.conversation_id == conv.id


def test_a_route_not_offered_is_refused(client, login, town, factory):
    other = factory.tenant()
    foreign = factory.conversation(factory.channel(other, ChannelKind.SMS), body="x")
    login(town["cw"])
    conv = town["conv"]
    for key in (f"conv:{foreign.id}", f"sms:{town['sms'].id}:+4799999999", "nonsense"):
        resp = client.post(
            f"/c/{conv.id}/reply", data={"body": "Hei", "kind": "reply", "route": key}
        )
        assert resp.status_code == 400
    assert db.session.scalars(select(Message).where(Message.body == "Hei")).all() == []


def test_other_channel_of_the_contact_is_offered(client, login, town, factory):
    conv = town["conv"]
    sms_conv = factory.conversation(
        town["sms"], body="Meg på SMS", kind=IdentityKind.PHONE, identity="+4790000001"
    )
    sms_conv.contact_id = conv.contact_id
    db.session.commit()
    login(town["cw"])
    page = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert f'name="route" value="conv:{conv.id}" checked' in page
    assert f'name="route" value="conv:{sms_conv.id}"' in page


def test_no_channel_can_reply_says_so_once_and_send_is_disabled(
    client, login, factory, monkeypatch
):
    tenant = factory.tenant()
    source = factory.channel(tenant, ChannelKind.WEB_COMMENTS, config={"source": "webhook"})
    cw = factory.user(tenant, Role.CASEWORKER)
    conv = factory.conversation(source, body="Jeg er imot planen", contact_name="Kari")
    login(cw)
    page = client.get(f"/c/{conv.id}").get_data(as_text=True)
    box = page[page.index('id="reply-h"') :]
    assert box.count("Svar kan ikke publiseres automatisk på dette nettstedet.") == 1
    assert '<button type="submit" disabled>Send</button>' in box
    assert 'name="kind" value="note"' in box  # a note can still be written


def test_a_public_comment_thread_is_never_offered_for_a_private_answer(
    client, login, town, factory
):
    conv = town["conv"]
    page_account = factory.channel(town["tenant"], ChannelKind.FACEBOOK_COMMENTS)
    public = factory.conversation(page_account, body="Kommentar", thread_key="post-1")
    public.contact_id = conv.contact_id
    db.session.commit()
    login(town["cw"])
    page = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert f'value="conv:{public.id}"' not in page
