"""Qingdao, the second region (issue 19): 个人参保编号 with their 险种类型 (qd_insured), the bases chosen for the
bureau's queue (qd_base_choice), the scheme ``qd`` and Qingdao's five channels in the CHECK constraints.

Revision ID: 0016_qingdao
Revises: 0013_speed
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_qingdao"
down_revision = "0013_speed"
branch_labels = None
depends_on = None

OLD_SCHEMES = ("rm", "rp", "flex")
SCHEMES = (*OLD_SCHEMES, "qd")
SCHEME_TABLES = ("enrolment", "receivable", "declaration")
OLD_CHANNELS = ("wechat", "alipay", "baidu", "etax-app", "etax-web", "window", "batch")
CHANNELS = (*OLD_CHANNELS, "qd-wechat", "qd-city", "qd-alipay", "qd-sst", "qd-unionpay")
CHANNEL_TABLES = ("declaration", "payment_order", "settled_payment")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _checks(schemes: tuple[str, ...], channels: tuple[str, ...]) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _sqlite_foreign_keys(False)
    for table in sorted(set(SCHEME_TABLES) | set(CHANNEL_TABLES)):
        with op.batch_alter_table(table) as b:
            if table in SCHEME_TABLES:
                b.drop_constraint(op.f(f"ck_{table}_scheme"), type_="check")
                b.create_check_constraint(op.f(f"ck_{table}_scheme"), _in("scheme", schemes))
            if table in CHANNEL_TABLES:
                b.drop_constraint(op.f(f"ck_{table}_channel"), type_="check")
                b.create_check_constraint(op.f(f"ck_{table}_channel"), _in("channel", channels))
    if sqlite:
        broken = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"0016_qingdao: foreign keys broken by the table rebuild: {broken[:5]}")
        _sqlite_foreign_keys(True)


def _sqlite_foreign_keys(on: bool) -> None:
    """SQLite changes a CHECK by rebuilding the table (copy, drop, rename); with foreign keys enforced, dropping
    declaration while declaration_item and payment_order rows point at it fails (deferring them does not help: the
    drop's implicit delete is counted as a violation). SQLite's own procedure for a rebuild turns them off first,
    which only works outside a transaction: commit what ran so far, switch, and begin again (the caller checks
    ``PRAGMA foreign_key_check`` before switching them back on)."""
    bind = op.get_bind()
    bind.exec_driver_sql("COMMIT")
    bind.exec_driver_sql(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")
    bind.exec_driver_sql("BEGIN IMMEDIATE")


def upgrade() -> None:
    _checks(SCHEMES, CHANNELS)
    op.create_table(
        "qd_insured",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("insured_no", sa.String(length=30), nullable=False),
        sa.Column("enrolment_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("insurance", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("insurance IN ('pension', 'medical')", name=op.f("ck_qd_insured_qd_insurance")),
        sa.ForeignKeyConstraint(["enrolment_id"], ["enrolment.id"], name=op.f("fk_qd_insured_enrolment_id_enrolment")),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_qd_insured_person_id_person")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qd_insured")),
        sa.UniqueConstraint("enrolment_id", "insurance", name=op.f("uq_qd_insured_enrolment_id_insurance")),
        sa.UniqueConstraint("insured_no", name=op.f("uq_qd_insured_insured_no")),
    )
    op.create_index(op.f("ix_qd_insured_enrolment_id"), "qd_insured", ["enrolment_id"])
    op.create_index(op.f("ix_qd_insured_person_id"), "qd_insured", ["person_id"])
    op.create_table(
        "qd_base_choice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("qd_insured_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("base", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("chosen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('queued', 'applied')", name=op.f("ck_qd_base_choice_qd_base_state")),
        sa.ForeignKeyConstraint(
            ["qd_insured_id"], ["qd_insured.id"], name=op.f("fk_qd_base_choice_qd_insured_id_qd_insured")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qd_base_choice")),
        sa.UniqueConstraint("qd_insured_id", "year", name=op.f("uq_qd_base_choice_qd_insured_id_year")),
    )
    op.create_index(op.f("ix_qd_base_choice_qd_insured_id"), "qd_base_choice", ["qd_insured_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_qd_base_choice_qd_insured_id"), table_name="qd_base_choice")
    op.drop_table("qd_base_choice")
    op.drop_index(op.f("ix_qd_insured_person_id"), table_name="qd_insured")
    op.drop_index(op.f("ix_qd_insured_enrolment_id"), table_name="qd_insured")
    op.drop_table("qd_insured")
    _checks(OLD_SCHEMES, OLD_CHANNELS)
