"""Configuration, migrations and the after-commit task queue."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from inbox import create_app
from inbox.config import ConfigError
from inbox.db import enqueue
from inbox.extensions import db
from inbox.models import AuditEntry, Tenant
from inbox.models.audit import AuditLogIsAppendOnly
from inbox.services import audit

# Search structures that live only in the migration (inbox/services/search.py): SQLite's FTS5
# table with its shadow tables, PostgreSQL's generated tsvector column and its index.
SEARCH_ONLY = (
    "message_fts",
    "search_tsv",
    "ix_message_search_tsv",
    "ix_contact_name_tsv",
    "ix_contact_identity_value_trgm",
)


def _not_search_only(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    return not (name or "").startswith(SEARCH_ONLY)


def test_migrations_match_the_models(app):
    """The migrated database (SQLite or PostgreSQL) has exactly the schema the models declare."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": _not_search_only})
        diffs = compare_metadata(context, db.metadata)
    assert diffs == []


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"MODE": "staging"}, "MODE"),
        ({"MAX_MESSAGE_CHARS": "lots"}, "MAX_MESSAGE_CHARS"),
        ({"DEFAULT_LOCALE": "de"}, "DEFAULT_LOCALE"),
        ({"MODE": "production", "SECRET_KEY": None}, "SECRET_KEY"),
        ({"MODE": "production", "SECRET_KEY": "x" * 40, "DATABASE_URL": None}, "DATABASE_URL"),
        (
            {"MODE": "production", "SECRET_KEY": "x" * 40, "DATABASE_URL": "sqlite:///x.db"},
            "DATABASE_URL",
        ),
        ({"MODE": "production", "SECRET_KEY": "short"}, "SECRET_KEY"),
    ],
)
def test_invalid_settings_stop_start_up_naming_the_setting(tmp_path, override, named):
    base = {
        "INSTANCE_PATH": str(tmp_path),
        "DATABASE_URL": "postgresql://h/db",
        "BROKER_URL": "redis://h",
    }
    with pytest.raises(ConfigError, match=named):
        create_app({**base, **override})


def test_environment_overrides_config_file(tmp_path, monkeypatch):
    cfg = tmp_path / "servicetorg.toml"
    cfg.write_text('MAX_MESSAGE_CHARS = 1000\nDEFAULT_TIMEZONE = "Europe/Oslo"\n')
    monkeypatch.setenv("SERVICETORG_CONFIG", str(cfg))
    monkeypatch.setenv("SERVICETORG_MAX_MESSAGE_CHARS", "1200")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["MAX_MESSAGE_CHARS"] == 1200
    assert app.config["DATABASE_URL"].startswith("sqlite:///")


def test_broken_config_file_is_named(tmp_path, monkeypatch):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("MODE = \n")
    monkeypatch.setenv("SERVICETORG_CONFIG", str(cfg))
    with pytest.raises(ConfigError, match="bad.toml"):
        create_app({"INSTANCE_PATH": str(tmp_path)})


def test_postgres_urls_use_the_installed_driver(tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "postgresql://u@h/d"})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/d"


def test_a_web_process_keeps_a_database_connection_per_thread(base_config):
    """README's production line runs 16 threads per web process: all of them can hold a
    connection at once, and the pool keeps every one for the next requests. SQLAlchemy's
    default pool kept 5 and closed the rest when given back: under an SMS storm the web tier
    opened about 90 PostgreSQL connections a second, each starting a server process."""
    if not base_config["DATABASE_URL"].startswith("postgresql"):
        pytest.skip("a server's connections")
    app = create_app({**base_config, "SQLALCHEMY_ENGINE_OPTIONS": {"pool_timeout": 2}})
    with app.app_context():
        try:
            held = [db.engine.connect() for _ in range(16)]
            for conn in held:
                conn.exec_driver_sql("SELECT 1")
                conn.close()
            assert db.engine.pool.checkedin() == 16
        finally:
            db.engine.dispose()


@pytest.mark.parametrize("setting", ["DATABASE_POOL_SIZE", "DATABASE_MAX_OVERFLOW"])
def test_a_pool_size_below_its_minimum_stops_start_up(tmp_path, setting):
    with pytest.raises(ConfigError, match=setting):
        create_app(
            {
                "INSTANCE_PATH": str(tmp_path),
                "DATABASE_URL": "postgresql://h/db",
                setting: -1,
            }
        )


def test_tasks_are_sent_only_after_commit(app, tasks, factory):
    tenant = factory.tenant()
    enqueue("servicetorg.housekeeping.sweep")
    assert tasks.sent == []  # not before the commit
    db.session.commit()
    assert tasks.names() == ["servicetorg.housekeeping.sweep"]

    tasks.sent.clear()
    tenant.name = "Renamed"
    enqueue("servicetorg.housekeeping.sweep")
    db.session.rollback()
    db.session.commit()
    assert tasks.sent == []  # a rolled-back transaction sends nothing


def test_audit_log_is_append_only(app, factory):
    tenant = factory.tenant()
    audit.record("test", tenant, tenant_id=tenant.id, actor_label="test")
    db.session.commit()
    entry = db.session.scalars(select(AuditEntry)).one()
    entry.action = "forged"
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.commit()
    db.session.rollback()
    db.session.delete(db.session.get(AuditEntry, entry.id))
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.commit()
    db.session.rollback()


def test_audit_log_refuses_raw_sql_changes_on_postgresql(app, factory):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the database trigger exists on PostgreSQL only")
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    tenant = factory.tenant()
    audit.record("test", tenant, tenant_id=tenant.id, actor_label="test")
    db.session.commit()
    with pytest.raises(DBAPIError, match="cannot be changed"):
        db.session.execute(text("UPDATE audit_entry SET action = 'forged'"))
    db.session.rollback()
    assert db.session.scalars(select(AuditEntry.action)).all() == ["test"]


def test_health_endpoint(client):
    assert client.get("/healthz").json["status"] == "ok"


def test_a_released_savepoint_is_not_a_commit(app, tasks, factory):
    """Tasks wait for the real commit, and an outer rollback undoes a released savepoint."""
    tenant = factory.tenant()
    tenant.name = "Før"
    enqueue("servicetorg.housekeeping.sweep")
    with db.session.begin_nested():
        factory_tenant = Tenant(slug="savepoint-kommune", name="Savepoint")
        db.session.add(factory_tenant)
    assert tasks.sent == []
    db.session.rollback()
    assert tasks.sent == []
    assert db.session.scalar(select(Tenant).where(Tenant.slug == "savepoint-kommune")) is None
