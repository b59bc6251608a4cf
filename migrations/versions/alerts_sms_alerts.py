"""SMS alerts: alerts, their recipients, saved recipient lists, and who may send them

Revision ID: alerts_sms_alerts
Revises: instagram_accounts
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "alerts_sms_alerts"
down_revision = "insight_rollups"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("membership") as batch:
        batch.add_column(
            sa.Column("may_send_alerts", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "tenant_id",
            sa.Integer(),
            sa.ForeignKey("tenant.id", ondelete="CASCADE"),
            index=True,
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "channel_account_id",
            sa.Integer(),
            sa.ForeignKey("channel_account.id"),
            nullable=False,
        ),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("team.id", ondelete="SET NULL")),
        sa.Column("author_id", sa.Integer(), sa.ForeignKey("user_account.id", ondelete="SET NULL")),
        sa.Column(
            "approved_by_id", sa.Integer(), sa.ForeignKey("user_account.id", ondelete="SET NULL")
        ),
        sa.Column("follows_id", sa.Integer(), sa.ForeignKey("alert.id", ondelete="SET NULL")),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("sender", sa.String(16), nullable=False),
        sa.Column("encoding", sa.String(8), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("recipient_count", sa.Integer(), nullable=False),
        sa.Column("opted_out_count", sa.Integer(), nullable=False),
        sa.Column(
            "rejected", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True)),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("batch_until", sa.DateTime(timezone=True)),
        sa.Column("archive_item_id", sa.Integer()),
    )
    op.create_index("ix_alert_tenant_created", "alert", ["tenant_id", "id"])
    op.create_table(
        "alert_recipient",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "tenant_id",
            sa.Integer(),
            sa.ForeignKey("tenant.id", ondelete="CASCADE"),
            index=True,
            nullable=False,
        ),
        sa.Column(
            "alert_id",
            sa.Integer(),
            sa.ForeignKey("alert.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200)),
        sa.Column("address", sa.String(300)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("provider_sid", sa.String(64)),
        sa.Column("error_code", sa.String(32)),
        sa.Column("error_message", sa.Text()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("uncertain_since", sa.DateTime(timezone=True)),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column(
            "conversation_id",
            sa.Integer(),
            sa.ForeignKey("conversation.id", ondelete="SET NULL"),
        ),
        sa.UniqueConstraint("alert_id", "phone"),
    )
    op.create_index("ix_alert_recipient_state", "alert_recipient", ["alert_id", "state", "id"])
    op.create_index(
        "ix_alert_recipient_phone", "alert_recipient", ["tenant_id", "phone", "sent_at"]
    )
    op.create_index("ix_alert_recipient_sid", "alert_recipient", ["provider_sid"])
    op.create_table(
        "recipient_list",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "tenant_id",
            sa.Integer(),
            sa.ForeignKey("tenant.id", ondelete="CASCADE"),
            index=True,
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column(
            "entries", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.UniqueConstraint("tenant_id", "name"),
    )


def downgrade():
    op.drop_table("recipient_list")
    op.drop_table("alert_recipient")
    op.drop_table("alert")
    with op.batch_alter_table("membership") as batch:
        batch.drop_column("may_send_alerts")
