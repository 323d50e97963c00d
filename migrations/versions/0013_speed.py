"""The batch debit at Beijing's scale (issue 21): each chunk finds its run's debits by agreement through an index, and
claims pending rows in id order straight from an index, instead of scanning the run (quadratic at 1 000 000).

Revision ID: 0013_speed
Revises: 0012_fidelity
"""

from alembic import op

revision = "0013_speed"
down_revision = "0012_fidelity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_batch_debit_run_agreement", "batch_debit", ["run_id", "agreement_id"])
    op.drop_index("ix_batch_work_run_state", table_name="batch_work")
    op.create_index("ix_batch_work_run_state_id", "batch_work", ["run_id", "state", "id"])


def downgrade() -> None:
    op.drop_index("ix_batch_work_run_state_id", table_name="batch_work")
    op.create_index("ix_batch_work_run_state", "batch_work", ["run_id", "state"])
    op.drop_index("ix_batch_debit_run_agreement", table_name="batch_debit")
