"""agreement.resign_from: an agreement made 失效 by a change of 社保经办机构 may be signed again only from the
day after the 8th of the next month (seed 000 Q52(2), R-AG-8; docs/policy.md).

Revision ID: 0012_fidelity
Revises: 0011_web
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_fidelity"
down_revision = "0011_web"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agreement") as batch_op:
        batch_op.add_column(sa.Column("resign_from", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agreement") as batch_op:
        batch_op.drop_column("resign_from")
