"""contact match suggestions (one citizen, many channels)

Revision ID: i5_web
Revises: i4_sms
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "i5_web"
down_revision = "i4_sms"
branch_labels = None
depends_on = None

T = "contact_match_suggestion"


def upgrade():
    op.create_table(
        T,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_a_id", sa.Integer(), nullable=False),
        sa.Column("contact_b_id", sa.Integer(), nullable=False),
        sa.Column(
            "reason",
            sa.Enum("certain", "likely", name="matchreason", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("matched_on", sa.String(length=16), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "confirmed",
                "rejected",
                "undone",
                name="matchstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("merge_record", JSON, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_a_id"],
            ["contact.id"],
            name=op.f("fk_contact_match_suggestion_contact_a_id_contact"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_b_id"],
            ["contact.id"],
            name=op.f("fk_contact_match_suggestion_contact_b_id_contact"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["user_account.id"],
            name=op.f("fk_contact_match_suggestion_decided_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
            name=op.f("fk_contact_match_suggestion_tenant_id_tenant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_match_suggestion")),
        sa.UniqueConstraint(
            "contact_a_id",
            "contact_b_id",
            name=op.f("uq_contact_match_suggestion_contact_a_id_contact_b_id"),
        ),
    )
    with op.batch_alter_table(T, schema=None) as batch_op:
        for col in ("contact_a_id", "contact_b_id", "tenant_id"):
            batch_op.create_index(batch_op.f(f"ix_{T}_{col}"), [col], unique=False)


def downgrade():
    with op.batch_alter_table(T, schema=None) as batch_op:
        for col in ("contact_a_id", "contact_b_id", "tenant_id"):
            batch_op.drop_index(batch_op.f(f"ix_{T}_{col}"))
    op.drop_table(T)
