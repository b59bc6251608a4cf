"""What the caseworker's workspace found wrong: each message shows its own author (a comment
thread has many commenters), the flag form is filled in for the author of the flagged messages,
and a case number is looked up in the tenant's records system when flagging, not after approval.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from archiving import triage
from archiving.adapters.embedded_models import RecordsCase
from archiving.adapters.fiks_arkiv import FiksArkiv
from archiving.adapters.noark5_rest import Noark5Rest
from archiving.interfaces import RecordsUnavailable
from archiving.models import ArchiveItem
from inbox.extensions import db
from inbox.models import (
    ChannelKind,
    DeliveryStatus,
    Direction,
    IdentityKind,
    Message,
    Role,
)
from inbox.services.ingest import InboundMessage, ingest
from tests.fakes.fiks_arkiv import FakeFiksArchive
from tests.fakes.noark5 import FakeNoark5


def comment(account, who: str, name: str, body: str, n: int) -> Message:
    msg, _ = ingest(
        account,
        InboundMessage(
            identity_kind=IdentityKind.FACEBOOK_USER,
            identity_value=who,
            body=body,
            contact_name=name,
            provider_message_id=f"post1_c{n}",
            thread_key="post1",
        ),
    )
    db.session.commit()
    return msg


@pytest.fixture
def comments(app, factory):  # type: ignore[no-untyped-def]
    tenant = factory.tenant()
    page = factory.channel(tenant, ChannelKind.FACEBOOK_COMMENTS, name="Storby kommune")
    cw = factory.user(tenant, Role.CASEWORKER)
    ola = comment(page, "fb-ola", "Ola Nordmann", "Når kommer brøytebilen?", 1)
    kari = comment(page, "fb-kari", "Kari Hansen", "Jeg klager på brøytingen i Storgata.", 2)
    assert ola.conversation_id == kari.conversation_id
    # The page answered on Facebook itself (an echo: no caseworker wrote it here).
    db.session.add(
        Message(
            tenant_id=tenant.id,
            conversation_id=ola.conversation_id,
            channel_account_id=page.id,
            direction=Direction.OUTBOUND,
            body="Vi ser på saken.",
            provider_message_id="post1_c3",
            delivery_status=DeliveryStatus.SENT,
        )
    )
    db.session.commit()
    return {"tenant": tenant, "conv": ola.conversation, "cw": cw, "ola": ola, "kari": kari}


def meta_of(page: str, message_id: int) -> str:
    start = page.index(f'id="msg-{message_id}"')
    return page[start : page.index("</p>", start)]


def test_each_comment_shows_its_own_author(client, login, comments):
    login(comments["cw"])
    page = client.get(f"/c/{comments['conv'].id}").get_data(as_text=True)
    assert "Ola Nordmann" in meta_of(page, comments["ola"].id)
    kari = meta_of(page, comments["kari"].id)
    assert "Kari Hansen" in kari and "Ola Nordmann" not in kari
    # The page's own answer is signed by the page, not by "Svar".
    echo = db.session.scalar(select(Message).where(Message.provider_message_id == "post1_c3"))
    assert "<strong>Storby kommune</strong>" in meta_of(page, echo.id)


def test_flag_form_prefills_the_author_of_the_flagged_messages(client, login, comments):
    conv, cw = comments["conv"], comments["cw"]
    # Ola's question is already in a case; what is left to flag is Kari's complaint.
    triage.flag_conversation(
        conv,
        cw,
        message_ids=[comments["ola"].id],
        details=triage.FlagDetails(
            new_case_title="Brøyting", title="Spørsmål", correspondent_name="Ola Nordmann"
        ),
    )
    db.session.commit()
    login(cw)
    page = client.get(f"/c/{conv.id}").get_data(as_text=True)
    assert 'id="flag-corr-name" name="correspondent_name" value="Kari Hansen"' in page
    # The chooser labels her comment with her name as well.
    chooser = page[page.index('class="pick"') :]
    chooser = chooser[: chooser.index("</ul>")]
    assert "Kari Hansen" in chooser and "Ola Nordmann" not in chooser


def test_flag_without_details_takes_the_chosen_messages_author(app, comments):
    item = triage.flag_conversation(
        comments["conv"],
        comments["cw"],
        new_case_title="Brøyting",
        title="Klage",
        message_ids=[comments["kari"].id],
    )
    assert item.correspondent_name == "Kari Hansen"


# -- the case is looked up when flagging --------------------------------------------------------


@pytest.fixture
def sms(app, factory):  # type: ignore[no-untyped-def]
    tenant = factory.tenant()
    cw = factory.user(tenant, Role.CASEWORKER)
    conv = factory.conversation(
        factory.channel(tenant, ChannelKind.SMS),
        body="Jeg klager på vedtaket.",
        kind=IdentityKind.PHONE,
        identity="+4791234567",
        contact_name="Kari Nordmann",
    )
    return {"tenant": tenant, "cw": cw, "conv": conv}


def flag_form(case_number: str) -> dict[str, str]:
    return {
        "case_choice": "existing",
        "case_number": case_number,
        "title": "Klage på vedtak",
        "correspondent_name": "Kari Nordmann",
    }


def test_unknown_case_number_is_refused_when_flagging_in_norwegian(client, login, sms):
    login(sms["cw"])
    resp = client.post(f"/c/{sms['conv'].id}/archive/flag", data=flag_form("2026/9999"))
    page = client.get(resp.location).get_data(as_text=True)
    assert "Det finnes ingen sak 2026/9999 i arkivsystemet." in page
    assert "does not exist" not in page
    assert db.session.scalar(select(func.count(ArchiveItem.id))) == 0
    db.session.expire_all()
    assert not sms["conv"].flagged_for_archive


def test_existing_case_is_found_and_its_title_confirmed(client, login, sms, factory):
    db.session.add(
        RecordsCase(
            tenant_id=sms["tenant"].id,
            saksaar=2026,
            sakssekvensnummer=12,
            title="Byggesak Storgata 1",
        )
    )
    # Another municipality's case with the same number is not this tenant's.
    other = factory.tenant()
    db.session.add(RecordsCase(tenant_id=other.id, saksaar=2026, sakssekvensnummer=13, title="X"))
    db.session.commit()
    login(sms["cw"])
    resp = client.post(f"/c/{sms['conv'].id}/archive/flag", data=flag_form("2026/12"))
    page = client.get(resp.location).get_data(as_text=True)
    assert "Sak 2026/12: Byggesak Storgata 1" in page
    assert db.session.scalars(select(ArchiveItem)).one().case_number == "2026/12"
    with pytest.raises(triage.TriageError, match="case_unknown"):
        triage.check_case(sms["conv"], triage.FlagDetails(case_number="2026/13"))


def test_english_user_gets_the_refusal_in_english(client, login, sms):
    login(sms["cw"])
    client.get("/?lang=en")
    resp = client.post(f"/c/{sms['conv'].id}/archive/flag", data=flag_form("2026/9999"))
    assert "There is no case 2026/9999 in the records system." in client.get(
        resp.location
    ).get_data(as_text=True)


def test_noark5_lookup_searches_the_saksmappe(app, factory, monkeypatch):
    monkeypatch.setenv("NOARK_TOKEN_TEST", "test-token")
    with FakeNoark5(token="test-token") as fake:
        fake.add_case(2026, 7, "Reguleringsplan Sentrum")
        tenant = factory.tenant(
            records_adapter="noark5_rest",
            records_config={"base_url": fake.url, "token_env": "NOARK_TOKEN_TEST", "timeout": 5},
        )
        adapter = Noark5Rest(tenant)
        case = adapter.lookup_case("2026/7")
        assert case is not None and case.title == "Reguleringsplan Sentrum" and not case.closed
        assert adapter.lookup_case("2026/8") is None
        fake.release()


def test_noark5_down_means_try_again_not_unknown(app, factory, sms, client, login):
    sms["tenant"].records_adapter = "noark5_rest"
    sms["tenant"].records_config = {"base_url": "http://127.0.0.1:9", "timeout": 2}
    db.session.commit()
    login(sms["cw"])
    resp = client.post(f"/c/{sms['conv'].id}/archive/flag", data=flag_form("2026/7"))
    page = client.get(resp.location).get_data(as_text=True)
    assert "Arkivsystemet svarte ikke, så sak 2026/7 kunne ikke sjekkes." in page
    assert db.session.scalar(select(func.count(ArchiveItem.id))) == 0


@pytest.fixture
def fiks(app, factory, tmp_path):  # type: ignore[no-untyped-def]
    folders = {
        "outgoing_dir": str(tmp_path / "ut"),
        "incoming_dir": str(tmp_path / "inn"),
        "lookup_timeout": 5,
    }
    tenant = factory.tenant(records_adapter="fiks_arkiv", records_config=folders)
    archive = FakeFiksArchive(Path(folders["outgoing_dir"]), Path(folders["incoming_dir"]))
    return tenant, archive


def test_fiks_lookup_is_a_schema_valid_sok(app, fiks):
    tenant, archive = fiks
    archive.add_case(2026, 40, "Klage på parkering")
    archive.add_case(2025, 3, "Gammel sak", status="A")
    adapter = FiksArkiv(tenant)
    with archive.serving_searches():
        case = adapter.lookup_case("2026/40")
        closed = adapter.lookup_case("2025/3")
        missing = adapter.lookup_case("2026/41")
    assert case is not None and case.title == "Klage på parkering" and not case.closed
    assert closed is not None and closed.closed
    assert missing is None
    assert archive.searches[0] == {"sakSaksaar": 2026, "sakSaksekvensnummer": 40}
    assert archive.pending("arkivmelding") == []  # a search is not a journal entry


def test_fiks_without_an_answer_is_unavailable(app, fiks):
    tenant, _archive = fiks
    tenant.records_config = {**tenant.records_config, "lookup_timeout": 0.2}
    with pytest.raises(RecordsUnavailable):
        FiksArkiv(tenant).lookup_case("2026/40")


def test_closed_fiks_case_is_refused_when_flagging(client, login, fiks, factory):
    tenant, archive = fiks
    archive.add_case(2025, 3, "Gammel sak", status="A")
    cw = factory.user(tenant, Role.CASEWORKER)
    conv = factory.conversation(factory.channel(tenant, ChannelKind.SMS), body="Klage")
    login(cw)
    with archive.serving_searches():
        resp = client.post(f"/c/{conv.id}/archive/flag", data=flag_form("2025/3"))
    page = client.get(resp.location).get_data(as_text=True)
    assert "Sak 2025/3 er avsluttet i arkivsystemet." in page
    assert db.session.scalar(select(func.count(ArchiveItem.id))) == 0


def test_check_case_refuses_an_unknown_case(app, sms):
    with pytest.raises(triage.TriageError) as err:
        triage.check_case(sms["conv"], triage.FlagDetails(case_number="2026/9999"))
    assert str(err.value) == "case_unknown"


def test_case_title_is_shown_while_filling_in_the_form(client, login, sms, factory):
    db.session.add(
        RecordsCase(tenant_id=sms["tenant"].id, saksaar=2026, sakssekvensnummer=5, title="Klagesak")
    )
    db.session.commit()
    login(sms["cw"])
    url = f"/c/{sms['conv'].id}/archive/case"
    assert client.get(url, query_string={"number": "2026/5"}).json == {
        "ok": True,
        "message": "Sak 2026/5: Klagesak",
    }
    answer = client.get(url, query_string={"number": "2026/6"}).json
    assert answer["ok"] is False and "Det finnes ingen sak 2026/6" in answer["message"]
    assert client.get(url, query_string={"number": "x" * 500}).json["ok"] is False
    stranger = factory.user(factory.tenant(), Role.CASEWORKER)
    login(stranger)
    assert client.get(url, query_string={"number": "2026/5"}).status_code == 404
