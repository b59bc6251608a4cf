"""Contact matching looks contacts up by indexed normalised columns: the SQL it sends has no
LIKE with a leading wildcard (which scans every contact of the municipality), the database
plans index lookups even among many contacts, and the migration fills the columns of rows
stored before it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from alembic.script import ScriptDirectory
from flask_migrate import upgrade
from sqlalchemy import create_engine, event, text

from inbox.cli import use_migrations
from inbox.extensions import db
from inbox.models import ChannelKind, Contact, IdentityKind
from inbox.services import matching
from tests.conftest import make_app

REVISION = "batch_match_norms"


@contextlib.contextmanager
def statements() -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def a_known_citizen(factory) -> int:  # type: ignore[no-untyped-def]
    """A contact with a phone number, an e-mail identity and a full name to match on."""
    tenant = factory.tenant()
    chat = factory.channel(tenant, ChannelKind.WEBCHAT)
    msg = factory.inbound(chat, identity="Kari@Example.no", kind=IdentityKind.EMAIL)
    contact = db.session.get(Contact, msg.contact_id)
    contact.name, contact.phone = "Kari  Nordmann", "912 34 567"
    db.session.commit()
    return contact.id


def like_parameters(params: Any) -> list[str]:
    values = params.values() if isinstance(params, dict) else params or ()
    return [v for v in values if isinstance(v, str) and v.startswith("%")]


def test_matching_sends_no_leading_wildcard_like(factory) -> None:  # type: ignore[no-untyped-def]
    contact_id = a_known_citizen(factory)
    with statements() as seen:
        matching.suggest_for_contact(contact_id)
    sql = [s for s, _ in seen]
    assert any("contact" in s for s in sql)
    assert not [s for s in sql if " LIKE " in s.upper()], sql
    assert not [p for _, p in seen if like_parameters(p)]


def _plan(conn: Any, statement: str, params: Any) -> str:
    if conn.dialect.name == "postgresql":
        rows = conn.exec_driver_sql("EXPLAIN " + statement, params).all()
        return "\n".join(r[0] for r in rows)
    rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
    return "\n".join(str(r[-1]) for r in rows)


def test_matching_uses_the_index_among_many_contacts(factory) -> None:  # type: ignore[no-untyped-def]
    contact_id = a_known_citizen(factory)
    tenant_id = db.session.get(Contact, contact_id).tenant_id
    db.session.add_all(
        Contact(tenant_id=tenant_id, name=f"Innbygger {i}", phone=f"+479{i:07d}")
        for i in range(3000)
    )
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ANALYZE contact"))
        db.session.execute(text("ANALYZE contact_identity"))
        db.session.commit()
    with statements() as seen:
        matching.suggest_for_contact(contact_id)
    lookups = [(s, p) for s, p in seen if "contact.tenant_id IN " in s and "_norm IN " in s]
    assert len(lookups) >= 3  # phone, e-mail, name
    conn = db.session.connection()
    for statement, params in lookups:
        plan = _plan(conn, statement, params)
        assert "Seq Scan on contact " not in plan + " ", plan  # PostgreSQL
        assert "SCAN contact" not in plan.replace("SCAN contact_identity", ""), plan  # SQLite
        # By the normalised columns, not by the tenant (which is every contact of it).
        assert "_norm" in plan, plan


def test_the_migration_fills_the_columns_of_existing_contacts(base_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'before.db'}"
    app = make_app({**base_config, "DATABASE_URL": url, "REDIS_URL": None})
    use_migrations(app)
    migrations = app.extensions["migrate"].directory
    with app.app_context():
        script = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config())
        before = script.get_revision(REVISION).down_revision
        upgrade(directory=migrations, revision=before)
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO tenant (id, slug, name, locale, timezone, opening_hours, "
                    "records_adapter, records_config, retention_days, created_at) VALUES "
                    "(1, 'k', 'K', 'nb', 'Europe/Oslo', '{}', 'embedded', '{}', 90, '2026-01-01')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO contact (id, tenant_id, name, phone, email, created_at) VALUES "
                    "(1, 1, ' Kari  NORDMANN', '912 34 567', ' Kari@Example.NO', '2026-01-01'),"
                    "(2, 1, 'Ola', NULL, 'not an address', '2026-01-01')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO contact_identity (id, tenant_id, contact_id, kind, value, "
                    "created_at) VALUES (1, 1, 2, 'phone', '0047 98765432', '2026-01-01'), "
                    "(2, 1, 2, 'chat_visitor', 'visitor-1', '2026-01-01')"
                )
            )
        upgrade(directory=migrations)
        with engine.connect() as conn:
            contacts = conn.execute(
                text("SELECT phone_norm, email_norm, name_norm FROM contact ORDER BY id")
            ).all()
            idents = conn.execute(text("SELECT value_norm FROM contact_identity ORDER BY id"))
            assert [tuple(r) for r in contacts] == [
                ("+4791234567", "kari@example.no", "kari nordmann"),
                (None, None, None),
            ]
            assert [r[0] for r in idents] == ["+4798765432", None]
            indexes = conn.execute(text("SELECT name FROM sqlite_master WHERE type='index'"))
            assert {"ix_contact_phone_norm", "ix_contact_identity_norm"} <= {r[0] for r in indexes}
        engine.dispose()
