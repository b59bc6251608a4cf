"""Inbound events an admin has to look at: those the inbound worker parked.

servicetorg events parked [--tenant SLUG] [--show-body]
servicetorg events retry ID [ID ...]
servicetorg events retry --all-parked [--tenant SLUG]
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from inbox.extensions import db
from inbox.models import ChannelAccount, Tenant
from inbox.services import events


@click.group("events")
def events_cli() -> None:
    """Inbound events (raw webhook deliveries) that could not be turned into messages."""


def _tenant_id(slug: str | None) -> int | None:
    if slug is None:
        return None
    tenant_id = db.session.scalar(select(Tenant.id).where(Tenant.slug == slug))
    if tenant_id is None:
        raise click.ClickException(f"no municipality with slug {slug!r}")
    return tenant_id


@events_cli.command("parked")
@click.option("--tenant", "slug", help="Only this municipality (slug).")
@click.option("--show-body", is_flag=True, help="Print each event's raw body too.")
@with_appcontext
def parked_cmd(slug: str | None, show_body: bool) -> None:
    """List parked events with the reason they were parked."""
    rows = events.parked(limit=1000, tenant_id=_tenant_id(slug))
    if not rows:
        click.echo("No parked events.")
        return
    for ev in rows:
        account = db.session.get(ChannelAccount, ev.channel_account_id)
        name = account.name if account is not None else "?"
        click.echo(
            f"{ev.id}\t{ev.received_at:%Y-%m-%d %H:%M:%S}Z\t{ev.kind}\t{name}\t"
            f"{ev.provider_key}\tattempts={ev.attempts}"
        )
        click.echo(f"\t{(ev.last_error or '').splitlines()[-1] if ev.last_error else ''}")
        if show_body:
            click.echo("\t" + ev.body.decode(errors="replace"))


@events_cli.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all-parked", is_flag=True, help="Every parked event (of --tenant).")
@click.option("--tenant", "slug", help="With --all-parked: only this municipality.")
@with_appcontext
def retry_cmd(ids: tuple[int, ...], all_parked: bool, slug: str | None) -> None:
    """Put parked events back in line for the inbound worker (after fixing the cause)."""
    tenant_id = _tenant_id(slug)
    chosen = list(ids)
    if all_parked:
        chosen += [ev.id for ev in events.parked(limit=100000, tenant_id=tenant_id)]
    if not chosen:
        raise click.UsageError("name the events to retry, or --all-parked")
    count = events.retry(chosen, tenant_id=tenant_id)
    db.session.commit()  # sends the worker its kick
    click.echo(f"{count} event(s) queued again.")
