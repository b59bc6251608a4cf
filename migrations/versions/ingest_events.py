"""inbound events: webhooks append the raw event, a worker turns it into messages

Revision ID: ingest_events
Revises: hostile_staff_sessions
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "ingest_events"
down_revision = "hostile_staff_sessions"
branch_labels = None
depends_on = None


def upgrade():
    json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    op.create_table(
        "inbound_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("channel_account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("provider_key", sa.String(length=255), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("headers", json, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
            name="fk_inbound_event_tenant_id_tenant",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["channel_account_id"],
            ["channel_account.id"],
            name="fk_inbound_event_channel_account_id_channel_account",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_inbound_event"),
        sa.UniqueConstraint(
            "channel_account_id",
            "kind",
            "provider_key",
            name="uq_inbound_event_channel_account_id_kind_provider_key",
        ),
    )
    for name, state in (("pending", "pending"), ("parked", "parked")):
        op.create_index(
            f"ix_inbound_event_{name}",
            "inbound_event",
            ["id"],
            postgresql_where=sa.text(f"state = '{state}'"),
            sqlite_where=sa.text(f"state = '{state}'"),
        )


def downgrade():
    op.drop_index("ix_inbound_event_parked", table_name="inbound_event")
    op.drop_index("ix_inbound_event_pending", table_name="inbound_event")
    op.drop_table("inbound_event")
