"""`servicetorg alerts grant`: let a caseworker write and send SMS alerts (or take it back)."""

from __future__ import annotations

import click
from sqlalchemy import func, select

from channels.sms_alerts import services
from inbox.extensions import db
from inbox.models import Tenant, User


@click.command("grant")
@click.option("--tenant", "tenant_slug", required=True, help="Tenant slug.")
@click.option("--email", required=True, help="The staff member's e-mail address.")
@click.option("--revoke", is_flag=True, help="Take the right away instead.")
def grant(tenant_slug: str, email: str, revoke: bool) -> None:
    """Give a member of the municipality the right to send SMS alerts."""
    tenant = db.session.scalar(select(Tenant).where(Tenant.slug == tenant_slug))
    if tenant is None:
        raise click.BadParameter(f"no tenant {tenant_slug!r}", param_hint="--tenant")
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.lower()))
    if user is None or user.role_in(tenant.id) is None:
        raise click.BadParameter(f"{email} does not work for {tenant_slug}", param_hint="--email")
    services.grant(tenant.id, user, not revoke)
    db.session.commit()
    click.echo(
        f"{email} {'may no longer' if revoke else 'may now'} send SMS alerts in {tenant.slug}."
    )
