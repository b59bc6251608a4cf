"""Search over message text, contact names and identities (PostgreSQL full-text search or
SQLite FTS5, whichever the suite runs on), highlighted safely, with the queue's filters."""

from __future__ import annotations

import pytest

from inbox.extensions import db
from inbox.models import ChannelKind, ConversationStatus, IdentityKind, Role
from inbox.services.queue import QueueQuery
from inbox.services.search import search


@pytest.fixture
def town(factory):
    tenant, other = factory.tenant(), factory.tenant()
    sms = factory.channel(tenant, ChannelKind.SMS)
    chat = factory.channel(tenant, ChannelKind.WEBCHAT)
    user = factory.user(tenant, Role.CASEWORKER)
    building = factory.inbound(
        sms,
        body="Hei, jeg sendte søknaden om byggetillatelse & <script>alert('x')</script> i mars.",
        identity="+4791234567",
        kind=IdentityKind.PHONE,
        contact_name="Kari Nordmann",
    )
    factory.inbound(chat, body="Når blir det søppeltømming i Storgata?", contact_name="Ola Hansen")
    closed = factory.inbound(
        chat, body="Byggetillatelse for garasje, takk", contact_name="Per Lund"
    )
    closed.conversation.status = ConversationStatus.CLOSED
    factory.inbound(
        factory.channel(other, ChannelKind.SMS),
        body="Søknaden om byggetillatelse fra nabokommunen",
        identity="+4791234568",
        kind=IdentityKind.PHONE,
        contact_name="Kari Annenkommune",
    )
    db.session.commit()
    return {"user": user, "building": building, "closed": closed}


def message_texts(results):
    return [str(h.snippet) for h in results.messages]


def test_finds_words_in_other_forms_and_highlights_them(town):
    res = search(town["user"], "søknad", QueueQuery())
    assert [h.message_id for h in res.messages] == [town["building"].id]
    snippet = message_texts(res)[0]
    assert "<mark>søknaden</mark>" in snippet.lower()


def test_citizen_html_is_escaped_in_snippets(town):
    res = search(town["user"], "byggetillatelse", QueueQuery())
    snippet = message_texts(res)[0]
    assert "<script" not in snippet
    assert "&amp;" in snippet
    assert snippet.replace("<mark>", "").replace("</mark>", "").count("<") == 0


def test_same_filters_as_the_queue(town):
    open_hits = search(town["user"], "byggetillatelse", QueueQuery())
    assert [h.message_id for h in open_hits.messages] == [town["building"].id]
    closed = search(town["user"], "byggetillatelse", QueueQuery(status=ConversationStatus.CLOSED))
    assert [h.message_id for h in closed.messages] == [town["closed"].id]
    by_channel = search(town["user"], "byggetillatelse", QueueQuery(channel=ChannelKind.WEBCHAT))
    assert by_channel.messages == []


def test_phone_numbers_with_or_without_country_code(town):
    for typed in ("+47 912 34 567", "91234567", "912 34"):
        res = search(town["user"], typed, QueueQuery())
        assert [h.conversation.id for h in res.contacts] == [town["building"].conversation_id]
        assert "<mark>" in str(res.contacts[0].snippet)


def test_contact_names(town):
    res = search(town["user"], "Nordmann", QueueQuery())
    assert [h.conversation.id for h in res.contacts] == [town["building"].conversation_id]
    assert str(res.contacts[0].snippet) == "Kari <mark>Nordmann</mark>"


def test_other_municipalities_are_never_searched(town):
    res = search(town["user"], "Kari", QueueQuery())
    assert [h.snippet for h in res.contacts] == ["<mark>Kari</mark> Nordmann"]
    res = search(town["user"], "nabokommunen", QueueQuery())
    assert res.messages == [] and res.contacts == []


@pytest.mark.parametrize(
    "typed", ['"', "AND OR NOT", "søk* (", "'; DROP TABLE message; --", "NEAR("]
)
def test_search_syntax_in_the_query_is_harmless(town, typed):
    search(town["user"], typed, QueueQuery())  # no error


def test_search_page(town, client, login):
    login(town["user"])
    html = client.get("/search?q=s%C3%B8ppelt%C3%B8mming").get_data(as_text=True)
    assert "<mark>" in html and "Ola Hansen" in html
    assert client.get("/search?q=" + "x" * 201).status_code == 400
    assert client.get("/search").status_code == 200
