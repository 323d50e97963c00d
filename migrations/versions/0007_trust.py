"""Trust: the simulated identity register, server-side sessions, refused notifications counted, and the
bureau's own 人员编号 sequence (R-ID-3, R-ID-4, R-ID-5, R-PA-5).

Existing 人员编号 (hashes of the ID number, which a reader of a masked ID could brute-force) are renumbered
from the sequence in the order the people were created. A face-check failure reason moves from the person
to the register, where the face check reads it.

Revision ID: 0007_trust
Revises: 0006_certificates
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_trust"
down_revision = "0006_certificates"
branch_labels = None
depends_on = None

PERSON_NO_START = 1101_0001_0000_0000  # the first number the bureau hands out is this + 1


def upgrade() -> None:
    op.create_table(
        "identity_register",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("id_type", sa.String(length=20), nullable=False),
        sa.Column("id_number", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("face_fail_reason", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_register")),
        sa.UniqueConstraint("id_type", "id_number", name=op.f("uq_identity_register_id_type_id_number")),
    )
    op.create_table(
        "web_session",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_web_session_person_id_person")),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_web_session")),
    )
    op.create_index(op.f("ix_web_session_person_id"), "web_session", ["person_id"], unique=False)
    op.create_index(op.f("ix_web_session_expires_at"), "web_session", ["expires_at"], unique=False)
    op.create_table(
        "notification_tally",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_detail", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_tally")),
        sa.UniqueConstraint(
            "provider", "minute", "outcome", name=op.f("uq_notification_tally_provider_minute_outcome")
        ),
    )
    bureau_sequence = op.create_table(
        "bureau_sequence",
        sa.Column("name", sa.String(length=30), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_bureau_sequence")),
    )

    conn = op.get_bind()
    person = sa.table(
        "person",
        sa.column("id", sa.Integer),
        sa.column("id_type", sa.String),
        sa.column("id_number", sa.String),
        sa.column("name", sa.String),
        sa.column("person_no", sa.String),
        sa.column("face_fail_reason", sa.String),
    )
    register = sa.table(
        "identity_register",
        sa.column("id_type", sa.String),
        sa.column("id_number", sa.String),
        sa.column("name", sa.String),
        sa.column("face_fail_reason", sa.String),
    )
    failing = conn.execute(
        sa.select(person.c.id_type, person.c.id_number, person.c.name, person.c.face_fail_reason).where(
            person.c.face_fail_reason.is_not(None)
        )
    ).all()
    if failing:
        conn.execute(
            register.insert(),
            [
                {"id_type": t, "id_number": n, "name": name, "face_fail_reason": reason}
                for t, n, name, reason in failing
            ],
        )
    value = PERSON_NO_START
    numbered = conn.execute(sa.select(person.c.id).where(person.c.person_no.is_not(None)).order_by(person.c.id)).all()
    for (pid,) in numbered:
        value += 1
        conn.execute(person.update().where(person.c.id == pid).values(person_no=str(value)))
    op.bulk_insert(bureau_sequence, [{"name": "person_no", "value": value}])
    with op.batch_alter_table("person") as b:
        b.drop_column("face_fail_reason")


def downgrade() -> None:
    with op.batch_alter_table("person") as b:
        b.add_column(sa.Column("face_fail_reason", sa.String(length=200), nullable=True))
    op.drop_table("bureau_sequence")
    op.drop_table("notification_tally")
    op.drop_index(op.f("ix_web_session_expires_at"), table_name="web_session")
    op.drop_index(op.f("ix_web_session_person_id"), table_name="web_session")
    op.drop_table("web_session")
    op.drop_table("identity_register")
