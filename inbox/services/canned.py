"""Canned replies per tenant, with {citizen_name} and {caseworker_name} placeholders."""

from __future__ import annotations

import re

from flask import current_app
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import CannedReply, Conversation, User
from inbox.services import audit

PLACEHOLDERS = ("citizen_name", "caseworker_name")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


class InvalidCanned(ValueError):
    """str(exc) is a short code: title, body, too_long, placeholder, duplicate."""


def for_tenant(tenant_id: int) -> list[CannedReply]:
    return list(
        db.session.scalars(
            select(CannedReply)
            .where(CannedReply.tenant_id == tenant_id)
            .order_by(CannedReply.title)
        )
    )


def _validate(tenant_id: int, title: str, body: str, own_id: int | None) -> tuple[str, str]:
    title, body = (title or "").strip(), (body or "").replace("\r\n", "\n").strip()
    if not title or len(title) > 120 or "\x00" in title:
        raise InvalidCanned("title")
    if not body or "\x00" in body:
        raise InvalidCanned("body")
    if len(body) > current_app.config["MAX_MESSAGE_CHARS"]:
        raise InvalidCanned("too_long")
    if any(name not in PLACEHOLDERS for name in _PLACEHOLDER.findall(body)):
        raise InvalidCanned("placeholder")
    clash = db.session.scalar(
        select(CannedReply.id).where(CannedReply.tenant_id == tenant_id, CannedReply.title == title)
    )
    if clash is not None and clash != own_id:
        raise InvalidCanned("duplicate")
    return title, body


def create(tenant_id: int, actor: User, title: str, body: str) -> CannedReply:
    title, body = _validate(tenant_id, title, body, None)
    canned = CannedReply(tenant_id=tenant_id, title=title, body=body, created_by_id=actor.id)
    db.session.add(canned)
    db.session.flush()
    audit.record("canned.create", canned, tenant_id=tenant_id, actor=actor, title=title)
    return canned


def update(canned: CannedReply, actor: User, title: str, body: str) -> None:
    canned.title, canned.body = _validate(canned.tenant_id, title, body, canned.id)
    audit.record("canned.update", canned, tenant_id=canned.tenant_id, actor=actor, title=title)


def delete(canned: CannedReply, actor: User) -> None:
    audit.record(
        "canned.delete", canned, tenant_id=canned.tenant_id, actor=actor, title=canned.title
    )
    db.session.delete(canned)


def fill(canned: CannedReply, conv: Conversation, caseworker: User) -> str:
    """The text with placeholders filled in for this conversation (plain text, never HTML)."""
    values = {
        "citizen_name": conv.contact.name or "",
        "caseworker_name": caseworker.name,
    }
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), canned.body)
