"""Tenant isolation: every lookup of a tenant's data goes through here.

The rule: a user sees only the tenants they are a member of. Within a tenant, caseworkers see
the conversations of their teams and those with no team; records officers and admins see all.
"""

from __future__ import annotations

from typing import Any

from flask import abort
from flask_login import current_user
from sqlalchemy import and_, false, or_, select
from sqlalchemy.sql.elements import ColumnElement

from inbox.extensions import db
from inbox.models import Conversation, Role, Team, TeamMember, Tenant, User

# Roles that see every conversation of their tenant, whatever its team.
WHOLE_TENANT = (Role.RECORDS_OFFICER, Role.ADMIN)


def current() -> User:
    user = current_user._get_current_object()  # noqa: SLF001
    if not user.is_authenticated:
        abort(401)
    return user


def require_role(tenant_id: int, *roles: Role) -> User:
    """The current user, if they hold one of `roles` in this tenant; 404 if not a member."""
    user = current()
    role = user.role_in(tenant_id)
    if role is None:
        abort(404)
    if roles and role not in roles and role is not Role.ADMIN:
        abort(403)
    return user


def admin_tenants() -> list[Tenant]:
    """The tenants the current user is an admin of; 403 if none (admin pages)."""
    tenants = [m.tenant for m in current().active_memberships if m.role is Role.ADMIN]
    if not tenants:
        abort(403)
    return tenants


def chosen_tenant_id(tenants: list[Tenant], raw: str | None) -> int:
    """The tenant an admin page is about (`?tenant=`), the first of `tenants` by default;
    404 if the user is not a member, 403 if not an admin there."""
    if not raw:
        return tenants[0].id
    if not raw.isdigit():
        abort(404)
    tenant_id = int(raw)
    require_role(tenant_id, Role.ADMIN)
    return tenant_id


def team_ids(user: User) -> list[int]:
    return list(db.session.scalars(select(TeamMember.team_id).where(TeamMember.user_id == user.id)))


def can_see(user: User, conv: Conversation) -> bool:
    role = user.role_in(conv.tenant_id)
    if role is None:
        return False
    if role in WHOLE_TENANT or conv.team_id is None:
        return True
    return conv.team_id in team_ids(user)


def visible_conversations_clause(user: User) -> ColumnElement[bool]:
    """A WHERE clause on Conversation: what `user` may see (use it in every list and search)."""
    whole = [m.tenant_id for m in user.active_memberships if m.role in WHOLE_TENANT]
    teams_only = [m.tenant_id for m in user.active_memberships if m.role not in WHOLE_TENANT]
    parts: list[ColumnElement[bool]] = []
    if whole:
        parts.append(Conversation.tenant_id.in_(whole))
    if teams_only:
        my_teams = select(TeamMember.team_id).where(TeamMember.user_id == user.id)
        parts.append(
            and_(
                Conversation.tenant_id.in_(teams_only),
                or_(Conversation.team_id.is_(None), Conversation.team_id.in_(my_teams)),
            )
        )
    return or_(*parts) if parts else false()


class Audience:
    """Which conversations' real-time notices a user may receive: the rule of
    visible_conversations_clause, checked per notice against the conversation's team now.

    Lives as long as a stream; it reads through short connections of its own, never the
    request's session, so a stream holds no transaction open between notices."""

    def __init__(self, user: User) -> None:
        self.whole = {m.tenant_id for m in user.active_memberships if m.role in WHOLE_TENANT}
        self.teams_only = {
            m.tenant_id for m in user.active_memberships if m.role not in WHOLE_TENANT
        }
        self.user_id = user.id

    @property
    def tenant_ids(self) -> list[int]:
        return sorted(self.whole | self.teams_only)

    def admits(self, conversation_id: int | None) -> bool:
        if conversation_id is None:
            return False
        with db.engine.connect() as conn:
            row = conn.execute(
                select(Conversation.tenant_id, Conversation.team_id).where(
                    Conversation.id == conversation_id
                )
            ).first()
            if row is None:
                return False
            tenant_id, team_id = row
            if tenant_id in self.whole:
                return True
            if tenant_id not in self.teams_only:
                return False
            if team_id is None:
                return True
            member = conn.scalar(
                select(TeamMember.team_id).where(
                    TeamMember.user_id == self.user_id, TeamMember.team_id == team_id
                )
            )
            return member is not None


def conversation_for_user(conversation_id: int) -> Conversation:
    """The conversation, or 404 when it does not exist or the user may not see it."""
    conv = db.session.get(Conversation, conversation_id)
    if conv is None or not can_see(current(), conv):
        abort(404)
    return conv


def tenant_object(model: Any, object_id: int, *roles: Role) -> Any:
    """A tenant-scoped row by id, 404 for unknown ids and other tenants, 403 for wrong roles."""
    obj = db.session.get(model, object_id)
    if obj is None:
        abort(404)
    require_role(obj.tenant_id, *roles)
    return obj


def team_in_tenant(tenant_id: int, team_id: int | None) -> Team | None:
    if team_id is None:
        return None
    team = db.session.get(Team, team_id)
    return team if team is not None and team.tenant_id == tenant_id else None
