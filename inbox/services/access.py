"""Tenant isolation: every lookup of a tenant's data goes through here."""

from __future__ import annotations

from flask import abort
from flask_login import current_user

from inbox.extensions import db
from inbox.models import Conversation, Role, User


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


def conversation_for_user(conversation_id: int) -> Conversation:
    """The conversation, or 404 when it does not exist or belongs to another tenant."""
    conv = db.session.get(Conversation, conversation_id)
    if conv is None or current().role_in(conv.tenant_id) is None:
        abort(404)
    return conv
