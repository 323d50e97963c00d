"""base_declaration.cycle: the payment cycle is declared with the base for one contribution year and
applies from its July (R-FB-8); existing rows take the cycle their enrolment holds today.

Revision ID: 0008_flex
Revises: 0007_trust
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_flex"
down_revision = "0007_trust"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("base_declaration") as batch_op:
        batch_op.add_column(sa.Column("cycle", sa.String(length=12), server_default="monthly", nullable=False))
    op.execute(
        "UPDATE base_declaration SET cycle = (SELECT e.pay_cycle FROM enrolment e "
        "WHERE e.id = base_declaration.enrolment_id AND e.pay_cycle IS NOT NULL) "
        "WHERE source = 'declared' AND EXISTS (SELECT 1 FROM enrolment e "
        "WHERE e.id = base_declaration.enrolment_id AND e.pay_cycle IS NOT NULL)"
    )


def downgrade() -> None:
    with op.batch_alter_table("base_declaration") as batch_op:
        batch_op.drop_column("cycle")
