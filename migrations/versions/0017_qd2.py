"""税税通 · 社保费完税证明 (issue 19 item 5, R-QD-7): a certificate carries its region (issuer, title, number
prefixes from ``domain.regions``) and, when issued for another person, who issued it; 云闪付's base choice says
whether it may be used for batch debit (是否允许用于批扣, R-QD-8).

Revision ID: 0017_qd2
Revises: 0016_qingdao
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_qd2"
down_revision = "0016_qingdao"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("certificate") as b:
        b.add_column(sa.Column("region", sa.String(20), nullable=False, server_default="beijing"))
        b.add_column(sa.Column("issuer_id", sa.Integer(), nullable=True))
        b.create_foreign_key("fk_certificate_issuer_id_person", "person", ["issuer_id"], ["id"])
        b.create_index("ix_certificate_issuer_id", ["issuer_id"])
    with op.batch_alter_table("qd_base_choice") as b:
        b.add_column(sa.Column("batch_debit", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("qd_base_choice") as b:
        b.drop_column("batch_debit")
    with op.batch_alter_table("certificate") as b:
        b.drop_index("ix_certificate_issuer_id")
        b.drop_constraint("fk_certificate_issuer_id_person", type_="foreignkey")
        b.drop_column("issuer_id")
        b.drop_column("region")
