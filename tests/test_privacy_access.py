"""A citizen's rights of access and erasure (GDPR art. 15 and 17), from the contact card, by
records officers and admins, audited: export as JSON and PDF; erase everything except what
has been journalled (listed as kept for the archive)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from archiving import triage
from archiving.models import ArchiveItem, ArchiveState
from inbox.extensions import db
from inbox.models import (
    Attachment,
    AuditEntry,
    Contact,
    ContactIdentity,
    Conversation,
    IdentityKind,
    Message,
    Role,
)
from inbox.services import conversations
from inbox.services.ingest import InboundAttachment
from tests.archiving_support import pdf_text
from tests.records_helpers import flag_in

PHONE = "+4798765432"


@pytest.fixture
def citizen(factory, tasks):
    """A citizen with a journalled complaint and a later, ordinary conversation by SMS."""
    item = flag_in(factory, factory.tenant())
    tasks.run_all()  # journalled by the embedded records system
    db.session.expire_all()
    item = db.session.get(ArchiveItem, item.id)
    assert item.state is ArchiveState.JOURNALLED
    tenant_id = item.tenant_id
    from inbox.models import Tenant

    tenant = db.session.get(Tenant, tenant_id)
    conv = db.session.get(Conversation, item.conversation_id)
    contact = conv.contact
    contact.name = "Kari Nordmann"
    later = factory.inbound(
        factory.channel(tenant),
        body="Når kommer svaret på klagen? Her er et bilde.",
        identity=PHONE,
        kind=IdentityKind.PHONE,
        attachments=[InboundAttachment("klage.png", "image/png", data=b"\x89PNG....")],
    ).conversation
    caseworker = factory.user(tenant, Role.CASEWORKER)
    conversations.reply(later, caseworker, "Vi ser på det.")
    # In the journalled conversation too, a later reply once flagged and then withdrawn.
    extra = conversations.reply(conv, caseworker, "Vi følger opp klagen.")
    db.session.flush()
    triage.withdraw(
        triage.flag_conversation(
            conv, caseworker, new_case_title="X", title="Y", message_ids=[extra.id]
        ),
        caseworker,
    )
    db.session.commit()
    from inbox.services import merging

    merging.merge_contacts(later.contact, contact, factory.user(tenant, Role.ADMIN))
    db.session.commit()
    return {
        "tenant": tenant,
        "contact_id": contact.id,
        "conv": conv.id,
        "later": later.id,
        "item": item,
        "records": factory.user(tenant, Role.RECORDS_OFFICER),
        "caseworker": factory.user(tenant, Role.CASEWORKER),
    }


def test_the_contact_card_offers_export_and_erasure_to_records_staff_only(citizen, client, login):
    login(citizen["caseworker"])
    page = client.get(f"/c/{citizen['later']}").get_data(as_text=True)
    assert "privacy-actions" not in page
    assert client.get(f"/privacy/contacts/{citizen['contact_id']}/export.json").status_code == 403
    client.post("/logout")
    login(citizen["records"])
    page = client.get(f"/c/{citizen['later']}").get_data(as_text=True)
    assert f"/privacy/contacts/{citizen['contact_id']}/export.pdf" in page
    assert f"/privacy/contacts/{citizen['contact_id']}/erase" in page


def test_export_holds_everything_and_is_audited(citizen, client, login, tmp_path):
    login(citizen["records"])
    resp = client.get(f"/privacy/contacts/{citizen['contact_id']}/export.json")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    assert "attachment" in resp.headers["Content-Disposition"]
    data = json.loads(resp.get_data(as_text=True))
    assert {c["name"] for c in data["contacts"]} >= {"Kari Nordmann"}
    identities = [i["value"] for c in data["contacts"] for i in c["identities"]]
    assert PHONE in identities
    texts = [m["text"] for c in data["conversations"] for m in c["messages"]]
    assert "Jeg klager på vedtaket om byggetillatelse." in texts
    assert "Når kommer svaret på klagen? Her er et bilde." in texts and "Vi ser på det." in texts
    files = [
        a["filename"]
        for c in data["conversations"]
        for m in c["messages"]
        for a in m["attachments"]
    ]
    assert files == ["klage.png"]
    [archived] = [c for c in data["conversations"] if c["archive"]]
    assert archived["archive"][0]["state"] == "journalled"
    assert archived["archive"][0]["journal_entries"][0]

    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "contact.export"))
    assert [e.data["format"] for e in entries] == ["json"]


def test_export_as_a_readable_pdf_is_audited(citizen, client, login, tmp_path):
    login(citizen["records"])
    pdf = client.get(f"/privacy/contacts/{citizen['contact_id']}/export.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    text = pdf_text(pdf.data, tmp_path)
    assert "Kari Nordmann" in text and "Vi ser på det." in text and "klage.png" in text

    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "contact.export").order_by(AuditEntry.id)
    ).all()
    assert [e.data["format"] for e in entries] == ["pdf"]
    assert all(e.actor_id == citizen["records"].id for e in entries)


def test_erasure_removes_all_but_the_journalled_and_says_so(citizen, client, login):
    login(citizen["records"])
    confirm = client.get(f"/privacy/contacts/{citizen['contact_id']}/erase")
    assert confirm.status_code == 200
    assert client.post(f"/privacy/contacts/{citizen['contact_id']}/erase").status_code == 400
    resp = client.post(f"/privacy/contacts/{citizen['contact_id']}/erase", data={"confirm": "yes"})
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    receipt = citizen["item"].receipts[0]
    assert "Beholdt for arkivet" in page and "journalført" in page
    assert (receipt.journalpostnummer or receipt.system_id) in page
    assert "Slettede samtaler: 1" in page and "Slettede meldinger: 3" in page
    assert "Slettede vedlegg: 1" in page

    db.session.expire_all()
    assert db.session.get(Conversation, citizen["later"]) is None
    bodies = set(db.session.scalars(select(Message.body)))
    assert bodies == {
        "Jeg klager på vedtaket om byggetillatelse.",
        "Takk, klagen er mottatt og blir behandlet.",
    }
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0
    assert db.session.scalar(select(func.count()).select_from(ContactIdentity)) == 0
    kept = db.session.get(Contact, citizen["contact_id"])  # holds the journalled conversation
    assert kept.name is None and kept.anonymised_at is not None
    [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "contact.erase"))
    assert entry.actor_id == citizen["records"].id
    assert entry.data["conversations"] == 1 and entry.data["kept_messages"] == 2
    assert "Kari" not in json.dumps(entry.data)


def test_a_contact_with_nothing_journalled_is_erased_entirely(factory, client, login):
    tenant = factory.tenant()
    conv = factory.conversation(factory.channel(tenant), body="Slett meg", contact_name="Ola")
    contact_id = conv.contact_id
    login(factory.user(tenant, Role.ADMIN))
    resp = client.post(f"/privacy/contacts/{contact_id}/erase", data={"confirm": "yes"})
    assert resp.status_code == 200
    db.session.expire_all()
    assert db.session.get(Contact, contact_id) is None
    assert db.session.scalar(select(func.count()).select_from(Message)) == 0
