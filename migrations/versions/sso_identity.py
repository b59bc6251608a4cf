"""staff single sign-on (OpenID Connect) per municipality, the accounts it links, and ID-porten

Citizens identified through ID-porten: what was verified (the identity number encrypted).
The new identity kind "idporten_pid" and match reason "idporten" fit the existing VARCHAR
enum columns, which carry no CHECK constraint.

Revision ID: sso_identity
Revises: instagram_accounts
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "sso_identity"
down_revision = "instagram_accounts"
branch_labels = None
depends_on = None


def upgrade():
    json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    op.create_table(
        "sso_config",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("client_secret_enc", sa.Text(), nullable=True),
        sa.Column("client_secret_env", sa.String(length=128), nullable=True),
        sa.Column("allowed_domains", json, nullable=False),
        sa.Column("groups_claim", sa.String(length=64), nullable=False),
        sa.Column("group_roles", json, nullable=False),
        sa.Column("group_teams", json, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name="fk_sso_config_tenant_id_tenant", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sso_config"),
        sa.UniqueConstraint("tenant_id", name="uq_sso_config_tenant_id"),
    )
    op.create_table(
        "sso_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("last_sign_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_claims", json, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name="fk_sso_link_user_id_user_account",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name="fk_sso_link_tenant_id_tenant", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sso_link"),
        sa.UniqueConstraint(
            "tenant_id", "issuer", "subject", name="uq_sso_link_tenant_id_issuer_subject"
        ),
    )
    op.create_index("ix_sso_link_user_id", "sso_link", ["user_id"])
    op.create_index("ix_sso_link_tenant_id", "sso_link", ["tenant_id"])
    op.create_table(
        "idporten_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("contact_identity_id", sa.Integer(), nullable=False),
        sa.Column("pid_enc", sa.Text(), nullable=False),
        sa.Column("acr", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
            name="fk_idporten_identity_tenant_id_tenant",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_identity_id"],
            ["contact_identity.id"],
            name="fk_idporten_identity_contact_identity_id_contact_identity",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_idporten_identity"),
        sa.UniqueConstraint("contact_identity_id", name="uq_idporten_identity_contact_identity_id"),
    )
    op.create_index("ix_idporten_identity_tenant_id", "idporten_identity", ["tenant_id"])


def downgrade():
    op.drop_index("ix_idporten_identity_tenant_id", table_name="idporten_identity")
    op.drop_table("idporten_identity")
    op.drop_index("ix_sso_link_tenant_id", table_name="sso_link")
    op.drop_index("ix_sso_link_user_id", table_name="sso_link")
    op.drop_table("sso_link")
    op.drop_table("sso_config")
