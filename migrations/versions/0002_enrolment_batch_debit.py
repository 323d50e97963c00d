"""enrolment.batch_debit: the payer has a batch-debit agreement (R-FP-4)

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("enrolment") as batch_op:
        batch_op.add_column(sa.Column("batch_debit", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("enrolment") as batch_op:
        batch_op.drop_column("batch_debit")
