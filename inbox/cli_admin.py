"""Installation administration from the command line, for the first start and key rotation.

servicetorg tenant create --slug bergen --name "Bergen kommune" \
    --admin-email it@bergen.kommune.no --admin-name "Kari IT" --regional-admin
servicetorg secrets new-key
servicetorg secrets rotate
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from inbox.extensions import db


@click.group("secrets")
def secrets_cli() -> None:
    """Encryption of the secrets entered on the admin pages (docs/admin.md)."""


@secrets_cli.command("new-key")
def new_key_cmd() -> None:
    """Print a new key; put it FIRST in SERVICETORG_SECRET_KEYS, then run `secrets rotate`."""
    from inbox.secretstore import new_key

    click.echo(new_key())


@secrets_cli.command("rotate")
@with_appcontext
def rotate_cmd() -> None:
    """Re-encrypt every stored secret with the first key of SERVICETORG_SECRET_KEYS."""
    from inbox import secretstore

    try:
        count = secretstore.rotate()
    except secretstore.SecretKeyError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(
        f"{count} stored secrets re-encrypted with the first key; the other keys may now be "
        "removed from SERVICETORG_SECRET_KEYS"
    )


@click.group("tenant")
def tenant_cli() -> None:
    """Municipalities (tenants) of this installation."""


@tenant_cli.command("create")
@click.option("--slug", required=True, help="Short name in addresses: lower case, digits, '-'.")
@click.option("--name", required=True, help="The municipality's name, e.g. 'Bergen kommune'.")
@click.option("--locale", default="nb", show_default=True, type=click.Choice(["nb", "nn", "en"]))
@click.option("--admin-email", required=True, help="Its first admin (created if new).")
@click.option("--admin-name", default=None, help="The admin's name (for a new account).")
@click.option(
    "--regional-admin",
    is_flag=True,
    help="Also make the admin a regional administrator (creates and deactivates municipalities).",
)
@with_appcontext
def create_cmd(
    slug: str,
    name: str,
    locale: str,
    admin_email: str,
    admin_name: str | None,
    regional_admin: bool,
) -> None:
    """Create a municipality with its first admin; prints a temporary password for a new
    account (to be changed at the first sign-in)."""
    from inbox.services import tenants

    try:
        result = tenants.create_tenant(
            slug,
            name,
            locale,
            admin_email,
            admin_name or admin_email.split("@")[0],
            actor=None,
            regional_admin=regional_admin,
        )
    except tenants.TenantError as exc:
        db.session.rollback()
        raise click.ClickException(tenants.message(exc)) from exc
    db.session.commit()
    click.echo(f"municipality {result.tenant.slug} ({result.tenant.name}) created")
    who = "regional admin and admin" if regional_admin else "admin"
    if result.password is not None:
        click.echo(f"{who}: {result.user.email}  temporary password: {result.password}")
        click.echo("the password must be changed at the first sign-in")
    else:
        click.echo(f"{who}: {result.user.email} (existing account, password unchanged)")
