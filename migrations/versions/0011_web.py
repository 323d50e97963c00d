"""used_once: single-use values (记录查验 captcha nonces) spent once whichever worker sees them; attempt_count:
budgets of attempts counted in one row for every worker when there is no Redis (issue 17, D3 and D9).

Revision ID: 0011_web
Revises: 0010_money
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_web"
down_revision = "0010_money"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "used_once",
        sa.Column("key", sa.String(length=64), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_used_once_expires_at", "used_once", ["expires_at"])
    op.create_table(
        "attempt_count",
        sa.Column("key", sa.String(length=200), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("window_ends", sa.Float(), nullable=False),
    )
    op.create_index("ix_attempt_count_window_ends", "attempt_count", ["window_ends"])


def downgrade() -> None:
    op.drop_index("ix_attempt_count_window_ends", table_name="attempt_count")
    op.drop_table("attempt_count")
    op.drop_index("ix_used_once_expires_at", table_name="used_once")
    op.drop_table("used_once")
