"""deposit: closing a period of the embedded journal, case status, and the change log

Revision ID: deposit_close_period
Revises: batch_match_norms
"""

import sqlalchemy as sa
from alembic import op

revision = "deposit_close_period"
down_revision = "batch_match_norms"
branch_labels = None
depends_on = None


def _tenant_fk(table):
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenant.id"], name=op.f(f"fk_{table}_tenant_id_tenant"), ondelete="CASCADE"
    )


def upgrade():
    op.create_table(
        "records_period",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("system_id", sa.String(length=36), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_by", sa.String(length=255), nullable=False),
        _tenant_fk("records_period"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records_period")),
        sa.UniqueConstraint("system_id", name=op.f("uq_records_period_system_id")),
        sa.UniqueConstraint("tenant_id", "number", name=op.f("uq_records_period_tenant_id_number")),
    )
    op.create_index(op.f("ix_records_period_tenant_id"), "records_period", ["tenant_id"])
    op.create_table(
        "records_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("system_id", sa.String(length=36), nullable=False),
        sa.Column("referanse_arkivenhet", sa.String(length=36), nullable=False),
        sa.Column("referanse_metadata", sa.String(length=64), nullable=False),
        sa.Column("endret_dato", sa.DateTime(timezone=True), nullable=False),
        sa.Column("endret_av", sa.String(length=255), nullable=False),
        sa.Column("tidligere_verdi", sa.String(length=255), nullable=False),
        sa.Column("ny_verdi", sa.String(length=255), nullable=False),
        _tenant_fk("records_change"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records_change")),
        sa.UniqueConstraint("system_id", name=op.f("uq_records_change_system_id")),
    )
    op.create_index(op.f("ix_records_change_tenant_id"), "records_change", ["tenant_id"])
    op.create_index(
        op.f("ix_records_change_referanse_arkivenhet"), "records_change", ["referanse_arkivenhet"]
    )
    with op.batch_alter_table("records_case") as batch:
        batch.add_column(
            sa.Column("saksstatus", sa.String(length=2), nullable=False, server_default="B")
        )
        batch.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("closed_by", sa.String(length=255), nullable=True))
    with op.batch_alter_table("records_case") as batch:
        batch.alter_column("saksstatus", server_default=None)
    with op.batch_alter_table("records_entry") as batch:
        batch.add_column(sa.Column("period_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_records_entry_period_id_records_period"),
            "records_period",
            ["period_id"],
            ["id"],
        )
        batch.create_index(op.f("ix_records_entry_period_id"), ["period_id"])


def downgrade():
    with op.batch_alter_table("records_entry") as batch:
        batch.drop_index(op.f("ix_records_entry_period_id"))
        batch.drop_constraint(op.f("fk_records_entry_period_id_records_period"), type_="foreignkey")
        batch.drop_column("period_id")
    with op.batch_alter_table("records_case") as batch:
        batch.drop_column("closed_by")
        batch.drop_column("closed_at")
        batch.drop_column("saksstatus")
    op.drop_table("records_change")
    op.drop_table("records_period")
