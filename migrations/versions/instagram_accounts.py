"""Instagram professional accounts: the Facebook page each is linked to

An Instagram account is stored like a Facebook page (channel_account rows of kind "instagram"
and "instagram_comments" with the Instagram account id as external_id, secrets by env-var
reference); its direct messages are sent and read through the linked page. The new kinds
("instagram", "instagram_comments", identity "instagram_igsid") fit the existing VARCHAR(32)
enum columns, which carry no CHECK constraint.

Revision ID: instagram_accounts
Revises: ingest_events
"""

import sqlalchemy as sa
from alembic import op

revision = "instagram_accounts"
down_revision = "api_tokens"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("channel_account") as batch:
        batch.add_column(sa.Column("linked_page_id", sa.String(length=64), nullable=True))
        batch.create_index("ix_channel_account_linked_page_id", ["linked_page_id"], unique=False)


def downgrade():
    with op.batch_alter_table("channel_account") as batch:
        batch.drop_index("ix_channel_account_linked_page_id")
        batch.drop_column("linked_page_id")
