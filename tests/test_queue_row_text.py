"""What a queue row says, pinned in nb, nn and en: the name (first phone number, else e-mail
address, else the contact's own number, else "Innbygger på chat 14:02"), the last line that is
not a note, the state, the assignee and the tags in order; the dates and times are Babel's own
text. A page reads its rows in the same number of statements however many rows it has."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask_babel import format_datetime, format_time, get_locale
from flask_babel import gettext as babel_gettext

from inbox import formatting
from inbox.extensions import db
from inbox.models import ChannelKind, ContactIdentity, IdentityKind, Role
from inbox.models.base import utcnow
from inbox.services import conversations, tags
from tests.sql_support import statements

LANGS = ["nb", "nn", "en"]

# Every hour and many minutes around both daylight saving switches in Oslo, a new year and a
# leap day; each formatted twice (made, then remembered).
INSTANTS = [
    start + timedelta(minutes=37 * i)
    for start in (
        datetime(2026, 3, 28, 12, 0, tzinfo=UTC),
        datetime(2026, 10, 24, 12, 0, tzinfo=UTC),
        datetime(2025, 12, 31, 10, 0, tzinfo=UTC),
        datetime(2028, 2, 28, 10, 0, tzinfo=UTC),
    )
    for i in range(100)
]


@pytest.mark.parametrize("lang", LANGS)
def test_short_dates_and_times_are_babels_text(app, lang):
    formatting._compiled.cache_clear()
    with app.test_request_context(f"/?lang={lang}"):
        assert str(get_locale()) == lang
        formats = formatting.short_formatters()
        for _ in range(2):
            for value in INSTANTS:
                assert formats.date_and_time(value) == format_datetime(value, "short"), value
                assert formats.time_of_day(value) == format_time(value, "short"), value


def row_of(html: str, conv_id: int) -> str:
    start = html.index(f'data-conversation-id="{conv_id}"')
    return html[start : html.index("</li>", start)]


def text_of(fragment: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment)).strip()


def _identity(conv, kind: IdentityKind, value: str) -> None:  # type: ignore[no-untyped-def]
    db.session.add(
        ContactIdentity(
            tenant_id=conv.tenant_id, contact_id=conv.contact_id, kind=kind, value=value
        )
    )


@pytest.fixture
def desk(app, factory):  # type: ignore[no-untyped-def]
    tenant = factory.tenant()
    me = factory.user(tenant, Role.CASEWORKER, name="Kari Saksbehandler")
    chat = factory.channel(tenant, ChannelKind.WEBCHAT, name="Nettprat")
    sms = factory.channel(tenant, ChannelKind.SMS, name="SMS 2222")
    messenger = factory.channel(tenant, ChannelKind.MESSENGER, name="Facebook-siden")
    two_phones = factory.conversation(
        sms, body="Første linje\nandre linje", kind=IdentityKind.PHONE, identity="+4791234567"
    )
    _identity(two_phones, IdentityKind.EMAIL, "ola@example.no")
    _identity(two_phones, IdentityKind.PHONE, "+4799999999")  # a later number: not shown
    email_only = factory.conversation(chat, body="Hei")
    _identity(email_only, IdentityKind.EMAIL, "kari@example.no")
    own_number = factory.conversation(chat, body="Ring meg")
    own_number.contact.phone = "+4722123456"
    today = factory.conversation(chat, body="Hallo?")
    earlier = factory.conversation(messenger, body="Gammel sak", identity="psid-1")
    earlier.created_at = utcnow() - timedelta(days=3)
    named = factory.conversation(chat, body="Takk", contact_name="Per Hansen")
    conversations.reply(named, me, "Svar fra oss\nmed to linjer")
    conversations.add_note(named, me, "Internt notat")
    named.assignee_id = me.id
    db.session.commit()
    for name in ("zebra", "ærend", "avløp"):
        tags.add(named, me, name)
    db.session.commit()
    return {
        "me": me,
        "two_phones": two_phones,
        "email_only": email_only,
        "own_number": own_number,
        "today": today,
        "earlier": earlier,
        "named": named,
    }


@pytest.mark.parametrize("lang", LANGS)
def test_row_texts(app, client, login, desk, lang):
    login(desk["me"])
    client.get(f"/?lang={lang}")
    html = client.get("/?view=all").get_data(as_text=True)
    with app.test_request_context(f"/?lang={lang}"):
        _ = babel_gettext
        today_at = format_time(desk["today"].created_at, "short")
        earlier_at = format_datetime(desk["earlier"].created_at, "short")
        citizen_today = _("Citizen on chat %(time)s", time=today_at)
        citizen_earlier = _(
            "Citizen on %(channel)s %(time)s", channel=_("messenger"), time=earlier_at
        )
        we, waiting_citizen, assigned = _("We:"), _("Waiting for the citizen"), _("Assigned to")
        new, not_assigned = _("New"), _("Not assigned")

    rows = {k: row_of(html, desk[k].id) for k in desk if k != "me"}
    text = {k: text_of(row) for k, row in rows.items()}
    who = {k: re.search(r'class="queue__who">([^<]*)<', row)[1] for k, row in rows.items()}
    assert who["two_phones"] == "+47 912 34 567"
    assert "Første linje" in text["two_phones"] and "andre linje" not in text["two_phones"]
    assert who["email_only"] == "kari@example.no"
    assert who["own_number"] == "+47 22 12 34 56"
    assert who["today"] == citizen_today
    assert who["earlier"] == citizen_earlier
    for key in ("two_phones", "email_only", "own_number", "today", "earlier"):
        assert f" {new} " in text[key] and not_assigned in text[key]

    named = row_of(html, desk["named"].id)
    assert who["named"] == "Per Hansen"
    assert f"{we} Svar fra oss" in text["named"]
    assert "Internt notat" not in named and "med to linjer" not in named
    assert waiting_citizen in text["named"]
    assert f"{assigned} Kari Saksbehandler" in text["named"]
    assert re.findall(r'<span class="tag">([^<]+)</span>', named) == ["avløp", "zebra", "ærend"]
    assert html.count(f'data-conversation-id="{desk["named"].id}"') == 1  # one row, three tags


def test_a_page_reads_its_rows_in_the_same_statements_however_many(client, login, desk, factory):
    login(desk["me"])
    client.get("/?view=all")
    with statements() as few:
        assert client.get("/?view=all").status_code == 200
    chat = desk["today"].channel_account
    for i in range(12):
        conv = factory.conversation(chat, body=f"Melding {i}", contact_name=None)
        _identity(conv, IdentityKind.EMAIL, f"innbygger{i}@example.no")
        conv.assignee_id = desk["me"].id
        db.session.commit()
        tags.add(conv, desk["me"], f"tag {i}")
        db.session.commit()
    client.get("/?view=all")
    with statements() as many:
        html = client.get("/?view=all").get_data(as_text=True)
    assert html.count('class="queue__item ') == 18
    assert len(many) == len(few), "\n".join(many)
