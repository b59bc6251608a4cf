"""staff sessions kept on the server: signing out ends a session, "sign out everywhere"

Revision ID: hostile_staff_sessions
Revises: deposit_close_period
"""

import sqlalchemy as sa
from alembic import op

revision = "hostile_staff_sessions"
down_revision = "deposit_close_period"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "staff_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("user_agent", sa.String(200), nullable=True),
        sa.Column("ip_address", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_staff_session"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name="fk_staff_session_user_id_user_account",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("token_hash", name="uq_staff_session_token_hash"),
    )
    op.create_index("ix_staff_session_user", "staff_session", ["user_id", "ended_at"])


def downgrade():
    op.drop_index("ix_staff_session_user", table_name="staff_session")
    op.drop_table("staff_session")
