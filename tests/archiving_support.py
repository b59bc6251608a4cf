"""Builders for archiving tests: a thread of citizen messages and staff replies."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from flask import current_app

from archiving import triage
from archiving.models import ArchiveItem
from inbox.extensions import db
from inbox.models import (
    ChannelAccount,
    Conversation,
    DeliveryStatus,
    Direction,
    IdentityKind,
    Message,
    User,
)
from inbox.services import matching
from inbox.services.ingest import InboundMessage, ingest

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def thread(
    account: ChannelAccount,
    staff: User,
    bodies: list[str],
    name: str | None = "Kari Nordmann",
    identity: str = "+4791234567",
) -> Conversation:
    """Alternating citizen (even) and staff (odd) messages, a minute apart."""
    conv = None
    for i, body in enumerate(bodies):
        when = START + timedelta(minutes=i)
        if i % 2 == 0:
            msg, _ = ingest(
                account,
                InboundMessage(
                    identity_kind=IdentityKind.PHONE,
                    identity_value=identity,
                    body=body,
                    provider_message_id=f"SM{account.id:04d}{i:06d}",
                    sent_at=when,
                    contact_name=name,
                ),
            )
            conv = msg.conversation
        else:
            assert conv is not None
            db.session.add(
                Message(
                    tenant_id=account.tenant_id,
                    conversation_id=conv.id,
                    channel_account_id=account.id,
                    direction=Direction.OUTBOUND,
                    author_id=staff.id,
                    body=body,
                    provider_message_id=f"SM{account.id:04d}{i:06d}",
                    delivery_status=DeliveryStatus.DELIVERED,
                    sent_at=when,
                )
            )
    db.session.commit()
    _match_contacts_now()
    assert conv is not None
    return conv


def _match_contacts_now() -> None:
    """Run the contact matching ingest queued for after the commit, as a worker would, so the
    archiving tests see only the tasks their own steps queue."""
    dispatcher = current_app.extensions["servicetorg.dispatcher"]
    queued = [t for t in getattr(dispatcher, "sent", []) if t[0] == matching.TASK]
    for task in queued:
        dispatcher.sent.remove(task)
        matching.suggest_for_contacts(*task[1])
    db.session.commit()


def flagged(conv: Conversation, user: User, **kw: object) -> ArchiveItem:
    details = triage.default_details(conv)
    details.new_case_title = str(kw.pop("new_case_title", "Byggesak"))
    details.title = str(kw.pop("title", "Henvendelse om byggesak"))
    for key, value in kw.items():
        setattr(details, key, value)
    item = triage.flag_conversation(conv, user, details=details)
    db.session.commit()
    return item


def pdf_text(data: bytes, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """The text of a PDF, whitespace collapsed (poppler's pdftotext)."""
    if shutil.which("pdftotext") is None:
        if os.environ.get("SERVICETORG_REQUIRE_BROWSER"):
            pytest.fail("pdftotext (poppler-utils) is required in CI")
        pytest.skip("pdftotext not installed (apt-get install poppler-utils)")
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    out = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True
    )
    return " ".join(out.stdout.decode("utf-8").split())
