"""queue indexes, full-text search, real-time event log and typing presence

PostgreSQL: a stored tsvector column on message (Norwegian configuration) with a GIN index,
GIN indexes for contact names, and a trigram index for phone numbers / identities.
SQLite (embedded mode): an FTS5 table over message bodies kept in sync by triggers.

Revision ID: i3_search
Revises: i3_inbox
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "i3_search"
down_revision = "i3_inbox"
branch_labels = None
depends_on = None

QUEUE_INDEXES = {
    "ix_conversation_team_queue": ["team_id", "status", "last_activity_at", "id"],
    "ix_conversation_waiting": ["tenant_id", "status", "waiting_since", "id"],
    "ix_conversation_assignee_waiting": ["assignee_id", "status", "waiting_since", "id"],
    "ix_conversation_team_waiting": ["team_id", "status", "waiting_since", "id"],
}

PG_UP = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "ALTER TABLE message ADD COLUMN search_tsv tsvector "
    "GENERATED ALWAYS AS (to_tsvector('norwegian', body)) STORED",
    "CREATE INDEX ix_message_search_tsv ON message USING gin (search_tsv)",
    "CREATE INDEX ix_contact_name_tsv ON contact "
    "USING gin (to_tsvector('simple', coalesce(name, '')))",
    "CREATE INDEX ix_contact_identity_value_trgm ON contact_identity "
    "USING gin (value gin_trgm_ops)",
]
PG_DOWN = [
    "DROP INDEX IF EXISTS ix_contact_identity_value_trgm",
    "DROP INDEX IF EXISTS ix_contact_name_tsv",
    "DROP INDEX IF EXISTS ix_message_search_tsv",
    "ALTER TABLE message DROP COLUMN IF EXISTS search_tsv",
]
# External-content FTS5 table: the text lives once, in message.body.
SQLITE_UP = [
    "CREATE VIRTUAL TABLE message_fts USING fts5("
    "body, content='message', content_rowid='id', tokenize='unicode61')",
    "CREATE TRIGGER message_fts_ai AFTER INSERT ON message BEGIN "
    "INSERT INTO message_fts(rowid, body) VALUES (new.id, new.body); END",
    "CREATE TRIGGER message_fts_ad AFTER DELETE ON message BEGIN "
    "INSERT INTO message_fts(message_fts, rowid, body) VALUES ('delete', old.id, old.body); END",
    "CREATE TRIGGER message_fts_au AFTER UPDATE OF body ON message BEGIN "
    "INSERT INTO message_fts(message_fts, rowid, body) VALUES ('delete', old.id, old.body); "
    "INSERT INTO message_fts(rowid, body) VALUES (new.id, new.body); END",
    "INSERT INTO message_fts(message_fts) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS message_fts_au",
    "DROP TRIGGER IF EXISTS message_fts_ad",
    "DROP TRIGGER IF EXISTS message_fts_ai",
    "DROP TABLE IF EXISTS message_fts",
]


def upgrade():
    op.create_table(
        "realtime_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
            name=op.f("fk_realtime_event_tenant_id_tenant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_realtime_event")),
    )
    with op.batch_alter_table("realtime_event", schema=None) as batch_op:
        batch_op.create_index("ix_realtime_event_tenant", ["tenant_id", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_realtime_event_created_at"), ["created_at"], unique=False
        )
    op.create_table(
        "conversation_presence",
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversation.id"],
            name=op.f("fk_conversation_presence_conversation_id_conversation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_conversation_presence_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "conversation_id", "user_id", name=op.f("pk_conversation_presence")
        ),
    )
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        for name, cols in QUEUE_INDEXES.items():
            batch_op.create_index(name, cols, unique=False)
        batch_op.create_index(
            "ix_conversation_open_counts",
            ["tenant_id"],
            unique=False,
            postgresql_include=["assignee_id", "team_id", "has_unread", "waiting_since"],
            postgresql_where=sa.text("status = 'open' AND merged_into_id IS NULL"),
            sqlite_where=sa.text("status = 'open' AND merged_into_id IS NULL"),
        )
    statements = PG_UP if op.get_bind().dialect.name == "postgresql" else SQLITE_UP
    for stmt in statements:
        op.execute(stmt)


def downgrade():
    statements = PG_DOWN if op.get_bind().dialect.name == "postgresql" else SQLITE_DOWN
    for stmt in statements:
        op.execute(stmt)
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_index("ix_conversation_open_counts")
        for name in QUEUE_INDEXES:
            batch_op.drop_index(name)
    op.drop_table("conversation_presence")
    with op.batch_alter_table("realtime_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_realtime_event_created_at"))
        batch_op.drop_index("ix_realtime_event_tenant")
    op.drop_table("realtime_event")
