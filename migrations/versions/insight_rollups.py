"""Insight: conversation.updated_at, the per-conversation fact table and the daily rollups

conversation.updated_at is filled from last_activity_at for existing rows; the facts and
rollups start empty and are built by the first refresh (`servicetorg insight-refresh` or the
beat job), see docs/insight.md.

Revision ID: insight_rollups
Revises: instagram_accounts
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

UTCDateTime = lambda: sa.DateTime(timezone=True)  # noqa: E731
BACKLOG_SQL = "status IN ('open', 'pending', 'snoozed')"
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "insight_rollups"
down_revision = "admin_tenant_setup"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("conversation") as batch:
        batch.add_column(sa.Column("updated_at", UTCDateTime(), nullable=True))
    op.execute("UPDATE conversation SET updated_at = COALESCE(last_activity_at, created_at)")
    with op.batch_alter_table("conversation") as batch:
        batch.alter_column("updated_at", existing_type=UTCDateTime(), nullable=False)
        batch.create_index("ix_conversation_updated", ["tenant_id", "updated_at"], unique=False)
        batch.create_index(
            "ix_conversation_backlog",
            ["tenant_id"],
            unique=False,
            postgresql_include=["channel_account_id", "team_id", "waiting_since"],
            postgresql_where=sa.text(BACKLOG_SQL),
            sqlite_where=sa.text(BACKLOG_SQL),
        )

    op.create_table(
        "conversation_fact",
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("channel_kind", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("local_hour", sa.Integer(), nullable=False),
        sa.Column("first_response_at", UTCDateTime(), nullable=True),
        sa.Column("first_response_seconds", sa.Integer(), nullable=True),
        sa.Column("first_response_open_seconds", sa.Integer(), nullable=True),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("resolution_seconds", sa.Integer(), nullable=True),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("flagged_at", UTCDateTime(), nullable=True),
        sa.Column("journalled_at", UTCDateTime(), nullable=True),
        sa.Column("replies", sa.Integer(), nullable=False),
        sa.Column("replies_outside_hours", sa.Integer(), nullable=False),
        sa.Column("first_terms", sa.Text(), nullable=False),
        sa.Column("refreshed_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenant.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("conversation_id"),
    )
    op.create_index("ix_conversation_fact_period", "conversation_fact", ["tenant_id", "created_at"])
    op.create_table(
        "insight_daily",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("channel_kind", sa.String(length=32), nullable=False),
        sa.Column("local_hour", sa.Integer(), nullable=False),
        sa.Column("inquiries", sa.Integer(), nullable=False),
        sa.Column("replies", sa.Integer(), nullable=False),
        sa.Column("replies_outside_hours", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenant.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "local_date", "team_id", "channel_kind", "local_hour"),
    )
    op.create_table(
        "insight_term_daily",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("term", sa.String(length=64), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenant.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "local_date", "team_id", "term"),
    )
    op.create_table(
        "insight_state",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("refreshed_through", UTCDateTime(), nullable=True),
        sa.Column("costs", JSONType, nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenant.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id"),
    )


def downgrade():
    op.drop_table("insight_state")
    op.drop_table("insight_term_daily")
    op.drop_table("insight_daily")
    op.drop_index("ix_conversation_fact_period", table_name="conversation_fact")
    op.drop_table("conversation_fact")
    with op.batch_alter_table("conversation") as batch:
        batch.drop_index("ix_conversation_backlog")
        batch.drop_index("ix_conversation_updated")
        batch.drop_column("updated_at")
