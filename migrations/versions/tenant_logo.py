"""A municipality's logo (set on its profile page)

Revision ID: tenant_logo
Revises: alerts_sms_alerts
"""

import sqlalchemy as sa
from alembic import op

revision = "tenant_logo"
down_revision = "alerts_sms_alerts"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "tenant_logo",
        sa.Column(
            "tenant_id",
            sa.Integer(),
            sa.ForeignKey("tenant.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("png", sa.LargeBinary(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("tenant_logo")
