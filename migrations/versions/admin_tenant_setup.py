"""Administration without a shell: encrypted secrets, regional admins, deactivated
municipalities, routing rules and automatic assignment

Revision ID: admin_tenant_setup
Revises: instagram_accounts
"""

import sqlalchemy as sa
from alembic import op

revision = "admin_tenant_setup"
down_revision = "sso_identity"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "stored_secret",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "tenant_id",
            sa.Integer(),
            sa.ForeignKey("tenant.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("owner_type", sa.String(length=32), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "changed_by_id",
            sa.Integer(),
            sa.ForeignKey("user_account.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("owner_type", "owner_id", "name"),
    )
    with op.batch_alter_table("user_account") as batch:
        batch.add_column(
            sa.Column("is_regional_admin", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("is_available", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table("tenant") as batch:
        batch.add_column(
            sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("team") as batch:
        batch.add_column(
            sa.Column("auto_assign", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("max_open_per_member", sa.Integer(), nullable=False, server_default="10")
        )
        batch.add_column(sa.Column("last_assigned_user_id", sa.Integer(), nullable=True))
    op.create_table(
        "routing_rule",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "tenant_id",
            sa.Integer(),
            sa.ForeignKey("tenant.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("channel_kind", sa.String(length=32), nullable=True),
        sa.Column("keyword", sa.String(length=100), nullable=True),
        sa.Column("phone_prefix", sa.String(length=16), nullable=True),
        sa.Column(
            "team_id",
            sa.Integer(),
            sa.ForeignKey("team.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("routing_rule")
    with op.batch_alter_table("team") as batch:
        batch.drop_column("last_assigned_user_id")
        batch.drop_column("max_open_per_member")
        batch.drop_column("auto_assign")
    with op.batch_alter_table("tenant") as batch:
        batch.drop_column("deactivated_at")
        batch.drop_column("is_active")
    with op.batch_alter_table("user_account") as batch:
        batch.drop_column("is_available")
        batch.drop_column("is_regional_admin")
    op.drop_table("stored_secret")
