"""Statuses as CHECK-constrained enums; the provider's paid amount on an order; refunds that retry.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMES = ("rm", "rp", "flex")
CHANNELS = ("wechat", "alipay", "baidu", "etax-app", "etax-web", "window")
PROVIDERS = ("wechat", "alipay", "unionpay", "agreement")

# table -> [(constraint name, column, allowed values)]
CHECKS = {
    "enrolment": [("scheme", "scheme", SCHEMES), ("enrolment_status", "status", ("active", "ended"))],
    "base_declaration": [("base_source", "source", ("declared", "carried", "raised"))],
    "receivable": [
        ("scheme", "scheme", SCHEMES),
        ("receivable_status", "status", ("due", "declared", "paid")),
        ("charge_type", "charge_type", ("annual", "normal", "missed_enrolment", "policy_backpay", "other")),
    ],
    "declaration": [
        ("scheme", "scheme", SCHEMES),
        ("declaration_kind", "kind", ("normal", "special")),
        ("declaration_status", "status", ("declared", "paid", "void")),
        ("channel", "channel", CHANNELS),
    ],
    "payment_order": [
        ("provider", "provider", PROVIDERS),
        ("channel", "channel", CHANNELS),
        ("order_state", "state", ("created", "paying", "paid", "closed", "failed", "unapplied")),
    ],
    "settled_payment": [("channel", "channel", CHANNELS), ("provider", "method", PROVIDERS)],
    "refund": [("refund_state", "state", ("requested", "accepted", "rejected"))],
}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    # Rows written before: the old code stored 'normal' for flexible months and 'annual' for resident years.
    with op.batch_alter_table("payment_order") as b:
        b.add_column(sa.Column("paid_amount_fen", sa.Integer(), nullable=True))
    with op.batch_alter_table("refund") as b:
        b.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        b.add_column(sa.Column("last_error", sa.String(length=200), nullable=True))
        b.add_column(sa.Column("provider_refund_id", sa.String(length=64), nullable=True))
        b.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        b.create_index("ix_refund_state", ["state"], unique=False)
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table) as b:
            for name, column, values in checks:
                b.create_check_constraint(op.f(f"ck_{table}_{name}"), _in(column, values))


def downgrade() -> None:
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table) as b:
            for name, _column, _values in checks:
                b.drop_constraint(op.f(f"ck_{table}_{name}"), type_="check")
    with op.batch_alter_table("refund") as b:
        b.drop_index("ix_refund_state")
        for col in ("updated_at", "provider_refund_id", "last_error", "attempts"):
            b.drop_column(col)
    with op.batch_alter_table("payment_order") as b:
        b.drop_column("paid_amount_fen")
