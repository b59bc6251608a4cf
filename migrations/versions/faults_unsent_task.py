"""unsent task: tasks the broker did not take after a commit, for the sweeper to send again

Revision ID: faults_unsent_task
Revises: records_noark_rules
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "faults_unsent_task"
down_revision = "records_noark_rules"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade():
    op.create_table(
        "unsent_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("args", JSON, nullable=False),
        sa.Column("kwargs", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unsent_task")),
    )


def downgrade():
    op.drop_table("unsent_task")
