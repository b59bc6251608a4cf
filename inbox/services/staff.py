"""A municipality's staff and teams, managed by its admins (pages in inbox/views/staff.py).

Accounts are global: one person may work for several municipalities (regional staff). Roles
and teams belong to one municipality. Disabling an account or resetting its password reaches
every municipality the account belongs to, so only an admin of all of them may do it.

Adding an address that already has an account is where municipalities meet: the account
keeps its password, so whoever can sign in to it now gets into this municipality too. When
the account belongs to municipalities where the acting admin is not an admin, the admin is
shown their names and must confirm (NeedsConfirmation). An account that belongs to no
municipality any more is started afresh, like a new one: a new temporary password, so
nobody who knew the old one keeps access.

Every change is audited; functions flush, the caller commits.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select, update

from inbox.extensions import db
from inbox.models import (
    ChannelAccount,
    Conversation,
    ConversationStatus,
    Membership,
    Role,
    Team,
    TeamMember,
    Tenant,
    User,
)
from inbox.services import audit, sessions
from inbox.services.access import visible_conversations_clause
from inbox.services.users import create_user, hash_password, temporary_password

MAX_EMAIL_CHARS = 254
MAX_NAME_CHARS = 200
MAX_TEAM_NAME_CHARS = 120
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


class StaffError(ValueError):
    """The change is refused; str(exc) is a short code the view turns into a message."""


class NotAllowed(StaffError):
    """The acting admin may not do this to the account at all (the view answers 403)."""


class NeedsConfirmation(StaffError):
    """The address has an account that also belongs to municipalities where the acting admin
    is not an admin (`tenants`, by name): nothing is stored until the admin confirms."""

    def __init__(self, user: User, tenants: list[Tenant]) -> None:
        super().__init__("confirm_existing")
        self.user = user
        self.tenants = tenants


@dataclass
class Added:
    """A person given a role by add_person."""

    user: User
    # The temporary password to show once, for a new account or an orphaned one started
    # afresh; None for an account that keeps its password.
    password: str | None
    # The address had an account that belonged to no municipality.
    orphaned: bool = False


@dataclass
class Person:
    """A member of one tenant: the account, the role there and the tenant's teams they are in."""

    user: User
    role: Role
    teams: list[Team] = field(default_factory=list)


@dataclass
class TeamWithMembers:
    team: Team
    members: list[User] = field(default_factory=list)


# -- reading ----------------------------------------------------------------------------------


def people(tenant_id: int) -> list[Person]:
    rows = db.session.execute(
        select(User, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.tenant_id == tenant_id)
        .order_by(func.lower(User.name), User.id)
    ).all()
    teams = _teams_by_user(tenant_id)
    return [Person(user, role, teams.get(user.id, [])) for user, role in rows]


def person(tenant_id: int, user_id: int) -> Person | None:
    """The member, or None when the account does not exist or is not a member here."""
    member = db.session.get(Membership, (user_id, tenant_id))
    if member is None:
        return None
    return Person(member.user, member.role, _teams_by_user(tenant_id, user_id).get(user_id, []))


def _teams_by_user(tenant_id: int, user_id: int | None = None) -> dict[int, list[Team]]:
    query = (
        select(TeamMember.user_id, Team)
        .join(Team, Team.id == TeamMember.team_id)
        .where(Team.tenant_id == tenant_id)
        .order_by(Team.name)
    )
    if user_id is not None:
        query = query.where(TeamMember.user_id == user_id)
    out: dict[int, list[Team]] = {}
    for member_id, team in db.session.execute(query).all():
        out.setdefault(member_id, []).append(team)
    return out


def teams(tenant_id: int) -> list[TeamWithMembers]:
    rows = {
        t.id: TeamWithMembers(t)
        for t in db.session.scalars(
            select(Team).where(Team.tenant_id == tenant_id).order_by(Team.name)
        )
    }
    for team_id, user in _members(list(rows)):
        rows[team_id].members.append(user)
    return list(rows.values())


def team_members(team: Team) -> list[User]:
    return [user for _team_id, user in _members([team.id])]


def _members(team_ids: list[int]) -> list[tuple[int, User]]:
    rows = db.session.execute(
        select(TeamMember.team_id, User)
        .join(User, User.id == TeamMember.user_id)
        .where(TeamMember.team_id.in_(team_ids))
        .order_by(func.lower(User.name), User.id)
    ).all()
    return [(team_id, user) for team_id, user in rows]


def team_in(tenant_id: int, team_id: int) -> Team | None:
    team = db.session.get(Team, team_id)
    return team if team is not None and team.tenant_id == tenant_id else None


def other_tenants(user: User, tenant_id: int) -> list[Tenant]:
    """The other municipalities the account belongs to, by name."""
    others = [m.tenant for m in user.memberships if m.tenant_id != tenant_id]
    return sorted(others, key=lambda t: (t.name.casefold(), t.id))


def foreign_tenants(actor: User, user: User) -> list[Tenant]:
    """The municipalities the account belongs to where `actor` is not an admin, by name."""
    admin_of = {m.tenant_id for m in actor.memberships if m.role is Role.ADMIN}
    foreign = [m.tenant for m in user.memberships if m.tenant_id not in admin_of]
    return sorted(foreign, key=lambda t: (t.name.casefold(), t.id))


def may_manage_account(actor: User, user: User) -> bool:
    """Whether `actor` is an admin of every tenant the account belongs to (and so may disable
    it or reset its password without reaching into another municipality)."""
    admin_of = {m.tenant_id for m in actor.memberships if m.role is Role.ADMIN}
    tenants = {m.tenant_id for m in user.memberships}
    return bool(tenants) and tenants <= admin_of


# -- validation -------------------------------------------------------------------------------


def _email(raw: str | None) -> str:
    email = (raw or "").strip().lower()
    if len(email) > MAX_EMAIL_CHARS or not email.isprintable() or not _EMAIL.fullmatch(email):
        raise StaffError("email")
    return email


def _text(raw: str | None, limit: int, code: str) -> str:
    """One line of text: surrounding and repeated white space removed, no control characters."""
    text = " ".join((raw or "").split())
    if not text or len(text) > limit or not text.isprintable():
        raise StaffError(code)
    return text


def _role(raw: str | None) -> Role:
    try:
        return Role(raw or "")
    except ValueError:
        raise StaffError("role") from None


def _team_name(tenant_id: int, raw: str | None, own_id: int | None = None) -> str:
    name = _text(raw, MAX_TEAM_NAME_CHARS, "team_name")
    taken = db.session.execute(select(Team.id, Team.name).where(Team.tenant_id == tenant_id))
    # Compared in Python: SQLite's lower() leaves Æ, Ø and Å alone.
    if any(n.casefold() == name.casefold() and i != own_id for i, n in taken):
        raise StaffError("team_duplicate")
    return name


def _membership(tenant_id: int, user: User) -> Membership:
    member = db.session.get(Membership, (user.id, tenant_id))
    if member is None:
        raise StaffError("not_member")
    return member


def _keep_an_admin(tenant_id: int, user: User) -> None:
    """Refuse a change that takes `user` out of the tenant's admins when no other enabled
    admin would be left."""
    others = db.session.scalar(
        select(func.count())
        .select_from(Membership)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.tenant_id == tenant_id,
            Membership.role == Role.ADMIN,
            Membership.user_id != user.id,
            User.is_enabled.is_(True),
        )
    )
    if not others:
        raise StaffError("last_admin")


# -- people -----------------------------------------------------------------------------------


def add_person(
    tenant_id: int,
    actor: User,
    email: str,
    name: str,
    role: str,
    confirmed: Collection[int] = (),
) -> Added:
    """Give a person a role in this tenant.

    - A new address gets a new account with a temporary password, returned here once and
      never stored in clear.
    - An account that belongs to no municipality (everyone removed it) is treated as new:
      the given name, a new temporary password that must be replaced, enabled, unlocked.
      Whoever knew its old password, or still has a session, is shut out.
    - Any other account (a colleague from another municipality) keeps its name and password.
      If it belongs to municipalities where `actor` is not an admin, NeedsConfirmation names
      them unless `confirmed` holds every one of their ids (the ids the admin was shown)."""
    email, name, new_role = _email(email), _text(name, MAX_NAME_CHARS, "name"), _role(role)
    user = db.session.scalar(select(User).where(func.lower(User.email) == email))
    password, orphaned, was_disabled, others = None, False, False, []
    if user is None:
        password = temporary_password()
        user = create_user(email, name, password, {})
        user.must_change_password = True
    elif db.session.get(Membership, (user.id, tenant_id)) is not None:
        raise StaffError("already_member")
    elif not user.memberships:
        password, orphaned, was_disabled = temporary_password(), True, not user.is_enabled
        user.name = name
        user.password_hash = hash_password(password)  # also ends its sessions
        sessions.end_all(user)
        user.must_change_password = True
        user.is_enabled = True
        user.locked_until, user.failed_logins = None, 0
    else:
        foreign = foreign_tenants(actor, user)
        if foreign and not {t.id for t in foreign} <= set(confirmed):
            raise NeedsConfirmation(user, foreign)
        others = sorted(user.tenant_ids())
    db.session.add(Membership(user_id=user.id, tenant_id=tenant_id, role=new_role))
    db.session.flush()
    db.session.expire(user, ["memberships"])
    details: dict[str, object] = {}
    if orphaned:
        details = {"orphaned": True, "was_disabled": was_disabled}
    elif others:
        details = {"other_tenants": others}
    audit.record(
        "staff.add",
        user,
        tenant_id=tenant_id,
        actor=actor,
        role=new_role.value,
        new_account=password is not None and not orphaned,
        **details,
    )
    return Added(user, password, orphaned)


def change_role(tenant_id: int, actor: User, user: User, role: str) -> None:
    member, new = _membership(tenant_id, user), _role(role)
    if member.role is new:
        return
    if member.role is Role.ADMIN:
        _keep_an_admin(tenant_id, user)
    old, member.role = member.role, new
    db.session.flush()
    _release_assignments(tenant_id, actor, user)
    audit.record("staff.role", user, tenant_id=tenant_id, actor=actor, old=old.value, new=new.value)


def remove_person(tenant_id: int, actor: User, user: User) -> None:
    """Take the person out of this tenant and its teams; the account itself stays."""
    member = _membership(tenant_id, user)
    if member.role is Role.ADMIN:
        _keep_an_admin(tenant_id, user)
    role = member.role
    db.session.execute(
        delete(TeamMember)
        .where(
            TeamMember.user_id == user.id,
            TeamMember.team_id.in_(select(Team.id).where(Team.tenant_id == tenant_id)),
        )
        .execution_options(synchronize_session=False)
    )
    db.session.delete(member)
    db.session.flush()
    db.session.expire(user, ["memberships"])
    _release_assignments(tenant_id, actor, user)
    audit.record("staff.remove", user, tenant_id=tenant_id, actor=actor, role=role.value)


def unlock(tenant_id: int, actor: User, user: User) -> None:
    """Lift a lock-out after failed sign-ins."""
    _membership(tenant_id, user)
    user.locked_until, user.failed_logins = None, 0
    audit.record("staff.unlock", user, tenant_id=tenant_id, actor=actor)


def _check_account_change(tenant_id: int, actor: User, user: User) -> None:
    _membership(tenant_id, user)
    if user.id == actor.id:
        raise StaffError("self")
    if not may_manage_account(actor, user):
        raise NotAllowed("other_tenants")


def set_enabled(tenant_id: int, actor: User, user: User, enabled: bool) -> None:
    """Disable (or enable again) the account, in every tenant it belongs to. A disabled
    account's sessions are no longer accepted (Flask-Login treats it as inactive)."""
    _check_account_change(tenant_id, actor, user)
    if user.is_enabled is enabled:
        return
    user.is_enabled = enabled
    if not enabled:
        sessions.end_all(user)
    action = "staff.enable" if enabled else "staff.disable"
    audit.record(action, user, tenant_id=tenant_id, actor=actor, tenants=sorted(user.tenant_ids()))


def reset_password(tenant_id: int, actor: User, user: User) -> str:
    """A new temporary password (returned once) that must be replaced at the next sign-in.
    The new hash ends every session of the account (inbox/security.py)."""
    _check_account_change(tenant_id, actor, user)
    if user.password_hash.startswith("sso:"):
        # Signs in through the municipality's identity provider (docs/sso.md): no password.
        raise StaffError("sso_account")
    password = temporary_password()
    user.password_hash = hash_password(password)
    sessions.end_all(user)
    user.must_change_password = True
    user.locked_until, user.failed_logins = None, 0
    audit.record("staff.password_reset", user, tenant_id=tenant_id, actor=actor)
    return password


def _release_assignments(tenant_id: int, actor: User, user: User) -> None:
    """Unassign the user's open conversations here that they may no longer see, so their team
    picks them up (as a transfer to another team does)."""
    lost = db.session.scalars(
        select(Conversation).where(
            Conversation.tenant_id == tenant_id,
            Conversation.assignee_id == user.id,
            Conversation.status != ConversationStatus.CLOSED,
            ~visible_conversations_clause(user),
        )
    ).all()
    for conv in lost:
        conv.assignee_id = None
        audit.record("assign", conv, tenant_id=tenant_id, actor=actor, old=user.id, new=None)


# -- teams ------------------------------------------------------------------------------------


def create_team(tenant_id: int, actor: User, name: str) -> Team:
    team = Team(tenant_id=tenant_id, name=_team_name(tenant_id, name))
    db.session.add(team)
    db.session.flush()
    audit.record("team.create", team, tenant_id=tenant_id, actor=actor, name=team.name)
    return team


def rename_team(team: Team, actor: User, name: str) -> None:
    new = _team_name(team.tenant_id, name, team.id)
    if new == team.name:
        return
    old, team.name = team.name, new
    db.session.flush()
    audit.record("team.rename", team, tenant_id=team.tenant_id, actor=actor, old=old, new=new)


def delete_team(team: Team, actor: User) -> None:
    """Delete the team; its conversations and channels stay, with no team (the foreign keys
    say ON DELETE SET NULL as well; done here so the count is audited on every backend)."""
    moved = db.session.execute(
        update(Conversation)
        .where(Conversation.team_id == team.id)
        .values(team_id=None)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    channels = db.session.execute(
        update(ChannelAccount)
        .where(ChannelAccount.team_id == team.id)
        .values(team_id=None)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    db.session.execute(delete(TeamMember).where(TeamMember.team_id == team.id))
    audit.record(
        "team.delete",
        team,
        tenant_id=team.tenant_id,
        actor=actor,
        name=team.name,
        conversations=moved,
        channels=channels,
    )
    db.session.delete(team)
    db.session.flush()


def add_to_team(team: Team, actor: User, user: User) -> None:
    _membership(team.tenant_id, user)
    if db.session.get(TeamMember, (team.id, user.id)) is not None:
        raise StaffError("already_in_team")
    db.session.add(TeamMember(team_id=team.id, user_id=user.id))
    db.session.flush()
    audit.record("team.join", team, tenant_id=team.tenant_id, actor=actor, user_id=user.id)


def remove_from_team(team: Team, actor: User, user: User) -> None:
    row = db.session.get(TeamMember, (team.id, user.id))
    if row is None:
        raise StaffError("not_in_team")
    db.session.delete(row)
    db.session.flush()
    _release_assignments(team.tenant_id, actor, user)
    audit.record("team.leave", team, tenant_id=team.tenant_id, actor=actor, user_id=user.id)
