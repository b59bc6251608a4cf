"""Command line: `servicetorg run` starts the whole embedded installation; other commands
manage the database and data. The same commands are available as `flask --app inbox ...`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from inbox.extensions import db

QUEUE_NAMES = ("inbound", "outbound", "archiving", "default")


def register_commands(app: Flask) -> None:
    from inbox.cli_events import events_cli
    from inbox.cli_staff import staff_cli

    app.cli.add_command(migrate_cmd)
    app.cli.add_command(events_cli)
    app.cli.add_command(seed_demo_cmd)
    app.cli.add_command(staff_cli)
    app.cli.add_command(seed_bench_cmd)
    from inbox.cli_admin import secrets_cli, tenant_cli

    app.cli.add_command(secrets_cli)
    app.cli.add_command(tenant_cli)
    app.cli.add_command(insight_refresh_cmd)


@click.command("migrate")
@with_appcontext
def migrate_cmd() -> None:
    """Bring the database schema up to date."""
    upgrade_database()
    click.echo("database is up to date")


@click.command("seed-demo")
@with_appcontext
def seed_demo_cmd() -> None:
    """Create the demo municipality and users (once) and print the logins."""
    from inbox.demo import seed_demo

    logins = seed_demo(current_app.instance_path)
    db.session.commit()
    for email, password, role in logins:
        click.echo(f"{role:16} {email}  {password}")


@click.command("seed-bench")
@click.option("--conversations", default=200_000, show_default=True)
@click.option("--messages", default=1_000_000, show_default=True)
@click.option("--tenants", default=3, show_default=True)
@with_appcontext
def seed_bench_cmd(conversations: int, messages: int, tenants: int) -> None:
    """Fill the database with the benchmark data set (see benchmarks/RESULTS.md)."""
    from inbox.benchseed import BENCH_PASSWORD, seed_bench

    started = time.monotonic()
    result = seed_bench(conversations=conversations, messages=messages, tenants=tenants)
    click.echo(
        f"{result.messages} messages in {result.conversations} conversations over "
        f"{len(result.tenants)} tenants in {time.monotonic() - started:.0f} s; "
        f"log in as {result.user_email} / {BENCH_PASSWORD}"
    )


@click.command("insight-refresh")
@click.option("--full", is_flag=True, help="Rebuild every fact and rollup from scratch.")
@with_appcontext
def insight_refresh_cmd(full: bool) -> None:
    """Bring the insight dashboard's facts and rollups up to date (docs/insight.md)."""
    from inbox.services import insight

    started = time.monotonic()
    n = insight.refresh_all(full=full)
    click.echo(f"{n} conversations refreshed in {time.monotonic() - started:.1f} s")


def use_migrations(app: Flask) -> None:
    """Attach Flask-Migrate to the app (and its `db` commands). Only the command line migrates:
    the web and worker processes never load it, nor Alembic, Mako and Pygments behind it (about
    11 MB in every process)."""
    if "migrate" not in app.extensions:
        from flask_migrate import Migrate

        Migrate(app, db, directory=str(Path(app.root_path).parent / "migrations"))


def upgrade_database() -> None:
    from flask_migrate import upgrade

    use_migrations(current_app)
    upgrade(directory=str(Path(current_app.root_path).parent / "migrations"))


def _create_app() -> Flask:
    from inbox import create_app

    app = create_app()
    use_migrations(app)
    return app


main = FlaskGroup(
    name="servicetorg",
    help=__doc__,
    create_app=_create_app,
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
)
main.add_command(migrate_cmd)
main.add_command(seed_demo_cmd)
main.add_command(seed_bench_cmd)
main.add_command(insight_refresh_cmd)


def _records_cmds() -> list[click.Command]:
    from archiving.adapters.embedded_cli import close_period_cmd, export_records_cmd

    return [export_records_cmd, close_period_cmd]


for _cmd in _records_cmds():
    main.add_command(_cmd)


@main.command("run", with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def run_cmd(host: str, port: int) -> None:
    """Start the web server, a Celery worker and beat (embedded mode: SQLite, embedded broker)."""
    from inbox import create_app
    from inbox.demo import DEMO_SLUG, seed_demo

    app = create_app()
    with app.app_context():
        upgrade_database()
        logins = seed_demo(app.instance_path) if app.config["MODE"] == "embedded" else []
        db.session.commit()
        prefix = app.config["CELERY_QUEUE_PREFIX"]
    queues = ",".join(prefix + q for q in QUEUE_NAMES)
    py = sys.executable
    schedule = str(Path(app.instance_path) / "celerybeat-schedule")
    commands = {
        "worker": [
            py,
            "-m",
            "celery",
            "-A",
            "workers.worker_app",
            "worker",
            "--pool=solo",
            "-Q",
            queues,
            "--loglevel=INFO",
            "-n",
            f"embedded-{os.getpid()}@%h",
        ],
        "beat": [
            py,
            "-m",
            "celery",
            "-A",
            "workers.worker_app",
            "beat",
            "--loglevel=INFO",
            "-s",
            schedule,
        ],
        "web": [
            py,
            "-m",
            "gunicorn",
            "-k",
            "gthread",
            "--threads",
            "16",
            "-w",
            "1",
            "-b",
            f"{host}:{port}",
            "--access-logfile",
            "-",
            "inbox.wsgi:app",
        ],
    }
    procs = {name: subprocess.Popen(cmd) for name, cmd in commands.items()}  # noqa: S603
    base = f"http://{host}:{port}"
    click.echo("\n" + "=" * 70)
    click.echo(f"Servicetorg is running ({app.config['MODE']} mode).")
    click.echo(f"  Inbox:               {base}/")
    click.echo(f"  Demo page with chat: {base}/demo/{DEMO_SLUG}")
    for email, password, role in logins:
        click.echo(f"  {role:16} {email}  password: {password}")
    click.echo("Press Ctrl+C to stop.")
    click.echo("=" * 70 + "\n")
    _supervise(procs)


def _supervise(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    stopping = False

    def stop(*_args: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping:
        for name, proc in procs.items():
            if proc.poll() is not None:
                click.echo(
                    f"{name} stopped (exit code {proc.returncode}); stopping the rest", err=True
                )
                stopping = True
        time.sleep(0.5)
    for proc in procs.values():
        if proc.poll() is None:
            proc.terminate()
    for proc in procs.values():
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
