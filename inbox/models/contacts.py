"""Citizens (contacts) and how they are known in each channel."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from inbox.extensions import db
from inbox.models.base import TenantScoped, Timestamped, UTCDateTime, enum_column


class IdentityKind(enum.StrEnum):
    PHONE = "phone"  # E.164
    EMAIL = "email"
    FACEBOOK_PSID = "facebook_psid"  # page-scoped Messenger id
    FACEBOOK_USER = "facebook_user"  # commenter id on a page post
    CHAT_VISITOR = "chat_visitor"  # anonymous widget token
    CHAT_USER = "chat_user"  # a signed-in visitor vouched for by the site (HMAC)
    WEB_AUTHOR = "web_author"  # a website commenter (source-scoped)


class Contact(TenantScoped, Timestamped, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    # Set when this contact was merged into another; kept so a merge can be undone.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"), index=True)
    # Set when retention or an erasure request anonymised it (name and identities gone).
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    identities: Mapped[list[ContactIdentity]] = relationship(
        back_populates="contact",
        lazy="selectin",
        order_by="ContactIdentity.id",
        foreign_keys="ContactIdentity.contact_id",
    )

    @property
    def display_name(self) -> str:
        if self.name:
            return self.name
        for ident in self.identities:
            if ident.kind in (IdentityKind.PHONE, IdentityKind.EMAIL):
                return ident.value
        return f"#{self.id}"


class ContactIdentity(TenantScoped, Timestamped, db.Model):
    __table_args__ = (
        UniqueConstraint("tenant_id", "kind", "value"),
        Index("ix_contact_identity_value", "value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contact.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[IdentityKind] = mapped_column(enum_column(IdentityKind, 32))
    value: Mapped[str] = mapped_column(String(254))
    # The contact the identity belonged to before a merge moved it (for undo).
    previous_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"))
    # When the citizen opted out of SMS (sent STOP); None again after START.
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def shown_value(self) -> str:
        """The value as staff see it. A web-chat visitor is known by the hash of a secret token,
        which means nothing to a person: a short fingerprint tells two visitors apart."""
        if self.kind is IdentityKind.CHAT_VISITOR and self.value.startswith("sha256:"):
            return self.value[len("sha256:") :][:8] + "…"
        return self.value

    contact: Mapped[Contact] = relationship(back_populates="identities", foreign_keys=[contact_id])
