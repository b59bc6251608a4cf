"""`servicetorg sms add-number`: connect a Twilio number (one channel account per number)."""

from __future__ import annotations

import click
from flask import current_app
from sqlalchemy import select

from channels.twilio_sms.services import normalise_phone
from inbox.extensions import db
from inbox.models import ChannelAccount, ChannelKind, Team, Tenant


@click.command("add-number")
@click.option("--tenant", "tenant_slug", required=True, help="Tenant slug.")
@click.option("--number", required=True, help="The Twilio number, E.164 (+47...).")
@click.option("--account-sid", required=True, help="Twilio account SID (AC...).")
@click.option(
    "--token-env", required=True, help="NAME of the environment variable with the auth token."
)
@click.option("--messaging-service-sid", default=None, help="Send through this Messaging Service.")
@click.option("--team", "team_name", default=None, help="Route conversations to this team.")
@click.option("--name", default=None, help="Name shown in the inbox.")
def add_number(
    tenant_slug: str,
    number: str,
    account_sid: str,
    token_env: str,
    messaging_service_sid: str | None,
    team_name: str | None,
    name: str | None,
) -> None:
    """Add or update an SMS number and print the webhook URL to set in Twilio."""
    tenant = db.session.scalar(select(Tenant).where(Tenant.slug == tenant_slug))
    if tenant is None:
        raise click.BadParameter(f"no tenant {tenant_slug!r}", param_hint="--tenant")
    e164 = normalise_phone(number)
    if e164 is None:
        raise click.BadParameter("not a phone number", param_hint="--number")
    team_id = None
    if team_name:
        team = db.session.scalar(
            select(Team).where(Team.tenant_id == tenant.id, Team.name == team_name)
        )
        if team is None:
            raise click.BadParameter(f"no team {team_name!r}", param_hint="--team")
        team_id = team.id
    account = db.session.scalar(
        select(ChannelAccount).where(
            ChannelAccount.kind == ChannelKind.SMS, ChannelAccount.external_id == e164
        )
    )
    if account is None:
        account = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.SMS, external_id=e164)
        db.session.add(account)
    elif account.tenant_id != tenant.id:
        raise click.BadParameter("the number belongs to another tenant", param_hint="--number")
    account.name = name or account.name or f"SMS {e164}"
    config = {"account_sid": account_sid}
    if messaging_service_sid:
        config["messaging_service_sid"] = messaging_service_sid
    account.config = {**(account.config or {}), **config}
    account.secret_refs = {**(account.secret_refs or {}), "auth_token": token_env}
    account.team_id = team_id
    db.session.commit()
    base = current_app.config.get("PUBLIC_BASE_URL") or "<PUBLIC_BASE_URL>"
    click.echo(f"SMS number {e164} is channel account {account.id}.")
    click.echo(f"Set 'A message comes in' (HTTP POST) to: {base}/webhooks/twilio/{account.id}/sms")
