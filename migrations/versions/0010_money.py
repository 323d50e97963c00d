"""Money that settles nothing goes back, confirmed (issue 17 D1): refunds are requested → processing →
succeeded (with the date) or void; batch-debit workers are recorded with their host, process and heartbeat,
so a rerun takes a dead worker's claims over at once (issue 17 D7).

Revision ID: 0010_money
Revises: 0008_flex
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_money"
down_revision = "0008_flex"
branch_labels = None
depends_on = None

NEW_STATES = ("requested", "processing", "succeeded", "void")
OLD_STATES = ("requested", "accepted", "rejected")


def _in(values: tuple[str, ...]) -> str:
    return f"state IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    with op.batch_alter_table("refund") as b:
        b.drop_constraint(op.f("ck_refund_refund_state"), type_="check")
        b.add_column(sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True))
    # An accepted refund was one the provider took (the simulations finished them at once); a rejected one was
    # asked on what a message claimed and never retried: it is owed again, and the sender now asks the provider
    # what it really took (void when nothing).
    op.execute(
        "UPDATE refund SET state = 'succeeded', refunded_at = COALESCE(updated_at, created_at) WHERE state = 'accepted'"
    )
    op.execute("UPDATE refund SET state = 'requested' WHERE state = 'rejected'")
    with op.batch_alter_table("refund") as b:
        b.create_check_constraint(op.f("ck_refund_refund_state"), _in(NEW_STATES))
    op.create_table(
        "batch_worker",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("host", sa.String(length=100), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("proc_start", sa.String(length=30), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["batch_run.id"], name=op.f("fk_batch_worker_run_id_batch_run")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_worker")),
    )
    with op.batch_alter_table("batch_worker") as b:
        b.create_index(b.f("ix_batch_worker_run_id"), ["run_id"], unique=False)
    with op.batch_alter_table("batch_work") as b:
        b.add_column(sa.Column("worker_id", sa.Integer(), nullable=True))
        b.create_foreign_key(b.f("fk_batch_work_worker_id_batch_worker"), "batch_worker", ["worker_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("batch_work") as b:
        b.drop_constraint(b.f("fk_batch_work_worker_id_batch_worker"), type_="foreignkey")
        b.drop_column("worker_id")
    with op.batch_alter_table("batch_worker") as b:
        b.drop_index(b.f("ix_batch_worker_run_id"))
    op.drop_table("batch_worker")
    with op.batch_alter_table("refund") as b:
        b.drop_constraint(op.f("ck_refund_refund_state"), type_="check")
    op.execute("UPDATE refund SET state = 'accepted' WHERE state = 'succeeded'")
    op.execute("UPDATE refund SET state = 'rejected' WHERE state IN ('processing', 'void')")
    with op.batch_alter_table("refund") as b:
        b.drop_column("refunded_at")
        b.create_check_constraint(op.f("ck_refund_refund_state"), _in(OLD_STATES))
