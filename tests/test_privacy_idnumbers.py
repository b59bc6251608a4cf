"""Fødselsnummer, D-numbers and bank account numbers in citizens' messages: found by their
mod-11 check digits, shown masked with a warning, revealed only by someone allowed to (and
audited), masked in search snippets and logs."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import AuditEntry, Message, Role
from inbox.services import idnumbers
from inbox.services.queue import QueueQuery
from inbox.services.search import search

W1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
W2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
WA = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def check(digits: str, weights: tuple[int, ...]) -> int | None:
    r = 11 - sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    return {11: 0, 10: None}.get(r, r)


def identity_number(birth: str, individual: int = 123) -> str:
    """A valid number for DDMMYY `birth` (D-number: day + 40), trying individual numbers until
    both check digits exist (Skatteetaten's rule)."""
    for n in range(individual, 1000):
        nine = f"{birth}{n:03d}"
        k1 = check(nine, W1)
        if k1 is None:
            continue
        k2 = check(nine + str(k1), W2)
        if k2 is not None:
            return f"{nine}{k1}{k2}"
    raise AssertionError("no valid number")


def account_number(first_ten: str) -> str:
    for n in range(int(first_ten), int(first_ten) + 100):
        ten = f"{n:010d}"
        k = check(ten, WA)
        if k is not None:
            return f"{ten}{k}"
    raise AssertionError("no valid account")


FNR = identity_number("150385")
DNR = identity_number("550385")  # 15 March 1985 as a D-number
ACCOUNT = account_number("1503270000")  # 1503.27.0000x; not a date, so not an identity number


def wrong_check(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def test_valid_numbers_are_found_by_their_check_digits():
    assert idnumbers.identity_kind(FNR) is idnumbers.Kind.FODSELSNUMMER
    assert idnumbers.identity_kind(DNR) is idnumbers.Kind.D_NUMBER
    assert idnumbers.is_bank_account(ACCOUNT)
    text = (
        f"Fnr {FNR[:6]} {FNR[6:]}, d-nr {DNR} og konto {ACCOUNT[:4]}.{ACCOUNT[4:6]}.{ACCOUNT[6:]}"
    )
    assert idnumbers.kinds(text) == ["fodselsnummer", "d_number", "bank_account"]
    masked = idnumbers.mask(text)
    assert FNR[6:] not in masked and DNR not in masked and ACCOUNT[6:] not in masked
    assert masked.startswith("Fnr ****** *****, d-nr ***********")


@pytest.mark.parametrize(
    "digits",
    [
        wrong_check(FNR),
        wrong_check(DNR),
        wrong_check(ACCOUNT),
        "12345678901",
        FNR + "1",  # part of a longer number (an order number, say)
        "0" + ACCOUNT,
    ],
)
def test_numbers_with_wrong_check_digits_are_left_alone(digits):
    assert idnumbers.identity_kind(digits) is None
    assert not idnumbers.is_bank_account(digits)
    assert idnumbers.kinds(f"nr {digits} takk") == []
    assert idnumbers.mask(f"nr {digits} takk") == f"nr {digits} takk"


def test_check_digits_right_but_no_such_birth_date_is_no_identity_number():
    assert idnumbers.identity_kind(identity_number("320185")) is None  # no 32nd day
    assert idnumbers.identity_kind(identity_number("721385")) is None  # D-number, month 13


@pytest.fixture
def town(factory):
    tenant = factory.tenant()
    account = factory.channel(tenant)
    conv = factory.conversation(
        account, body=f"Hei, fødselsnummeret mitt er {FNR}, søknad om bostøtte"
    )
    return {
        "tenant": tenant,
        "conv": conv,
        "caseworker": factory.user(tenant, Role.CASEWORKER),
        "records": factory.user(tenant, Role.RECORDS_OFFICER),
    }


def test_the_conversation_shows_a_warning_and_the_number_masked(town, client, login):
    login(town["caseworker"])
    page = client.get(f"/c/{town['conv'].id}").get_data(as_text=True)
    assert FNR not in page
    assert "*********** , søknad" not in page and "***********, søknad om bostøtte" in page
    assert "inneholder et fødselsnummer" in page
    assert "Vis" not in page.split("msg__warning")[1].split("</div>")[0]  # no reveal button


def test_a_records_officer_reveals_a_number_and_it_is_audited(town, client, login):
    login(town["records"])
    conv = town["conv"]
    page = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert FNR not in page
    assert "Vis" in page.split("msg__warning")[1].split("</div>")[0]  # the reveal button

    message = db.session.scalars(select(Message).where(Message.conversation_id == conv.id)).one()
    resp = client.post(f"/c/{conv.id}/messages/{message.id}/reveal")
    assert resp.status_code == 200
    assert FNR in resp.get_data(as_text=True)
    assert resp.headers["Cache-Control"] == "no-store"
    [entry] = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "message.reveal_id_number")
    ).all()
    assert entry.actor_id == town["records"].id and entry.object_id == str(message.id)
    assert entry.data == {"kinds": ["fodselsnummer"]}
    assert FNR not in str(entry.data)


def test_a_caseworker_reveals_only_where_the_municipality_allows_it(town, client, login):
    conv = town["conv"]
    message = db.session.scalars(select(Message).where(Message.conversation_id == conv.id)).one()
    login(town["caseworker"])
    assert client.post(f"/c/{conv.id}/messages/{message.id}/reveal").status_code == 403
    town["tenant"].caseworkers_may_reveal = True
    db.session.commit()
    resp = client.post(f"/c/{conv.id}/messages/{message.id}/reveal")
    assert resp.status_code == 200 and FNR in resp.get_data(as_text=True)


def test_search_snippets_mask_the_number(town):
    for query in ("bostøtte", FNR):
        res = search(town["caseworker"], query, QueueQuery())
        [hit] = res.messages
        assert FNR not in str(hit.snippet) and FNR[:6] not in str(hit.snippet), query


def test_logs_mask_identity_numbers(town, caplog):
    caplog.set_level(logging.INFO)
    logging.getLogger("servicetorg.test").warning("citizen wrote %s", FNR)
    assert FNR not in caplog.text and "***********" in caplog.text


def test_queue_rows_mask_a_number_given_as_the_name(factory, client, login):
    tenant = factory.tenant()
    factory.conversation(factory.channel(tenant), body="Hei", contact_name=f"Kari {FNR}")
    login(factory.user(tenant, Role.CASEWORKER))
    page = client.get("/").get_data(as_text=True)
    assert "Kari ***********" in page and FNR not in page


def test_notifications_carry_no_message_text(app, factory, client, login):
    from tests.test_realtime import read_events

    app.config.update(REALTIME_STREAM_SECONDS=2, REALTIME_POLL_SECONDS=0.1)
    tenant = factory.tenant()
    account = factory.channel(tenant)
    login(factory.user(tenant, Role.CASEWORKER))
    resp = client.get("/live/events")
    factory.inbound(account, body=f"Fødselsnummeret mitt er {FNR}")
    events = read_events(resp)
    assert any(name == "message" for name, _ in events)
    assert all(
        FNR not in str(payload) and "Fødselsnummeret" not in str(payload) for _, payload in events
    )
