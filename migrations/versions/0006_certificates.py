"""Treasury posting on paid items (入(退)库日期, 电子税票号码) and payment certificates (R-CE-2 … R-CE-6).

Revision ID: 0006_certificates
Revises: 0005_agreements
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_certificates"
down_revision = "0005_agreements"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("settled_payment") as b:
        b.add_column(sa.Column("posted_on", sa.Date(), nullable=True))
        b.add_column(sa.Column("e_ticket_no", sa.String(length=20), nullable=True))
        b.create_index(b.f("ix_settled_payment_posted_on"), ["posted_on"], unique=False)
        b.create_unique_constraint(b.f("uq_settled_payment_e_ticket_no"), ["e_ticket_no"])

    op.create_table(
        "certificate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payer_id", sa.Integer(), nullable=False),
        sa.Column("tax_office", sa.String(length=100), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("number", sa.String(length=24), nullable=True),
        sa.Column("check_code", sa.String(length=16), nullable=False),
        sa.Column("total_fen", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("failure_reason", sa.String(length=200), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("page_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.CheckConstraint("status IN ('making', 'made', 'failed')", name=op.f("ck_certificate_certificate_status")),
        sa.ForeignKeyConstraint(["payer_id"], ["person.id"], name=op.f("fk_certificate_payer_id_person")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate")),
        sa.UniqueConstraint("check_code", name=op.f("uq_certificate_check_code")),
        sa.UniqueConstraint("number", name=op.f("uq_certificate_number")),
    )
    with op.batch_alter_table("certificate") as b:
        b.create_index(b.f("ix_certificate_payer_id"), ["payer_id"], unique=False)
        b.create_index(b.f("ix_certificate_requested_at"), ["requested_at"], unique=False)
        b.create_index(b.f("ix_certificate_status"), ["status"], unique=False)

    op.create_table(
        "certificate_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("settled_payment_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["certificate_id"], ["certificate.id"], name=op.f("fk_certificate_item_certificate_id_certificate")
        ),
        sa.ForeignKeyConstraint(
            ["settled_payment_id"],
            ["settled_payment.id"],
            name=op.f("fk_certificate_item_settled_payment_id_settled_payment"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate_item")),
        sa.UniqueConstraint(
            "certificate_id", "settled_payment_id", name=op.f("uq_certificate_item_certificate_id_settled_payment_id")
        ),
    )
    with op.batch_alter_table("certificate_item") as b:
        b.create_index(b.f("ix_certificate_item_certificate_id"), ["certificate_id"], unique=False)

    op.create_table(
        "certificate_page",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("page_no", sa.Integer(), nullable=False),
        sa.Column("png", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["certificate_id"], ["certificate.id"], name=op.f("fk_certificate_page_certificate_id_certificate")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate_page")),
        sa.UniqueConstraint("certificate_id", "page_no", name=op.f("uq_certificate_page_certificate_id_page_no")),
    )


def downgrade() -> None:
    op.drop_table("certificate_page")
    op.drop_table("certificate_item")
    op.drop_table("certificate")
    with op.batch_alter_table("settled_payment") as b:
        b.drop_constraint(b.f("uq_settled_payment_e_ticket_no"), type_="unique")
        b.drop_index(b.f("ix_settled_payment_posted_on"))
        b.drop_column("e_ticket_no")
        b.drop_column("posted_on")
