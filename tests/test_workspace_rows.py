"""Queue rows a caseworker can read: a name rather than a raw id, the channel as icon and text,
the first line of the last message, how long ago, one state that means something, who has it,
the archive flag and the tags."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from inbox.extensions import db
from inbox.models import (
    ChannelKind,
    ConversationStatus,
    IdentityKind,
    Role,
)
from inbox.models.base import utcnow
from inbox.services import conversations, tags
from inbox.services.rows import format_phone


def row_of(html: str, conv_id: int) -> str:
    start = html.index(f'data-conversation-id="{conv_id}"')
    return html[start : html.index("</li>", start)]


def text_of(fragment: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment)).strip()


@pytest.fixture
def desk(app, factory):  # type: ignore[no-untyped-def]
    tenant = factory.tenant()
    me = factory.user(tenant, Role.CASEWORKER, name="Kari Saksbehandler")
    chat = factory.channel(tenant, ChannelKind.WEBCHAT, name="Nettprat kommune.no")
    sms = factory.channel(tenant, ChannelKind.SMS, name="SMS 2222")
    anon = factory.conversation(chat, body="Hei!\nNår åpner bassenget?", identity="a" * 64)
    phone = factory.conversation(
        sms, body="Søppelet er ikke hentet", kind=IdentityKind.PHONE, identity="+4791234567"
    )
    named = factory.conversation(
        chat, body="Takk for svaret", identity="v-named", contact_name="Per Hansen"
    )
    conversations.reply(named, me, "Bassenget åpner kl. 7.\nVelkommen!")
    named.waiting_since = None
    named.last_activity_at = utcnow() - timedelta(minutes=5)
    snoozed = factory.conversation(chat, body="Kan dere ringe meg?", contact_name="Ola Snooze")
    snoozed.status = ConversationStatus.SNOOZED
    snoozed.snoozed_until = utcnow() + timedelta(days=1)
    phone.assignee_id = me.id
    phone.flagged_for_archive = True
    db.session.commit()
    tags.add(phone, me, "renovasjon")
    db.session.commit()
    return {"me": me, "anon": anon, "phone": phone, "named": named, "snoozed": snoozed}


def test_rows_read_like_a_worklist(client, login, desk):
    login(desk["me"])
    html = client.get("/?view=all").get_data(as_text=True)

    anon = row_of(html, desk["anon"].id)
    assert re.search(r"Innbygger på chat \d\d[:.]\d\d", text_of(anon))
    assert "a" * 16 not in anon and "#" not in text_of(anon).split(" ")[0]
    assert "Hei!" in text_of(anon) and "bassenget" not in anon  # the first line only
    assert 'class="badge badge--new">Ny<' in anon
    assert anon.count('class="badge ') == 1  # one state, not "Ulest" and "Venter" both
    assert "channel-badge--webchat" in anon and "Nettprat" in text_of(anon)

    phone = row_of(html, desk["phone"].id)
    assert "+47 912 34 567" in text_of(phone)
    assert "Søppelet er ikke hentet" in phone
    assert "Tildelt Kari Saksbehandler" in text_of(phone)
    assert "Flagget for arkiv" in phone and ">renovasjon<" in phone
    assert "channel-badge--sms" in phone

    named = row_of(html, desk["named"].id)
    assert "Per Hansen" in named
    assert "Vi: Bassenget åpner kl. 7." in text_of(named) and "Velkommen" not in named
    assert "Venter på innbyggeren" in named
    assert "for 5 min siden" in named
    # The absolute time is one hover or focus away.
    assert re.search(r'<time class="queue__ago" datetime="[^"]+" title="[^"]*\d{4}[^"]*">', named)

    html = client.get("/?view=all&status=snoozed").get_data(as_text=True)
    assert "Slumrer til " in row_of(html, desk["snoozed"].id)


def test_citizen_who_writes_again_is_waiting_for_us(client, login, desk, factory):
    conv = desk["named"]
    factory.inbound(conv.channel_account, body="Og badstua?", identity="v-named")
    login(desk["me"])
    row = row_of(client.get("/?view=all").get_data(as_text=True), conv.id)
    assert "Venter på oss" in row and "Og badstua?" in row


def test_english_rows(client, login, desk):
    login(desk["me"])
    client.get("/?lang=en")
    html = client.get("/?view=all").get_data(as_text=True)
    assert re.search(r"Citizen on chat \d", text_of(row_of(html, desk["anon"].id)))
    assert "5 min. ago" in row_of(html, desk["named"].id)


def test_search_rows_use_the_same_names(client, login, desk):
    login(desk["me"])
    html = client.get("/search?q=Søppelet").get_data(as_text=True)
    assert "+47 912 34 567" in text_of(row_of(html, desk["phone"].id))


def test_phone_numbers_are_grouped_as_norwegians_write_them():
    assert format_phone("+4791234567") == "+47 912 34 567"
    assert format_phone("+4722123456") == "+47 22 12 34 56"
    assert format_phone("+46701234567") == "+46701234567"


def test_rows_of_another_municipality_never_show(client, login, desk, factory):
    other = factory.tenant()
    factory.conversation(factory.channel(other), body="Hemmelig", contact_name="Fremmed")
    login(desk["me"])
    html = client.get("/?view=all").get_data(as_text=True)
    assert "Hemmelig" not in html and "Fremmed" not in html


def test_tags_filter_the_queue_and_search(client, login, desk):
    login(desk["me"])
    html = client.get("/?view=all&tag=renovasjon").get_data(as_text=True)
    assert f'data-conversation-id="{desk["phone"].id}"' in html
    assert f'data-conversation-id="{desk["anon"].id}"' not in html
    assert '<option value="renovasjon" selected>' in html
    html = client.get("/search?q=Hei&tag=renovasjon").get_data(as_text=True)
    assert f'data-conversation-id="{desk["anon"].id}"' not in html
    assert client.get("/?tag=" + "x" * 65).status_code == 400
