"""Shared pieces of the API tests: a municipality with a token, and requests made with it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inbox.extensions import db
from inbox.models import ApiToken, Role, Tenant, User
from inbox.services import api_tokens


def make_token(factory: Any, tenant: Tenant, *scopes: str, name: str = "Chatbot") -> str:
    admin = factory.user(tenant, Role.ADMIN)
    _row, token = api_tokens.create(tenant.id, name, list(scopes or ("read",)), admin)
    db.session.commit()
    return token


@dataclass
class Api:
    client: Any
    token: str

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **extra}

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get("/api/v1" + path, headers=self.headers(), **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.client.post("/api/v1" + path, json=body, headers=self.headers(), **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.client.delete("/api/v1" + path, headers=self.headers(), **kw)


def token_row(token: str) -> ApiToken:
    return db.session.query(ApiToken).filter_by(lookup_id=token.split("_")[1]).one()


def admin_of(tenant: Tenant) -> User:
    return next(m.user for m in tenant_memberships(tenant) if m.role is Role.ADMIN)


def tenant_memberships(tenant: Tenant) -> list[Any]:
    from inbox.models import Membership

    return list(db.session.query(Membership).filter_by(tenant_id=tenant.id))
