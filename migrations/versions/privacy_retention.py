"""privacy: retention settings per municipality, anonymised conversations and contacts,
who may reveal identity numbers

Revision ID: privacy_retention
Revises: outbound_lease
"""

import sqlalchemy as sa
from alembic import op

revision = "privacy_retention"
down_revision = "outbound_lease"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("tenant") as batch:
        # Existing municipalities keep the retention they had (closed conversations, on).
        batch.add_column(
            sa.Column("retention_enabled", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(sa.Column("retention_open_days", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("retention_contact_days", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("retention_attachment_days", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("retention_mode", sa.String(16), nullable=False, server_default="delete")
        )
        batch.add_column(
            sa.Column(
                "caseworkers_may_reveal", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    with op.batch_alter_table("conversation") as batch:
        batch.add_column(sa.Column("anonymised_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("contact") as batch:
        batch.add_column(sa.Column("anonymised_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("contact") as batch:
        batch.drop_column("anonymised_at")
    with op.batch_alter_table("conversation") as batch:
        batch.drop_column("anonymised_at")
    with op.batch_alter_table("tenant") as batch:
        for name in (
            "caseworkers_may_reveal",
            "retention_mode",
            "retention_attachment_days",
            "retention_open_days",
            "retention_contact_days",
            "retention_enabled",
        ):
            batch.drop_column(name)
