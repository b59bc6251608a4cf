"""Builders for rows the tests need; every row is committed like real data."""

from __future__ import annotations

import secrets
from typing import Any

from inbox.extensions import db
from inbox.models import (
    ChannelAccount,
    ChannelKind,
    Conversation,
    IdentityKind,
    Message,
    Role,
    Team,
    Tenant,
    User,
)
from inbox.services.ingest import InboundMessage, ingest
from inbox.services.users import create_user

PASSWORD = "correct horse battery"


class Factory:
    def tenant(self, slug: str | None = None, **kw: Any) -> Tenant:
        slug = slug or f"kommune-{secrets.token_hex(3)}"
        t = Tenant(slug=slug, name=kw.pop("name", f"{slug.title()} kommune"), **kw)
        db.session.add(t)
        db.session.commit()
        return t

    def team(self, tenant: Tenant, name: str = "Servicetorget") -> Team:
        team = Team(tenant_id=tenant.id, name=name)
        db.session.add(team)
        db.session.commit()
        return team

    def user(self, tenant: Tenant, role: Role = Role.CASEWORKER, **kw: Any) -> User:
        email = kw.pop("email", f"{role.value}-{secrets.token_hex(3)}@{tenant.slug}.no")
        user = create_user(
            email, kw.pop("name", f"{role.value.title()} Test"), PASSWORD, {tenant.id: role}
        )
        db.session.commit()
        return user

    def channel(
        self, tenant: Tenant, kind: ChannelKind = ChannelKind.WEBCHAT, **kw: Any
    ) -> ChannelAccount:
        acc = ChannelAccount(
            tenant_id=tenant.id,
            kind=kind,
            name=kw.pop("name", f"{kind.value} {tenant.slug}"),
            external_id=kw.pop("external_id", f"{kind.value}-{secrets.token_hex(6)}"),
            **kw,
        )
        db.session.add(acc)
        db.session.commit()
        return acc

    def inbound(
        self,
        account: ChannelAccount,
        body: str = "Hei, når er søppeltømming?",
        identity: str | None = None,
        kind: IdentityKind = IdentityKind.CHAT_VISITOR,
        **kw: Any,
    ) -> Message:
        msg, _ = ingest(
            account,
            InboundMessage(
                identity_kind=kind,
                identity_value=identity or f"visitor-{secrets.token_hex(4)}",
                body=body,
                **kw,
            ),
        )
        db.session.commit()
        return msg

    def conversation(self, account: ChannelAccount, **kw: Any) -> Conversation:
        return self.inbound(account, **kw).conversation
