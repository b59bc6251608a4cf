"""Shared builders for the records-system tests: an approved archive item of a short thread."""

from __future__ import annotations

from typing import Any

from flask import current_app

from archiving import triage
from archiving.models import ArchiveItem
from inbox.extensions import db
from inbox.models import Role, Tenant
from inbox.services import conversations


def approved_item(
    factory: Any,
    *,
    adapter: str = "embedded",
    config: dict[str, Any] | None = None,
    case_number: str = "",
    answer: bool = True,
    **item_fields: Any,
) -> ArchiveItem:
    """A citizen's question (and our answer) flagged and approved for journalling."""
    tenant = factory.tenant(records_adapter=adapter, records_config=config or {})
    return flag_in(factory, tenant, case_number=case_number, answer=answer, **item_fields)


def flag_in(
    factory: Any, tenant: Tenant, *, case_number: str = "", answer: bool = True, **item_fields: Any
) -> ArchiveItem:
    """A new conversation in the tenant, flagged and approved."""
    account = factory.channel(tenant)
    worker = factory.user(tenant, Role.RECORDS_OFFICER)
    conv = factory.conversation(account, body="Jeg klager på vedtaket om byggetillatelse.")
    if answer:
        conversations.reply(conv, worker, "Takk, klagen er mottatt og blir behandlet.")
        db.session.commit()
        current_app.extensions["servicetorg.dispatcher"].run_all()  # sends the answer
    item = triage.flag_conversation(
        conv,
        worker,
        case_number=case_number,
        new_case_title="" if case_number else "Klage på byggesak",
        title="Klage via chat",
    )
    for key, value in item_fields.items():
        setattr(item, key, value)
    triage.approve(item, worker)
    db.session.commit()
    return item
