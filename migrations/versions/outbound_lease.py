"""outbound lease: a reply being sent is held for a while; a retry is due at a time

Revision ID: outbound_lease
Revises: staff_admin
"""

import sqlalchemy as sa
from alembic import op

revision = "outbound_lease"
down_revision = "staff_admin"
branch_labels = None
depends_on = None

UNSENT = "delivery_status IN ('queued', 'sending')"


def upgrade():
    with op.batch_alter_table("message") as batch:
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_message_unsent",
        "message",
        ["next_attempt_at", "sent_at"],
        postgresql_where=sa.text(UNSENT),
        sqlite_where=sa.text(UNSENT),
    )


def downgrade():
    op.drop_index("ix_message_unsent", table_name="message")
    with op.batch_alter_table("message") as batch:
        batch.drop_column("next_attempt_at")
