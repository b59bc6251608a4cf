"""Triage rules: what a flag must say, and the item's life from flag to journal."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from archiving import triage
from archiving.adapters.embedded_models import RecordsEntry
from archiving.journal import journal_item
from archiving.models import ArchiveItem, ArchiveState
from inbox.extensions import db
from inbox.models import AuditEntry, ChannelKind, Message, Role
from tests.archiving_support import flagged, thread


@pytest.fixture
def conv(app, factory):  # type: ignore[no-untyped-def]
    tenant = factory.tenant()
    account = factory.channel(tenant, ChannelKind.SMS)
    staff = factory.user(tenant, Role.CASEWORKER)
    return thread(account, staff, ["Søknad om løyve", "Mottatt", "Takk", "Bra"])


@pytest.fixture
def users(conv, factory):  # type: ignore[no-untyped-def]
    from inbox.models import Tenant

    tenant = db.session.get(Tenant, conv.tenant_id)
    return factory.user(tenant, Role.CASEWORKER), factory.user(tenant, Role.RECORDS_OFFICER)


def details(**kw: object) -> triage.FlagDetails:
    base = {"new_case_title": "Løyve", "title": "Søknad via SMS", "correspondent_name": "Kari"}
    return triage.FlagDetails(**{**base, **kw})  # type: ignore[arg-type]


INVALID = [
    ({"new_case_title": ""}, "case"),
    ({"case_number": "2026/12"}, "case_both"),
    ({"new_case_title": "", "case_number": "26/12"}, "case_format"),
    ({"new_case_title": "", "case_number": "2026-12"}, "case_format"),
    ({"title": "  "}, "title"),
    ({"title": "x" * 301}, "too_long"),
    ({"correspondent_name": ""}, "correspondent"),
    ({"screening_code": "UO"}, "screening_basis"),
    ({"screening_basis": "Offl. § 13"}, "screening_basis"),
    ({"screening_fields": "NA"}, "screening_basis"),
    # What is screened is chosen from Noark 5's skjermingMetadata (M502), never free text.
    (
        {"screening_code": "UO", "screening_basis": "x", "screening_fields": "avsenders navn"},
        "screening_fields",
    ),
    ({"screening_code": "ZZ", "screening_basis": "Offl. § 13"}, "screening_code"),
    ({"screening_code": "U O", "screening_basis": "Offl. § 13"}, "screening_code"),
    ({"types": {1: "Z"}}, "type"),
]


def test_invalid_flags_are_refused_with_a_reason(app, conv, users):
    for fields, error in INVALID:
        with pytest.raises(triage.TriageError) as exc:
            triage.flag_conversation(conv, users[0], details=details(**fields))
        assert str(exc.value) == error, fields
        with app.test_request_context():
            assert exc.value.user_message().endswith(".")  # a sentence, not a code
        db.session.rollback()
    assert db.session.scalars(select(ArchiveItem)).all() == []


def test_flag_selected_messages_with_screening_and_anonymous(conv, users):
    caseworker, _ = users
    msgs = triage.archivable_messages(conv)
    chosen = [msgs[0].id, msgs[1].id]
    item = triage.flag_conversation(
        conv,
        caseworker,
        message_ids=chosen,
        details=details(
            case_number="2026/1234",
            new_case_title="",
            anonymous=True,
            correspondent_name="ignored when anonymous",
            screening_code="uo",
            screening_basis="Offl. § 13 jf. fvl. § 13",
            screening_fields="NA",
            note="Gjelder byggesaken",
            types={msgs[1].id: "X"},
        ),
    )
    db.session.commit()
    assert {m.message_id: m.journalposttype for m in item.messages} == {
        msgs[0].id: "I",
        msgs[1].id: "X",
    }
    assert (item.case_number, item.new_case_title, item.anonymous, item.correspondent_name) == (
        "2026/1234",
        None,
        True,
        None,
    )
    assert (item.screening_code, item.screening_basis) == ("UO", "Offl. § 13 jf. fvl. § 13")
    assert conv.flagged_for_archive
    # The same message cannot be in two live items; another one can.
    with pytest.raises(triage.TriageError, match="already"):
        triage.flag_conversation(conv, caseworker, message_ids=[msgs[1].id], details=details())
    db.session.rollback()
    triage.flag_conversation(conv, caseworker, message_ids=[msgs[2].id], details=details())
    with pytest.raises(triage.TriageError, match="messages"):
        triage.flag_conversation(conv, caseworker, message_ids=[], details=details())


def test_messages_of_another_conversation_cannot_be_flagged(conv, users, factory):
    other = factory.conversation(factory.channel(factory.tenant()))
    foreign = db.session.scalars(select(Message.id).where(Message.conversation_id == other.id))
    with pytest.raises(triage.TriageError, match="messages"):
        triage.flag_conversation(conv, users[0], message_ids=list(foreign), details=details())


def test_withdraw_return_reflag_approve_retry(conv, users, tasks):
    caseworker, officer = users
    item = flagged(conv, caseworker)
    triage.withdraw(item, caseworker)
    db.session.commit()
    assert item.state is ArchiveState.WITHDRAWN and not conv.flagged_for_archive
    with pytest.raises(triage.TriageError, match="state"):
        triage.approve(item, officer)

    item = flagged(conv, caseworker)  # the messages are free again
    with pytest.raises(triage.TriageError, match="comment"):
        triage.return_to_caseworker(item, officer, "  ")
    triage.return_to_caseworker(item, officer, "Feil sak, bruk 2026/99")
    assert item.state is ArchiveState.RETURNED
    with pytest.raises(triage.TriageError, match="state"):
        triage.approve(item, officer)
    triage.reflag(item, caseworker, details(new_case_title="", case_number="2026/99"))
    assert (item.state, item.case_number) == (ArchiveState.FLAGGED, "2026/99")

    changed = triage.update_metadata(
        item, officer, details(new_case_title="Ny sak", title="Rettet tittel")
    )
    assert changed == ["case_number", "new_case_title", "title"]
    triage.approve(item, officer)
    db.session.commit()
    assert tasks.names() == ["servicetorg.archiving.journal"]
    with pytest.raises(triage.TriageError, match="state"):
        triage.withdraw(item, caseworker)  # approved: only records staff act now

    # The records system refuses (unknown case) -> failed; staff fix the case and retry.
    item.case_number, item.new_case_title = "2026/404", None
    db.session.commit()
    tasks.sent.clear()
    assert journal_item(item.id) == "failed"
    db.session.refresh(item)
    assert "2026/404" in item.last_error
    triage.update_metadata(item, officer, details(title="Rettet tittel"))
    triage.retry(item, officer)
    db.session.commit()
    assert (item.state, item.last_error) == (ArchiveState.APPROVED, None)
    assert tasks.run_all() == ["journalled"]
    assert len(db.session.scalars(select(RecordsEntry)).all()) == 4  # I, U, I, U

    actions = db.session.scalars(
        select(AuditEntry.action)
        .where(AuditEntry.object_id == str(item.id))
        .order_by(AuditEntry.id)
    ).all()
    assert actions == [
        "archive.flag",
        "archive.return",
        "archive.reflag",
        "archive.edit",
        "archive.approve",
        "archive.failed",
        "archive.edit",
        "archive.retry",
        "archive.journalled",
    ]
