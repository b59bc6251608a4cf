"""API tokens: how other systems (a chatbot, a case-handling system) act on one municipality's
conversations through /api/v1. Only a hash of the token is stored (inbox/services/api_tokens.py)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from inbox.extensions import db
from inbox.models.base import JSONType, TenantScoped, Timestamped, UTCDateTime


class ApiScope(enum.StrEnum):
    READ = "read"  # list, search and read conversations
    WRITE = "write"  # reply, note, status, assign, tag, flag for the archive
    HANDOVER = "handover"  # create a conversation on behalf of a channel (a chatbot's handover)


class ApiToken(TenantScoped, Timestamped, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    # The token is "st_<lookup_id>_<secret>": the lookup id finds the row, the SHA-256 of the
    # whole token is compared in constant time. Neither the token nor the secret is stored.
    lookup_id: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def prefix(self) -> str:
        """What pages show of a token: enough to tell them apart, nothing to use."""
        return f"st_{self.lookup_id}_…"

    def allows(self, scope: ApiScope) -> bool:
        return scope.value in (self.scopes or [])
