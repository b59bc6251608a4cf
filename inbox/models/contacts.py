"""Citizens (contacts) and how they are known in each channel."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from inbox.extensions import db
from inbox.models.base import TenantScoped, Timestamped, UTCDateTime, enum_column
from inbox.normalise import identity_norm, normalise_email, normalise_name, normalise_phone


class IdentityKind(enum.StrEnum):
    PHONE = "phone"  # E.164
    EMAIL = "email"
    FACEBOOK_PSID = "facebook_psid"  # page-scoped Messenger id
    FACEBOOK_USER = "facebook_user"  # commenter id on a page post
    CHAT_VISITOR = "chat_visitor"  # anonymous widget token
    CHAT_USER = "chat_user"  # a signed-in visitor vouched for by the site (HMAC)
    WEB_AUTHOR = "web_author"  # a website commenter (source-scoped)
    INSTAGRAM_IGSID = "instagram_igsid"  # Instagram-scoped id: direct messages and comments
    # A citizen identified through ID-porten: the value is a keyed hash of the national
    # identity number (the number itself is kept encrypted, inbox/models/sso.py).
    IDPORTEN_PID = "idporten_pid"


class Contact(TenantScoped, Timestamped, db.Model):
    __table_args__ = (
        # Contact matching looks citizens up by these (inbox/services/matching.py).
        Index("ix_contact_phone_norm", "tenant_id", "phone_norm"),
        Index("ix_contact_email_norm", "tenant_id", "email_norm"),
        Index("ix_contact_name_norm", "tenant_id", "name_norm"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    # Normalised forms of the three above (inbox/normalise.py), kept up to date on every
    # insert and update; None where there is nothing to match on.
    phone_norm: Mapped[str | None] = mapped_column(String(32))
    email_norm: Mapped[str | None] = mapped_column(String(254))
    name_norm: Mapped[str | None] = mapped_column(Text)
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
        Index("ix_contact_identity_norm", "tenant_id", "value_norm"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contact.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[IdentityKind] = mapped_column(enum_column(IdentityKind, 32))
    value: Mapped[str] = mapped_column(String(254))
    # The normalised phone number or e-mail address of a phone or e-mail identity, else None.
    value_norm: Mapped[str | None] = mapped_column(String(254))
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
        if self.kind is IdentityKind.IDPORTEN_PID:
            return ""  # shown from its verified record (templates/inbox/_idporten.html)
        return self.value

    contact: Mapped[Contact] = relationship(back_populates="identities", foreign_keys=[contact_id])


def contact_norms(name: str | None, phone: str | None, email: str | None) -> dict[str, str | None]:
    """The normalised columns of a contact with these values (also for Core inserts)."""
    return {
        "name_norm": normalise_name(name),
        "phone_norm": normalise_phone(phone),
        "email_norm": normalise_email(email),
    }


@event.listens_for(Contact, "before_insert")
@event.listens_for(Contact, "before_update")
def _contact_norms(mapper: Any, connection: Any, contact: Contact) -> None:
    for key, value in contact_norms(contact.name, contact.phone, contact.email).items():
        if getattr(contact, key) != value:
            setattr(contact, key, value)


@event.listens_for(ContactIdentity, "before_insert")
@event.listens_for(ContactIdentity, "before_update")
def _identity_norm(mapper: Any, connection: Any, ident: ContactIdentity) -> None:
    value = identity_norm(str(ident.kind), ident.value)
    if ident.value_norm != value:
        ident.value_norm = value
