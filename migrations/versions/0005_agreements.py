"""Debit agreements (缴费协议) and the batch debit (批量扣款): agreements, batch runs, their work queue and
debits; a receivable taken by a debit in progress; a settled payment by an order or by a batch debit;
the 'batch' channel; enrolment.batch_debit (a placeholder) gives way to agreements.

Revision ID: 0005_agreements
Revises: 0004_resident_pension
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_agreements"
down_revision = "0004_resident_pension"
branch_labels = None
depends_on = None

OLD_CHANNELS = ("wechat", "alipay", "baidu", "etax-app", "etax-web", "window")
CHANNELS = (*OLD_CHANNELS, "batch")
CHANNEL_TABLES = ("declaration", "payment_order", "settled_payment")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _channels(values: tuple[str, ...]) -> None:
    for table in CHANNEL_TABLES:
        with op.batch_alter_table(table) as b:
            b.drop_constraint(op.f(f"ck_{table}_channel"), type_="check")
            b.create_check_constraint(op.f(f"ck_{table}_channel"), _in("channel", values))


def upgrade() -> None:
    op.create_table(
        "agreement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_no", sa.String(length=40), nullable=False),
        sa.Column("payer_id", sa.Integer(), nullable=False),
        sa.Column("tax_office", sa.String(length=100), nullable=False),
        sa.Column("si_agency", sa.String(length=100), nullable=False),
        sa.Column("bank", sa.String(length=12), nullable=False),
        sa.Column("bank_region", sa.String(length=40), nullable=False),
        sa.Column("branch", sa.String(length=80), nullable=False),
        sa.Column("holder", sa.String(length=60), nullable=False),
        sa.Column("account_masked", sa.String(length=30), nullable=False),
        sa.Column("account_digest", sa.String(length=64), nullable=False),
        sa.Column("batch_debit", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=200), nullable=True),
        sa.CheckConstraint("status IN ('signed', 'revoked', 'invalid')", name=op.f("ck_agreement_agreement_status")),
        sa.ForeignKeyConstraint(["payer_id"], ["person.id"], name=op.f("fk_agreement_payer_id_person")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement")),
        sa.UniqueConstraint("agreement_no", name=op.f("uq_agreement_agreement_no")),
    )
    with op.batch_alter_table("agreement") as b:
        b.create_index(b.f("ix_agreement_payer_id"), ["payer_id"], unique=False)
        b.create_index(b.f("ix_agreement_status"), ["status"], unique=False)
    op.create_table(
        "batch_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_date", sa.Date(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_run")),
        sa.UniqueConstraint("batch_date", name=op.f("uq_batch_run_batch_date")),
    )
    op.create_table(
        "batch_work",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("claimed_by", sa.String(length=40), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('pending', 'claimed', 'done')", name=op.f("ck_batch_work_batch_work_state")),
        sa.ForeignKeyConstraint(["agreement_id"], ["agreement.id"], name=op.f("fk_batch_work_agreement_id_agreement")),
        sa.ForeignKeyConstraint(["run_id"], ["batch_run.id"], name=op.f("fk_batch_work_run_id_batch_run")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_work")),
        sa.UniqueConstraint("run_id", "agreement_id", name=op.f("uq_batch_work_run_id_agreement_id")),
    )
    with op.batch_alter_table("batch_work") as b:
        b.create_index("ix_batch_work_run_state", ["run_id", "state"], unique=False)
    op.create_table(
        "batch_debit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("payer_id", sa.Integer(), nullable=False),
        sa.Column("debit_no", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("receivable_ids", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=True),
        sa.Column("bank_txn", sa.String(length=40), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('planned', 'succeeded', 'failed')", name=op.f("ck_batch_debit_batch_debit_state")
        ),
        sa.ForeignKeyConstraint(["agreement_id"], ["agreement.id"], name=op.f("fk_batch_debit_agreement_id_agreement")),
        sa.ForeignKeyConstraint(["payer_id"], ["person.id"], name=op.f("fk_batch_debit_payer_id_person")),
        sa.ForeignKeyConstraint(["run_id"], ["batch_run.id"], name=op.f("fk_batch_debit_run_id_batch_run")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_debit")),
        sa.UniqueConstraint("debit_no", name=op.f("uq_batch_debit_debit_no")),
    )
    with op.batch_alter_table("batch_debit") as b:
        b.create_index(b.f("ix_batch_debit_run_id"), ["run_id"], unique=False)
        b.create_index(b.f("ix_batch_debit_payer_id"), ["payer_id"], unique=False)
        b.create_index(b.f("ix_batch_debit_state"), ["state"], unique=False)
    with op.batch_alter_table("receivable") as b:
        b.add_column(sa.Column("batch_debit_id", sa.Integer(), nullable=True))
        b.create_foreign_key(b.f("fk_receivable_batch_debit_id_batch_debit"), "batch_debit", ["batch_debit_id"], ["id"])
        # The batch debit rewrites status and batch_debit_id on many rows: unindexed, with room left on each
        # page, PostgreSQL updates them in place (HOT) instead of touching every index.
        b.drop_index(b.f("ix_receivable_status"))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE receivable SET (fillfactor = 80)")
    with op.batch_alter_table("settled_payment") as b:
        b.alter_column("order_id", existing_type=sa.Integer(), nullable=True)
        b.add_column(sa.Column("batch_debit_id", sa.Integer(), nullable=True))
        b.create_foreign_key(
            b.f("fk_settled_payment_batch_debit_id_batch_debit"), "batch_debit", ["batch_debit_id"], ["id"]
        )
        b.create_index(b.f("ix_settled_payment_batch_debit_id"), ["batch_debit_id"], unique=False)
        b.create_check_constraint(
            op.f("ck_settled_payment_paid_by_one"), "(order_id IS NULL) != (batch_debit_id IS NULL)"
        )
    _channels(CHANNELS)
    with op.batch_alter_table("enrolment") as b:
        b.drop_column("batch_debit")


def downgrade() -> None:
    with op.batch_alter_table("enrolment") as b:
        b.add_column(sa.Column("batch_debit", sa.Boolean(), server_default=sa.false(), nullable=False))
    _channels(OLD_CHANNELS)
    with op.batch_alter_table("settled_payment") as b:
        b.drop_constraint(op.f("ck_settled_payment_paid_by_one"), type_="check")
        b.drop_index(b.f("ix_settled_payment_batch_debit_id"))
        b.drop_constraint(b.f("fk_settled_payment_batch_debit_id_batch_debit"), type_="foreignkey")
        b.drop_column("batch_debit_id")
        b.alter_column("order_id", existing_type=sa.Integer(), nullable=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE receivable RESET (fillfactor)")
    with op.batch_alter_table("receivable") as b:
        b.create_index(b.f("ix_receivable_status"), ["status"], unique=False)
        b.drop_constraint(b.f("fk_receivable_batch_debit_id_batch_debit"), type_="foreignkey")
        b.drop_column("batch_debit_id")
    op.drop_table("batch_debit")
    op.drop_table("batch_work")
    op.drop_table("batch_run")
    op.drop_table("agreement")
