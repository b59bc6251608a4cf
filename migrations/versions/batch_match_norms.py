"""normalised phone, e-mail and name columns for contact matching, indexed and backfilled

Revision ID: batch_match_norms
Revises: faults_unsent_task
"""

import sqlalchemy as sa
from alembic import op

from inbox.normalise import identity_norm, normalise_email, normalise_name, normalise_phone

revision = "batch_match_norms"
down_revision = "faults_unsent_task"
branch_labels = None
depends_on = None

PAGE = 2000


def upgrade():
    with op.batch_alter_table("contact") as batch:
        batch.add_column(sa.Column("phone_norm", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("email_norm", sa.String(length=254), nullable=True))
        batch.add_column(sa.Column("name_norm", sa.Text(), nullable=True))
    with op.batch_alter_table("contact_identity") as batch:
        batch.add_column(sa.Column("value_norm", sa.String(length=254), nullable=True))
    _backfill()
    op.create_index("ix_contact_phone_norm", "contact", ["tenant_id", "phone_norm"])
    op.create_index("ix_contact_email_norm", "contact", ["tenant_id", "email_norm"])
    op.create_index("ix_contact_name_norm", "contact", ["tenant_id", "name_norm"])
    op.create_index("ix_contact_identity_norm", "contact_identity", ["tenant_id", "value_norm"])


def _backfill():
    conn = op.get_bind()
    contact = sa.table(
        "contact",
        sa.column("id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("phone", sa.String),
        sa.column("email", sa.String),
        sa.column("phone_norm", sa.String),
        sa.column("email_norm", sa.String),
        sa.column("name_norm", sa.Text),
    )
    set_contact = (
        contact.update()
        .where(contact.c.id == sa.bindparam("b_id"))
        .values(
            phone_norm=sa.bindparam("b_phone"),
            email_norm=sa.bindparam("b_email"),
            name_norm=sa.bindparam("b_name"),
        )
    )
    last = 0
    while True:
        rows = conn.execute(
            sa.select(contact.c.id, contact.c.name, contact.c.phone, contact.c.email)
            .where(contact.c.id > last)
            .order_by(contact.c.id)
            .limit(PAGE)
        ).all()
        if not rows:
            break
        last = rows[-1].id
        params = [
            {
                "b_id": r.id,
                "b_phone": normalise_phone(r.phone),
                "b_email": normalise_email(r.email),
                "b_name": normalise_name(r.name),
            }
            for r in rows
        ]
        params = [p for p in params if p["b_phone"] or p["b_email"] or p["b_name"]]
        if params:
            conn.execute(set_contact, params)

    ident = sa.table(
        "contact_identity",
        sa.column("id", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("value", sa.String),
        sa.column("value_norm", sa.String),
    )
    set_ident = (
        ident.update()
        .where(ident.c.id == sa.bindparam("b_id"))
        .values(value_norm=sa.bindparam("b_norm"))
    )
    last = 0
    while True:
        rows = conn.execute(
            sa.select(ident.c.id, ident.c.kind, ident.c.value)
            .where(ident.c.id > last, ident.c.kind.in_(("phone", "email")))
            .order_by(ident.c.id)
            .limit(PAGE)
        ).all()
        if not rows:
            break
        last = rows[-1].id
        params = [{"b_id": r.id, "b_norm": identity_norm(r.kind, r.value)} for r in rows]
        params = [p for p in params if p["b_norm"]]
        if params:
            conn.execute(set_ident, params)


def downgrade():
    op.drop_index("ix_contact_identity_norm", table_name="contact_identity")
    op.drop_index("ix_contact_name_norm", table_name="contact")
    op.drop_index("ix_contact_email_norm", table_name="contact")
    op.drop_index("ix_contact_phone_norm", table_name="contact")
    with op.batch_alter_table("contact_identity") as batch:
        batch.drop_column("value_norm")
    with op.batch_alter_table("contact") as batch:
        batch.drop_column("name_norm")
        batch.drop_column("email_norm")
        batch.drop_column("phone_norm")
