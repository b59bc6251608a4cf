"""Managing staff from the command line: users, roles, teams, unlocking.

servicetorg staff add-user kari@kommune.no "Kari Nordmann" --tenant demo --role caseworker
servicetorg staff add-team demo Byggesak
servicetorg staff join-team kari@kommune.no demo Byggesak
servicetorg staff unlock kari@kommune.no
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select

from inbox.extensions import db
from inbox.models import Membership, Role, Team, TeamMember, Tenant, User
from inbox.services.users import create_user

ROLES = click.Choice([r.value for r in Role])


@click.group("staff")
def staff_cli() -> None:
    """Staff accounts, roles and teams."""


def _tenant(slug: str) -> Tenant:
    tenant = db.session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise click.ClickException(f"no municipality with slug {slug!r}")
    return tenant


def _user(email: str) -> User:
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"no user {email!r}")
    return user


def _team(tenant: Tenant, name: str) -> Team:
    team = db.session.scalar(select(Team).where(Team.tenant_id == tenant.id, Team.name == name))
    if team is None:
        raise click.ClickException(f"no team {name!r} in {tenant.slug}")
    return team


@staff_cli.command("add-user")
@click.argument("email")
@click.argument("name")
@click.option("--tenant", "slug", required=True, help="Municipality slug")
@click.option("--role", type=ROLES, default="caseworker", show_default=True)
@click.password_option(envvar="SERVICETORG_NEW_PASSWORD")
@with_appcontext
def add_user(email: str, name: str, slug: str, role: str, password: str) -> None:
    """Create a user, or give an existing user a role in another municipality."""
    tenant = _tenant(slug)
    if len(password) < 12:
        raise click.ClickException("the password must be at least 12 characters")
    existing = db.session.scalar(
        select(User).where(func.lower(User.email) == email.strip().lower())
    )
    if existing is None:
        create_user(email, name, password, {tenant.id: Role(role)})
    else:
        member = db.session.get(Membership, (existing.id, tenant.id))
        if member is None:
            db.session.add(Membership(user_id=existing.id, tenant_id=tenant.id, role=Role(role)))
        else:
            member.role = Role(role)
    db.session.commit()
    click.echo(f"{email}: {role} in {tenant.slug}")


@staff_cli.command("add-team")
@click.argument("slug")
@click.argument("name")
@with_appcontext
def add_team(slug: str, name: str) -> None:
    tenant = _tenant(slug)
    db.session.add(Team(tenant_id=tenant.id, name=name))
    db.session.commit()
    click.echo(f"team {name} in {tenant.slug}")


@staff_cli.command("join-team")
@click.argument("email")
@click.argument("slug")
@click.argument("team_name")
@with_appcontext
def join_team(email: str, slug: str, team_name: str) -> None:
    user, tenant = _user(email), _tenant(slug)
    if user.role_in(tenant.id) is None:
        raise click.ClickException(f"{email} is not a member of {slug}")
    team = _team(tenant, team_name)
    if db.session.get(TeamMember, (team.id, user.id)) is None:
        db.session.add(TeamMember(team_id=team.id, user_id=user.id))
    db.session.commit()
    click.echo(f"{email} is in team {team_name}")


@staff_cli.command("unlock")
@click.argument("email")
@with_appcontext
def unlock(email: str) -> None:
    """Lift a lock-out after failed sign-ins."""
    user = _user(email)
    user.locked_until, user.failed_logins = None, 0
    db.session.commit()
    click.echo(f"{email} unlocked")
