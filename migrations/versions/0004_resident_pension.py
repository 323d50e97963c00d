"""Resident pension amounts (批量扣款缴费金额设置 / 作废, R-RP-1): what the batch debit reads.

Revision ID: 0004_resident_pension
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_resident_pension"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pension_amount",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enrolment_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("insurance", sa.String(length=20), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("receivable_id", sa.Integer(), nullable=True),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('active', 'replaced', 'void')", name=op.f("ck_pension_amount_pension_amount_status")
        ),
        sa.CheckConstraint("source IN ('set', 'carried')", name=op.f("ck_pension_amount_pension_amount_source")),
        sa.ForeignKeyConstraint(
            ["enrolment_id"], ["enrolment.id"], name=op.f("fk_pension_amount_enrolment_id_enrolment")
        ),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_pension_amount_person_id_person")),
        sa.ForeignKeyConstraint(
            ["receivable_id"], ["receivable.id"], name=op.f("fk_pension_amount_receivable_id_receivable")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pension_amount")),
    )
    with op.batch_alter_table("pension_amount") as b:
        b.create_index(b.f("ix_pension_amount_enrolment_id"), ["enrolment_id"], unique=False)
        b.create_index(b.f("ix_pension_amount_person_id"), ["person_id"], unique=False)
        b.create_index(
            "uq_pension_amount_active_per_year",
            ["enrolment_id", "insurance", "year"],
            unique=True,
            postgresql_where=sa.text("status = 'active'"),
            sqlite_where=sa.text("status = 'active'"),
        )


def downgrade() -> None:
    op.drop_table("pension_amount")
