"""Channel accounts: one row per connected provider account (a web-chat widget, a Twilio
number, a Facebook page, a website), with its non-secret settings."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from inbox.extensions import db
from inbox.models.base import JSONType, TenantScoped, Timestamped, UTCDateTime, enum_column


class ChannelKind(enum.StrEnum):
    WEBCHAT = "webchat"
    SMS = "sms"  # Twilio
    MESSENGER = "messenger"  # Facebook page: Messenger
    FACEBOOK_COMMENTS = "facebook_comments"  # Facebook page: comments on posts
    WEB_COMMENTS = "web_comments"  # WordPress or a signed generic webhook
    INSTAGRAM = "instagram"  # Instagram professional account: direct messages
    INSTAGRAM_COMMENTS = "instagram_comments"  # Instagram professional account: comments


class ChannelAccount(TenantScoped, Timestamped, db.Model):
    __table_args__ = (UniqueConstraint("kind", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ChannelKind] = mapped_column(enum_column(ChannelKind, 32))
    name: Mapped[str] = mapped_column(String(200))
    # The provider's id for the account: phone number, page id, Instagram account id, site URL,
    # or the tenant slug.
    external_id: Mapped[str] = mapped_column(String(254))
    # The Facebook page an Instagram professional account is linked to: its messages are sent
    # and read through the page (docs/instagram.md).
    linked_page_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # Non-secret provider settings (account SID, API base URL, graph version, ...).
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Secrets by reference: {"auth_token": "NAME_OF_ENV_VAR"}; values never stored here.
    secret_refs: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"))
    # Comments from a hearing source are pre-suggested as archive-worthy.
    is_hearing: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Pull connectors keep their position here (a timestamp, an id, a paging cursor).
    poll_cursor: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A problem an admin must act on (expired token, rejected credentials), shown in the inbox.
    alert: Mapped[str | None] = mapped_column(Text)
