"""records: Noark 5 rules - screening stored as M502 codes, journal number counters, the
message's own date and the caseworker on each embedded journal entry

Revision ID: records_noark_rules
Revises: privacy_retention
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "records_noark_rules"
down_revision = "privacy_retention"
branch_labels = None
depends_on = None

# Free text (and the old tokens korrespondansepartNavn / tittelRegistrering) -> M502 codes.
_WORDS = [
    (r"midlertidig|temporar", {"M"}),
    (r"tittelregistrering|tittel|title", {"TRO"}),
    (r"dokument|document", {"TD"}),
    (r"avsender|sender", {"NA"}),
    (r"mottaker|recipient", {"NM"}),
]
_CODES = {"KID", "TKL", "TM1", "TMO", "NPS", "TR1", "TRO", "NA", "NM", "TD", "MT", "M"}


def to_codes(text):
    """The M502 codes a free-text "what is screened" meant. A name with no side named screens
    both names; text that names nothing known screens title and names (an empty value)."""
    if not text:
        return ""
    raw = [t.strip() for t in str(text).split(",")]
    if raw and all(t in _CODES for t in raw if t):
        return ",".join(sorted({t for t in raw if t}))
    low = str(text).lower()
    codes = set()
    for pattern, found in _WORDS:
        if re.search(pattern, low):
            codes |= found
    if re.search(r"navn|name", low) and not codes & {"NA", "NM"}:
        codes |= {"NA", "NM"}
    return ",".join(sorted(codes))


def upgrade():
    conn = op.get_bind()
    item = sa.table("archive_item", sa.column("id"), sa.column("screening_fields"))
    for row in conn.execute(sa.select(item.c.id, item.c.screening_fields)).all():
        if row.screening_fields:
            value = to_codes(row.screening_fields) or None
            conn.execute(sa.update(item).where(item.c.id == row.id).values(screening_fields=value))
    entry = sa.table("records_entry", sa.column("id"), sa.column("screening", sa.JSON))
    for row in conn.execute(sa.select(entry.c.id, entry.c.screening)).all():
        screening = dict(row.screening or {})
        if screening.get("skjermingMetadata"):
            screening["skjermingMetadata"] = to_codes(screening["skjermingMetadata"])
            conn.execute(sa.update(entry).where(entry.c.id == row.id).values(screening=screening))

    with op.batch_alter_table("records_entry") as batch:
        batch.add_column(sa.Column("document_date", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("created_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("public_title", sa.String(length=300), nullable=True))

    op.create_table(
        "records_counter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("series", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
            name=op.f("fk_records_counter_tenant_id_tenant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records_counter")),
        sa.UniqueConstraint(
            "tenant_id", "series", name=op.f("uq_records_counter_tenant_id_series")
        ),
    )
    op.create_index(op.f("ix_records_counter_tenant_id"), "records_counter", ["tenant_id"])
    # The series continue from the numbers already given.
    op.execute(
        "INSERT INTO records_counter (tenant_id, series, value) "
        "SELECT tenant_id, 'sak/' || CAST(saksaar AS VARCHAR), MAX(sakssekvensnummer) "
        "FROM records_case GROUP BY tenant_id, saksaar"
    )
    op.execute(
        "INSERT INTO records_counter (tenant_id, series, value) "
        "SELECT tenant_id, 'journal/' || CAST(journalaar AS VARCHAR), MAX(journalsekvensnummer) "
        "FROM records_entry GROUP BY tenant_id, journalaar"
    )
    op.execute(
        "INSERT INTO records_counter (tenant_id, series, value) "
        "SELECT tenant_id, 'case/' || CAST(case_id AS VARCHAR), MAX(journalpostnummer) "
        "FROM records_entry GROUP BY tenant_id, case_id"
    )


def downgrade():
    op.drop_index(op.f("ix_records_counter_tenant_id"), table_name="records_counter")
    op.drop_table("records_counter")
    with op.batch_alter_table("records_entry") as batch:
        batch.drop_column("public_title")
        batch.drop_column("created_by")
        batch.drop_column("document_date")
