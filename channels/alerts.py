"""Channel alerts for admins: problems an admin must act on, shown as a banner in the inbox."""

from __future__ import annotations

from typing import Any

from flask_login import current_user
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import ChannelAccount, Role


def admin_alerts() -> list[ChannelAccount]:
    if not current_user or not current_user.is_authenticated:
        return []
    tenants = [m.tenant_id for m in current_user.active_memberships if m.role is Role.ADMIN]
    if not tenants:
        return []
    return list(
        db.session.scalars(
            select(ChannelAccount)
            .where(ChannelAccount.tenant_id.in_(tenants), ChannelAccount.alert.is_not(None))
            .order_by(ChannelAccount.id)
        )
    )


def alert_context() -> dict[str, Any]:
    # Functions, so the queries run only on pages that show them.
    return {"channel_alerts": admin_alerts}
