"""The embedded journal's commands for records staff: close a period, export a deposit."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from archiving.adapters.embedded_export import ExportError, export_deposit
from archiving.adapters.embedded_period import (
    PeriodError,
    close_period,
    closed_periods,
    period_entries,
)
from inbox.extensions import db
from inbox.models import Tenant


def _tenant(slug: str) -> Tenant:
    tenant = db.session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise click.ClickException(f"no municipality with slug {slug!r}")
    return tenant


@click.command("close-period")
@click.option("--tenant", "slug", required=True, help="The municipality's slug.")
@click.option("--by", required=True, help="Who closes the period (name or user name).")
@with_appcontext
def close_period_cmd(slug: str, by: str) -> None:
    """Close the open period of a municipality's embedded journal, ready for a deposit."""
    tenant = _tenant(slug)
    try:
        period = close_period(tenant, by)
    except PeriodError as exc:
        raise click.ClickException(str(exc)) from exc
    count = len(period_entries(period))
    db.session.commit()
    click.echo(
        f"period {period.number} of {slug} closed by {by}: {count} journal entries Arkivert, "
        "their cases Avsluttet; export it with `servicetorg export-records`"
    )


@click.command("export-records")
@click.option("--tenant", "slug", required=True, help="The municipality's slug.")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="A new (or empty) folder for the package.",
)
@click.option(
    "--close-period",
    "close_first",
    is_flag=True,
    help="Close the open period first, then export it.",
)
@click.option("--by", default="", help="Who closes the period (with --close-period).")
@click.option("--period", "number", type=int, help="The closed period to export (default: latest).")
@click.option("--open", "open_period", is_flag=True, help="Export the open period: NOT a deposit.")
@with_appcontext
def export_records_cmd(
    slug: str, out: Path, close_first: bool, by: str, number: int | None, open_period: bool
) -> None:
    """Export a period of a municipality's embedded records system as an arkivuttrekk."""
    tenant = _tenant(slug)
    if sum([close_first, number is not None, open_period]) > 1:
        raise click.ClickException("choose one of --close-period, --period and --open")
    period = None
    try:
        if close_first:
            period = close_period(tenant, by)
            db.session.commit()
            click.echo(f"period {period.number} closed by {by}")
        elif number is not None:
            period = next((p for p in closed_periods(tenant) if p.number == number), None)
            if period is None:
                raise click.ClickException(f"{slug} has no closed period {number}")
        summary = export_deposit(tenant, out, period=period, open_period=open_period)
    except (ExportError, PeriodError) as exc:
        raise click.ClickException(str(exc)) from exc
    what = (
        f"deposit of closed period {summary.period}"
        if summary.deposit
        else f"NOT A DEPOSIT: period {summary.period} is open (its cases and entries are not "
        "closed); close it with `servicetorg close-period` before depositing"
    )
    click.echo(
        f"arkivuttrekk written to {summary.out} ({what}): {summary.cases} cases, "
        f"{summary.entries} journal entries, {summary.files} files, "
        f"{summary.changes} logged changes"
    )
    if not summary.changes:
        click.echo("no endringslogg.xml: no change has been logged for these records")
    if summary.schema_problem:
        click.echo(
            f"WARNING: the schema files (XSD) are NOT in the package: {summary.schema_problem}. "
            "Set NOARK5_SCHEMA_DIR to a folder of Arkivverket's official Noark 5 schemas.",
            err=True,
        )
    else:
        click.echo(f"schemas included: {', '.join(summary.schemas)}")
