"""SMS opt-out (STOP/START) on a contact's phone identity

Revision ID: i4_sms
Revises: 0001_initial
"""

import sqlalchemy as sa
from alembic import op

revision = "i4_sms"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("contact_identity") as batch:
        batch.add_column(sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("contact_identity") as batch:
        batch.drop_column("opted_out_at")
