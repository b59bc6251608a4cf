"""api tokens for /api/v1, and tags on conversations

Revision ID: api_tokens
Revises: ingest_events
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "api_tokens"
down_revision = "ingest_events"
branch_labels = None
depends_on = None


def upgrade():
    json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("lookup_id", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", json, nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name="fk_api_token_created_by_id_user_account",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name="fk_api_token_tenant_id_tenant", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_api_token"),
        sa.UniqueConstraint("lookup_id", name="uq_api_token_lookup_id"),
    )
    op.create_index("ix_api_token_tenant_id", "api_token", ["tenant_id"])
    op.create_table(
        "tag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name="fk_tag_tenant_id_tenant", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_tag"),
        sa.UniqueConstraint("tenant_id", "name", name="uq_tag_tenant_id_name"),
    )
    op.create_index("ix_tag_tenant_id", "tag", ["tenant_id"])
    op.create_table(
        "conversation_tag",
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversation.id"],
            name="fk_conversation_tag_conversation_id_conversation",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"], ["tag.id"], name="fk_conversation_tag_tag_id_tag", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("conversation_id", "tag_id", name="pk_conversation_tag"),
    )
    op.create_index("ix_conversation_tag_tag_id", "conversation_tag", ["tag_id"])


def downgrade():
    op.drop_index("ix_conversation_tag_tag_id", table_name="conversation_tag")
    op.drop_table("conversation_tag")
    op.drop_index("ix_tag_tenant_id", table_name="tag")
    op.drop_table("tag")
    op.drop_index("ix_api_token_tenant_id", table_name="api_token")
    op.drop_table("api_token")
