"""Test fixtures.

The suite runs on SQLite with the embedded broker by default. When the environment names
SERVICETORG_TEST_DATABASE_URL (PostgreSQL) and SERVICETORG_TEST_REDIS_URL, the same suite
runs against them, in a database of its own that is dropped at the end.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.factories import Factory

# Property-based tests (tests/test_properties.py): deterministic by default, so a CI run is
# repeatable; HYPOTHESIS_PROFILE=explore draws new cases. Counts are in docs/security.md.
_PROPERTY_SETTINGS = {
    "max_examples": 150,
    "deadline": None,
    "database": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}
settings.register_profile("servicetorg", derandomize=True, **_PROPERTY_SETTINGS)
settings.register_profile("explore", **_PROPERTY_SETTINGS)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "servicetorg"))

RUN_ID = f"st{os.getpid()}{secrets.token_hex(3)}"
SHARED = Path(__file__).resolve().parent.parent.parent / "shared"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = os.environ.get("SERVICETORG_TEST_DATABASE_URL")
    if not server:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    url = make_url(server.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"servicetorg_{RUN_ID}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def redis_url() -> str | None:
    return os.environ.get("SERVICETORG_TEST_REDIS_URL")


@pytest.fixture(scope="session")
def base_config(
    database_url: str, redis_url: str | None, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    instance = tmp_path_factory.mktemp("instance")
    broker = (
        redis_url if redis_url else f"sqla+sqlite:///{tmp_path_factory.mktemp('broker')}/broker.db"
    )
    return {
        "TESTING": True,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": database_url,
        "BROKER_URL": broker,
        "REDIS_URL": redis_url,
        "CELERY_QUEUE_PREFIX": f"{RUN_ID}.",
        "RECORDS_DIR": str(instance / "records"),
        "NOARK5_SCHEMA_DIR": _noark5_schemas(),
        "WTF_CSRF_ENABLED": False,
        # Cheap password hashes keep sign-in tests fast; production uses argon2's defaults.
        "PASSWORD_HASH_TIME_COST": 1,
        "PASSWORD_HASH_MEMORY_KIB": 1024,
        # Tests sign in many times a minute from one address; tests of the limit lower it.
        "LOGIN_LIMIT_PER_IP": "100000/minute",
        # One worker kick per webhook, so tests see exactly what each request queued
        # (tests/test_inbound_hot_path.py tests the coalescing with its own interval).
        "INBOUND_KICK_INTERVAL_MS": 0,
        # The fake providers serve media on loopback, which is refused by default
        # (tests/test_media_fetch.py proves it); allowed here for the fakes only.
        "MEDIA_FETCH_ALLOW_PRIVATE_HOSTS": ["127.0.0.1"],
        "INSTANCE_PATH": str(instance),
        # The fake OpenID providers (tests/fakes/oidc.py) speak plain http on loopback.
        "OIDC_ALLOW_HTTP_LOOPBACK": True,
    }


def _noark5_schemas() -> str | None:
    """The official Noark 5 XSDs (../shared/standards/noark5-v5.0), for the deposit export."""
    from tests.schemas import standards_dir

    base = standards_dir()
    return str(base / "noark5-v5.0") if base is not None else None


def make_app(config: dict[str, Any]) -> Flask:
    from inbox import create_app

    return create_app(dict(config))


@pytest.fixture(scope="session")
def migrated(base_config: dict[str, Any]) -> None:
    from inbox.cli import upgrade_database

    app = make_app(base_config)
    with app.app_context():
        upgrade_database()


def run_inbound(app: Flask) -> int:
    """The inbound worker's batch, run here: with the RecordingDispatcher it also drops the
    kicks it replaces; with the real broker a worker may find nothing left to do."""
    dispatcher = app.extensions["servicetorg.dispatcher"]
    if isinstance(dispatcher, RecordingDispatcher):
        return dispatcher.run_inbound()
    from inbox.services.events import PROCESS_TASK

    celery = app.extensions["celery"]
    celery.loader.import_default_modules()
    return int(celery.tasks[PROCESS_TASK].apply(throw=True).get())


class RecordingDispatcher:
    """Collects tasks sent after commits; tests run them with run_all()."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.sent: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def send(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.sent.append((name, args, kwargs))

    def names(self) -> list[str]:
        return [s[0] for s in self.sent]

    def run_inbound(self) -> int:
        """Run the inbound worker's batch task if a webhook kicked it (other queued tasks stay
        queued, as they would have been when the webhook stored the message itself)."""
        from inbox.services.events import PROCESS_TASK

        kicked = [s for s in self.sent if s[0] == PROCESS_TASK]
        if not kicked:
            return 0
        self.sent = [s for s in self.sent if s[0] != PROCESS_TASK]
        celery = self.app.extensions["celery"]
        celery.loader.import_default_modules()
        return int(celery.tasks[PROCESS_TASK].apply(throw=True).get())

    def run_all(self, limit: int = 100, only: str | None = None) -> list[Any]:
        """Run queued tasks (and tasks they queue) in order, each in its own app context.

        Returns their results; with `only`, just the results of tasks with that name."""
        celery = self.app.extensions["celery"]
        celery.loader.import_default_modules()
        results = []
        while self.sent and limit:
            name, args, kwargs = self.sent.pop(0)
            result = celery.tasks[name].apply(args=args, kwargs=kwargs, throw=True).get()
            if only is None or name == only:
                results.append(result)
            limit -= 1
        return results


@pytest.fixture
def app(migrated: None, base_config: dict[str, Any]) -> Iterator[Flask]:
    app = make_app(base_config)
    app.extensions["servicetorg.dispatcher"] = RecordingDispatcher(app)
    with app.app_context():
        yield app
        _clean(app)


def _clean(app: Flask) -> None:
    from inbox.db import reset_kicks
    from inbox.extensions import db
    from inbox.services import account_cache

    reset_kicks()
    account_cache.invalidate()  # the rows go below without the ORM seeing it

    db.session.rollback()
    db.session.remove()
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # DELETE is much cheaper than TRUNCATE for a handful of rows; the replica role
            # switches off the audit log's append-only trigger for this cleanup only.
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        for t in tables:
            conn.execute(text(f'DELETE FROM "{t}"'))  # noqa: S608 (table names are ours)
    db.engine.dispose()


@pytest.fixture
def tasks(app: Flask) -> RecordingDispatcher:
    return app.extensions["servicetorg.dispatcher"]


@pytest.fixture
def client(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def factory(app: Flask) -> Factory:
    return Factory()


@pytest.fixture
def login(client):  # type: ignore[no-untyped-def]
    def _login(user: Any, password: str = "correct horse battery") -> None:
        resp = client.post("/login", data={"email": user.email, "password": password})
        assert resp.status_code == 302, resp.get_data(as_text=True)

    return _login


def unique(prefix: str = "x") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
