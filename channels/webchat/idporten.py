"""Citizens identified through ID-porten in the chat widget (docs/sso.md).

A widget enables it in its settings (ChannelAccount.config["idporten"]):
    {"enabled": true, "required": false, "issuer": "https://idporten.no",
     "client_id": "...", "client_secret_env": "KOMMUNE_IDPORTEN_SECRET"
     (or "client_secret_enc", see inbox/services/secret_store.py),
     "acr": "idporten-loa-substantial" or "idporten-loa-high"}
With "required", visitors must be identified before they can write.

The verified person becomes a contact identity of its own kind (IdentityKind.IDPORTEN_PID)
whose value is a keyed hash of the national identity number (so the same person is found
again); the number itself is stored encrypted (IdportenIdentity) and shown masked.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import (
    ChannelAccount,
    Contact,
    ContactIdentity,
    ContactMatchSuggestion,
    IdentityKind,
    MatchReason,
    User,
)
from inbox.models.base import utcnow
from inbox.models.sso import IdportenIdentity
from inbox.services import idnumbers, secret_store
from inbox.services.ingest import contact_for_identity

SUBSTANTIAL = "idporten-loa-substantial"
HIGH = "idporten-loa-high"
LEVELS = {SUBSTANTIAL: 1, HIGH: 2}


class IdportenRefused(Exception):
    """str(exc) is a short code: acr, pid, config."""


@dataclass(frozen=True)
class Settings:
    issuer: str
    client_id: str
    secret_enc: str | None
    secret_env: str | None
    acr: str
    required: bool


def settings(account: ChannelAccount) -> Settings | None:
    """The widget's ID-porten settings when it is enabled and complete, else None."""
    raw = (account.config or {}).get("idporten")
    if not isinstance(raw, dict) or not raw.get("enabled"):
        return None
    issuer, client_id = raw.get("issuer"), raw.get("client_id")
    if not isinstance(issuer, str) or not isinstance(client_id, str):
        return None
    acr = raw.get("acr") if raw.get("acr") in LEVELS else SUBSTANTIAL
    return Settings(
        issuer=issuer.rstrip("/"),
        client_id=client_id,
        secret_enc=raw.get("client_secret_enc")
        if isinstance(raw.get("client_secret_enc"), str)
        else None,
        secret_env=raw.get("client_secret_env")
        if isinstance(raw.get("client_secret_env"), str)
        else None,
        acr=str(acr),
        required=bool(raw.get("required")),
    )


def client_secret(s: Settings) -> str:
    return secret_store.resolve_secret(s.secret_enc, s.secret_env)


def pid_lookup(pid: str) -> str:
    """The identity's value: a keyed hash, so the number is never stored in clear text."""
    key = current_app.config["SECRET_KEY"]
    key = key.encode() if isinstance(key, str) else key
    digest = hmac.new(key, b"servicetorg.idporten.pid\x00" + pid.encode(), hashlib.sha256)
    return "hmac:" + digest.hexdigest()


def mask_pid(pid: str) -> str:
    """The birth date shown, the last five digits (the personal number) hidden."""
    return pid[:6] + "*****" if len(pid) == 11 else "*" * len(pid)


def check_claims(s: Settings, claims: dict[str, Any]) -> tuple[str, str, str | None]:
    """(pid, acr, name) from a verified ID token; IdportenRefused when the level is too low
    or the identity number is not one."""
    acr = claims.get("acr")
    if acr not in LEVELS or LEVELS[acr] < LEVELS[s.acr]:
        raise IdportenRefused("acr")
    pid = claims.get("pid")
    if not isinstance(pid, str) or idnumbers.identity_kind(pid) is None:
        raise IdportenRefused("pid")
    name = claims.get("name")
    if not isinstance(name, str) or not name.strip():
        given, family = claims.get("given_name"), claims.get("family_name")
        parts = [p for p in (given, family) if isinstance(p, str) and p.strip()]
        name = " ".join(parts) or None
    return pid, str(acr), (name.strip()[:200] if name else None)


def record_identified(
    account: ChannelAccount, pid: str, acr: str, name: str | None
) -> tuple[Contact, ContactIdentity]:
    """The contact of this person (found by the keyed hash, created if new), with what
    ID-porten verified brought up to date. The caller commits."""
    contact = contact_for_identity(account.tenant_id, IdentityKind.IDPORTEN_PID, pid_lookup(pid))
    ident = db.session.scalar(
        select(ContactIdentity).where(
            ContactIdentity.contact_id == contact.id,
            ContactIdentity.kind == IdentityKind.IDPORTEN_PID,
        )
    )
    assert ident is not None
    row = db.session.scalar(
        select(IdportenIdentity).where(IdportenIdentity.contact_identity_id == ident.id)
    )
    if row is None:
        row = IdportenIdentity(tenant_id=account.tenant_id, contact_identity_id=ident.id)
        db.session.add(row)
    row.pid_enc = secret_store.encrypt(pid)
    row.acr, row.name, row.verified_at = acr, name, utcnow()
    if name and not contact.name:
        contact.name = name
    db.session.flush()
    return contact, ident


def suggest_with_anonymous(identified: Contact, anonymous: Contact | None) -> None:
    """An anonymous visitor who signed in: the two contacts are suggested as one, with the
    reason, for a caseworker to confirm; never merged here."""
    if anonymous is None or anonymous.id == identified.id:
        return
    if anonymous.tenant_id != identified.tenant_id:
        return
    a, b = sorted((identified.id, anonymous.id))
    exists = db.session.scalar(
        select(ContactMatchSuggestion.id).where(
            ContactMatchSuggestion.contact_a_id == a, ContactMatchSuggestion.contact_b_id == b
        )
    )
    if exists is None:
        db.session.add(
            ContactMatchSuggestion(
                tenant_id=identified.tenant_id,
                contact_a_id=a,
                contact_b_id=b,
                reason=MatchReason.IDPORTEN,
                matched_on="idporten",
            )
        )
        db.session.flush()


def verified(contact: Contact) -> IdportenIdentity | None:
    """What ID-porten verified about this contact, if it was identified."""
    ids = [i.id for i in contact.identities if i.kind is IdentityKind.IDPORTEN_PID]
    if not ids:
        return None
    return db.session.scalar(
        select(IdportenIdentity)
        .where(IdportenIdentity.contact_identity_id.in_(ids))
        .order_by(IdportenIdentity.verified_at.desc())
        .limit(1)
    )


def identity_number(row: IdportenIdentity) -> str:
    return secret_store.decrypt(row.pid_enc)


def shown_number(row: IdportenIdentity, user: User | None, tenant_id: int) -> str:
    """Masked, except to roles allowed to see identity numbers (inbox/views/privacy.py)."""
    from inbox.views.privacy import may_reveal

    try:
        pid = identity_number(row)
    except secret_store.SecretUnavailable:
        return "***********"
    if user is not None and may_reveal(user, tenant_id):
        return pid
    return mask_pid(pid)


def token_identified(account: ChannelAccount, visitor_value: str) -> bool:
    """Whether the visitor token (its stored hash) belongs to an identified contact."""
    ident = db.session.scalar(
        select(ContactIdentity).where(
            ContactIdentity.tenant_id == account.tenant_id,
            ContactIdentity.kind == IdentityKind.CHAT_VISITOR,
            ContactIdentity.value == visitor_value,
        )
    )
    if ident is None:
        return False
    return (
        db.session.scalar(
            select(ContactIdentity.id).where(
                ContactIdentity.contact_id == ident.contact_id,
                ContactIdentity.kind == IdentityKind.IDPORTEN_PID,
            )
        )
        is not None
    )


def contact_of_visitor(account: ChannelAccount, visitor_value: str) -> Contact | None:
    ident = db.session.scalar(
        select(ContactIdentity).where(
            ContactIdentity.tenant_id == account.tenant_id,
            ContactIdentity.kind == IdentityKind.CHAT_VISITOR,
            ContactIdentity.value == visitor_value,
        )
    )
    return db.session.get(Contact, ident.contact_id) if ident is not None else None


class SettingsError(ValueError):
    """str(exc) names the field that is wrong."""


ISSUER_DEFAULT = "https://idporten.no"


def save_settings(account: ChannelAccount, form: dict[str, str], actor: User) -> None:
    """Validate and store a widget's ID-porten settings (the admin page); a secret left empty
    keeps the one stored. The caller commits."""
    from inbox.services import audit, oidc

    old = dict((account.config or {}).get("idporten") or {})
    enabled = form.get("enabled") in ("1", "on", "true")
    issuer = (form.get("issuer", "").strip() or ISSUER_DEFAULT).rstrip("/")
    if len(issuer) > 500:
        raise SettingsError("issuer")
    try:
        oidc.check_url(issuer)
    except oidc.OidcError as exc:
        raise SettingsError("issuer") from exc
    client_id = form.get("client_id", "").strip()
    if len(client_id) > 255 or (enabled and not client_id):
        raise SettingsError("client_id")
    acr = form.get("acr", SUBSTANTIAL)
    if acr not in LEVELS:
        raise SettingsError("acr")
    new: dict[str, Any] = {
        "enabled": enabled,
        "required": form.get("required") in ("1", "on", "true"),
        "issuer": issuer,
        "client_id": client_id,
        "acr": acr,
    }
    secret_env = form.get("client_secret_env", "").strip()
    secret = form.get("client_secret", "").strip()
    if secret_env:
        if not secret_env.replace("_", "a").isalnum() or len(secret_env) > 128:
            raise SettingsError("client_secret")
        new["client_secret_env"] = secret_env
    elif secret:
        if len(secret) > 1000:
            raise SettingsError("client_secret")
        new["client_secret_enc"] = secret_store.encrypt(secret)
    elif old.get("client_secret_enc") or old.get("client_secret_env"):
        for key in ("client_secret_enc", "client_secret_env"):
            if old.get(key):
                new[key] = old[key]
    elif enabled:
        raise SettingsError("client_secret")
    account.config = {**(account.config or {}), "idporten": new}
    audit.record(
        "idporten.configure",
        account,
        tenant_id=account.tenant_id,
        actor=actor,
        enabled=enabled,
        required=new["required"],
        acr=acr,
    )


def export(ident: ContactIdentity) -> dict[str, Any]:
    """What a subject access export holds of an identity verified through ID-porten."""
    row = db.session.scalar(
        select(IdportenIdentity).where(IdportenIdentity.contact_identity_id == ident.id)
    )
    if row is None:
        return {}
    try:
        number: str | None = identity_number(row)
    except secret_store.SecretUnavailable:
        number = None
    return {
        "value": number,
        "level": row.acr,
        "name": row.name,
        "verified_at": row.verified_at.isoformat() if row.verified_at else None,
    }
