"""staff administration: users must replace a temporary password

Revision ID: staff_admin
Revises: i3_search
"""

import sqlalchemy as sa
from alembic import op

revision = "staff_admin"
down_revision = "i3_search"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user_account") as batch:
        batch.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def downgrade():
    with op.batch_alter_table("user_account") as batch:
        batch.drop_column("must_change_password")
