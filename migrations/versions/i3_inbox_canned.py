"""canned replies per tenant

Revision ID: i3_inbox
Revises: i5_web
"""

import sqlalchemy as sa
from alembic import op

revision = "i3_inbox"
down_revision = "i5_web"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "canned_reply",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_canned_reply_created_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
            name=op.f("fk_canned_reply_tenant_id_tenant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_reply")),
        sa.UniqueConstraint("tenant_id", "title", name=op.f("uq_canned_reply_tenant_id_title")),
    )
    op.create_index(op.f("ix_canned_reply_tenant_id"), "canned_reply", ["tenant_id"])


def downgrade():
    op.drop_index(op.f("ix_canned_reply_tenant_id"), table_name="canned_reply")
    op.drop_table("canned_reply")
