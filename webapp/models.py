"""The data model (SQLAlchemy 2 typed models). Money is stored in fen (integer) and
exposed as ``Decimal`` yuan; bases are whole yuan; fee periods are the first day of
their month.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.orm import Mapped, mapped_column

from .db import Base, UTCDateTime
from .domain.schemes import SchemeCode
from .domain.statuses import (
    OPEN_ORDER_STATES,
    AgreementStatus,
    BaseSource,
    BatchDebitState,
    BatchWorkState,
    CertificateStatus,
    Channel,
    ChargeType,
    DeclarationKind,
    DeclarationStatus,
    EnrolmentStatus,
    OrderState,
    PensionAmountSource,
    PensionAmountStatus,
    Provider,
    QdBaseState,
    QdInsurance,
    ReceivableStatus,
    RefundState,
)

__all__ = [
    "OPEN_ORDER_STATES",
    "Agreement",
    "AuditEvent",
    "BaseDeclaration",
    "BatchDebit",
    "BatchRun",
    "BatchWork",
    "BatchWorker",
    "BureauSequence",
    "Certificate",
    "CertificateItem",
    "CertificatePage",
    "Declaration",
    "DeclarationItem",
    "Enrolment",
    "FamilyPayee",
    "NotificationTally",
    "PaymentOrder",
    "PensionAmount",
    "Person",
    "QdBaseChoice",
    "QdInsured",
    "Receivable",
    "Refund",
    "RegisteredHolder",
    "SettledPayment",
    "WebSession",
    "utcnow",
]


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def _yuan(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(Decimal("0.01"))


def status_column(enum: type, name: str, length: int = 12) -> sa.Enum:
    """A ``StrEnum`` stored as its value in a VARCHAR with a CHECK constraint (no native DB enum)."""
    return sa.Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Person(Base):
    """Someone the tax system knows: a payer, an insured person, or both."""

    __tablename__ = "person"
    __table_args__ = (sa.UniqueConstraint("id_type", "id_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    id_type: Mapped[str] = mapped_column(sa.String(20))  # code, see domain.identity.ID_TYPES
    id_number: Mapped[str] = mapped_column(sa.String(40))
    nationality: Mapped[str] = mapped_column(sa.String(40), default="中华人民共和国")
    sex: Mapped[str | None] = mapped_column(sa.String(1))  # "M" / "F"
    birth_date: Mapped[date | None]
    person_no: Mapped[str | None] = mapped_column(sa.String(30))  # 人员编号, from the bureau's sequence
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    enrolments: Mapped[list[Enrolment]] = orm.relationship(back_populates="person")


class FamilyPayee(Base):
    """Someone a payer has paid for (or saved) and may pay for again (R-RM-1)."""

    __tablename__ = "family_payee"
    __table_args__ = (sa.UniqueConstraint("payer_id", "insured_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payer_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id"), index=True)
    insured_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id"))
    relation: Mapped[str | None] = mapped_column(sa.String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    insured: Mapped[Person] = orm.relationship(foreign_keys=[insured_id])


class Enrolment(Base):
    """参保信息: a person's enrolment in one scheme, as the HR/medical bureau pushed it."""

    __tablename__ = "enrolment"
    __table_args__ = (sa.UniqueConstraint("person_id", "scheme"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id"), index=True)
    scheme: Mapped[SchemeCode] = mapped_column(status_column(SchemeCode, "scheme", 10))
    region: Mapped[str] = mapped_column(sa.String(20), default="beijing")
    category: Mapped[str | None] = mapped_column(sa.String(20))  # rm: elderly | student_child | working_age
    tax_office: Mapped[str] = mapped_column(sa.String(100))  # 主管税务机关
    si_agency: Mapped[str] = mapped_column(sa.String(100))  # 社保经办机构
    special_category: Mapped[str | None] = mapped_column(sa.String(40))  # 参保人员特殊类别
    subsidized: Mapped[bool] = mapped_column(default=False)  # 享受补贴人员 (flex)
    enrolled_on: Mapped[date]
    insurances: Mapped[str] = mapped_column(sa.String(60), default="")  # flex: "pension,unemployment,medical"
    pay_cycle: Mapped[str] = mapped_column(sa.String(12), default="monthly")
    status: Mapped[EnrolmentStatus] = mapped_column(
        status_column(EnrolmentStatus, "enrolment_status"), default=EnrolmentStatus.ACTIVE
    )

    person: Mapped[Person] = orm.relationship(back_populates="enrolments")


class BaseDeclaration(Base):
    """A flexible worker's pension/unemployment base for one contribution year (R-FB-1, R-FB-4)."""

    __tablename__ = "base_declaration"
    __table_args__ = (sa.UniqueConstraint("enrolment_id", "contribution_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(sa.ForeignKey("enrolment.id"), index=True)
    contribution_year: Mapped[int]  # 2025 = 2025-07..2026-06
    base: Mapped[int]  # whole yuan
    source: Mapped[BaseSource] = mapped_column(status_column(BaseSource, "base_source"))
    # 缴费周期 of this contribution year (R-FB-8): declared with the base; carried-over rows are monthly.
    cycle: Mapped[str] = mapped_column(sa.String(12), default="monthly", server_default="monthly")
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Receivable(Base):
    """应缴费 (待缴信息): one insurance, one fee period (or a resident's year), one amount.

    ``status`` moves due → declared → paid; a voided declaration puts it back to due.
    """

    __tablename__ = "receivable"

    id: Mapped[int] = mapped_column(primary_key=True)
    # A stable key so generation and imports are idempotent (running twice gives the same rows).
    natural_key: Mapped[str] = mapped_column(sa.String(120), unique=True)
    insured_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id"), index=True)
    enrolment_id: Mapped[int] = mapped_column(sa.ForeignKey("enrolment.id"))
    scheme: Mapped[SchemeCode] = mapped_column(status_column(SchemeCode, "scheme", 10))
    insurance: Mapped[str] = mapped_column(sa.String(20))  # rm_medical | pension | unemployment | medical
    fee_period_start: Mapped[date]
    fee_period_end: Mapped[date]
    base: Mapped[int | None]
    amount_fen: Mapped[int]
    charge_type: Mapped[ChargeType] = mapped_column(status_column(ChargeType, "charge_type", 20))
    notice_no: Mapped[str | None] = mapped_column(sa.String(40))  # 征集通知流水号
    si_serial: Mapped[str] = mapped_column(sa.String(40))  # 社保流水号
    tax_office: Mapped[str] = mapped_column(sa.String(100))
    si_agency: Mapped[str] = mapped_column(sa.String(100))
    special_category: Mapped[str | None] = mapped_column(sa.String(40))
    provisional: Mapped[bool] = mapped_column(default=False)  # computed on last year's numbers (R-FB-6)
    # Not indexed: every query reaches receivables by the insured person first, and the batch debit updates
    # status and batch_debit_id of hundreds of thousands of rows, which PostgreSQL does in place (HOT) only
    # when no index covers the columns it changes.
    status: Mapped[ReceivableStatus] = mapped_column(
        status_column(ReceivableStatus, "receivable_status"), default=ReceivableStatus.DUE
    )
    declaration_id: Mapped[int | None] = mapped_column(sa.ForeignKey("declaration.id"))
    # Taken by a batch debit in progress (申报处理中): no one can declare it until the bank has answered.
    batch_debit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("batch_debit.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    insured: Mapped[Person] = orm.relationship(foreign_keys=[insured_id])
    enrolment: Mapped[Enrolment] = orm.relationship()

    @property
    def amount(self) -> Decimal:
        """The amount in yuan."""
        return _yuan(self.amount_fen)


class Declaration(Base):
    """申报: the payer declared these receivables (提交) and now owes their sum."""

    __tablename__ = "declaration"

    id: Mapped[int] = mapped_column(primary_key=True)
    payer_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id"), index=True)
    insured_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id"), index=True)
    scheme: Mapped[SchemeCode] = mapped_column(status_column(SchemeCode, "scheme", 10))
    kind: Mapped[DeclarationKind] = mapped_column(
        status_column(DeclarationKind, "declaration_kind", 10), default=DeclarationKind.NORMAL
    )
    total_fen: Mapped[int]
    status: Mapped[DeclarationStatus] = mapped_column(
        status_column(DeclarationStatus, "declaration_status"), default=DeclarationStatus.DECLARED
    )
    channel: Mapped[Channel] = mapped_column(status_column(Channel, "channel"))
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    payer: Mapped[Person] = orm.relationship(foreign_keys=[payer_id])
    insured: Mapped[Person] = orm.relationship(foreign_keys=[insured_id])
    items: Mapped[list[DeclarationItem]] = orm.relationship(back_populates="declaration", order_by="DeclarationItem.id")

    @property
    def total(self) -> Decimal:
        """The declared total in yuan."""
        return _yuan(self.total_fen)


class DeclarationItem(Base):
    """One receivable inside a declaration, with the amount declared for it (kept after a void)."""

    __tablename__ = "declaration_item"
    __table_args__ = (sa.UniqueConstraint("declaration_id", "receivable_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(sa.ForeignKey("declaration.id"), index=True)
    receivable_id: Mapped[int] = mapped_column(sa.ForeignKey("receivable.id"), index=True)
    amount_fen: Mapped[int]

    declaration: Mapped[Declaration] = orm.relationship(back_populates="items")
    receivable: Mapped[Receivable] = orm.relationship()

    @property
    def amount(self) -> Decimal:
        """The amount in yuan."""
        return _yuan(self.amount_fen)


class PaymentOrder(Base):
    """One attempt to collect a declaration's total through one provider.

    States only move forward (``OrderState``): created → paying → paid | closed | failed | unapplied.
    At most one open order per declaration (partial unique index); starting one locks the declaration.
    """

    __tablename__ = "payment_order"
    __table_args__ = (
        sa.Index(
            "uq_payment_order_open_per_declaration",
            "declaration_id",
            unique=True,
            postgresql_where=sa.text("state IN ('created', 'paying')"),
            sqlite_where=sa.text("state IN ('created', 'paying')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    out_trade_no: Mapped[str] = mapped_column(sa.String(32), unique=True)
    declaration_id: Mapped[int] = mapped_column(sa.ForeignKey("declaration.id"), index=True)
    payer_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id"), index=True)
    provider: Mapped[Provider] = mapped_column(status_column(Provider, "provider"))
    channel: Mapped[Channel] = mapped_column(status_column(Channel, "channel"))
    amount_fen: Mapped[int]
    state: Mapped[OrderState] = mapped_column(
        status_column(OrderState, "order_state", 10), default=OrderState.CREATED, index=True
    )
    # What the provider says it took, when that differs from amount_fen (R-PA-5).
    paid_amount_fen: Mapped[int | None]
    provider_txn_id: Mapped[str | None] = mapped_column(sa.String(64))
    cashier_url: Mapped[str | None] = mapped_column(sa.Text)
    failure_reason: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    declaration: Mapped[Declaration] = orm.relationship()

    @property
    def amount(self) -> Decimal:
        """The amount in yuan."""
        return _yuan(self.amount_fen)

    @property
    def taken(self) -> Decimal:
        """What the provider took: the order's amount, unless it said otherwise (R-PA-5)."""
        return _yuan(self.amount_fen if self.paid_amount_fen is None else self.paid_amount_fen)


class SettledPayment(Base):
    """A receivable paid, by an order or by a batch debit (exactly one of the two): the unique constraint on
    receivable_id is the last guard against paying twice."""

    __tablename__ = "settled_payment"
    __table_args__ = (sa.CheckConstraint("(order_id IS NULL) != (batch_debit_id IS NULL)", name="paid_by_one"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    receivable_id: Mapped[int] = mapped_column(sa.ForeignKey("receivable.id"), unique=True)
    order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payment_order.id"), index=True)
    batch_debit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("batch_debit.id"), index=True)
    payer_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id"), index=True)
    amount_fen: Mapped[int]
    levy_voucher_no: Mapped[str] = mapped_column(sa.String(30), unique=True)  # 应征凭证序号
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime())
    channel: Mapped[Channel] = mapped_column(status_column(Channel, "channel"))
    method: Mapped[Provider] = mapped_column(status_column(Provider, "provider"))
    # 入库 (R-CE-2): set by the posting job about two working days after payment; certifiable from then on.
    posted_on: Mapped[date | None] = mapped_column(index=True)  # 入(退)库日期
    e_ticket_no: Mapped[str | None] = mapped_column(sa.String(20), unique=True)  # 电子税票号码

    receivable: Mapped[Receivable] = orm.relationship()
    order: Mapped[PaymentOrder | None] = orm.relationship()
    payer: Mapped[Person] = orm.relationship()

    @property
    def amount(self) -> Decimal:
        """The amount in yuan."""
        return _yuan(self.amount_fen)


class Refund(Base):
    """Money going back to the payer: its own record, one per order, keyed by ``out_refund_no`` so a retry is
    safe, for exactly what the provider says it took.

    ``requested`` → ``processing`` → ``succeeded`` (退款中 → 已退款 on ``refunded_at``); the periodic job sends
    and asks again until the provider confirms, counting ``attempts``; ``void`` when the provider took nothing.
    """

    __tablename__ = "refund"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("payment_order.id"), index=True)
    out_refund_no: Mapped[str] = mapped_column(sa.String(64), unique=True)
    amount_fen: Mapped[int]
    reason: Mapped[str] = mapped_column(sa.String(200))
    state: Mapped[RefundState] = mapped_column(
        status_column(RefundState, "refund_state"), default=RefundState.REQUESTED, index=True
    )
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(sa.String(200))
    provider_refund_id: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # 已退款: when the provider finished it

    order: Mapped[PaymentOrder] = orm.relationship()

    @property
    def amount(self) -> Decimal:
        """The amount in yuan."""
        return _yuan(self.amount_fen)


class AuditEvent(Base):
    """Who did what, when: logins, declarations, voids, orders, notifications, settlements."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id"))
    kind: Mapped[str] = mapped_column(sa.String(40), index=True)
    subject: Mapped[str] = mapped_column(sa.String(80), default="")
    detail: Mapped[str] = mapped_column(sa.Text, default="")


class Agreement(Base):
    """缴费协议: the payer's own bank account, signed with the bank for one 税务机关 (R-AG-*).

    The full card number stays with the bank; we keep what screens show (masked) and a digest to tell
    a change of account. ``batch_debit`` is 是否银行代扣: with it the agreement serves the batch debit
    as well as 协议支付.
    """

    __tablename__ = "agreement"

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_no: Mapped[str] = mapped_column(sa.String(40), unique=True)
    payer_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id"), index=True)
    tax_office: Mapped[str] = mapped_column(sa.String(100))
    si_agency: Mapped[str] = mapped_column(sa.String(100))
    bank: Mapped[str] = mapped_column(sa.String(12))
    bank_region: Mapped[str] = mapped_column(sa.String(40))
    branch: Mapped[str] = mapped_column(sa.String(80))
    holder: Mapped[str] = mapped_column(sa.String(60))
    account_masked: Mapped[str] = mapped_column(sa.String(30))
    account_digest: Mapped[str] = mapped_column(sa.String(64))
    batch_debit: Mapped[bool] = mapped_column(default=False)
    status: Mapped[AgreementStatus] = mapped_column(
        status_column(AgreementStatus, "agreement_status"), default=AgreementStatus.SIGNED, index=True
    )
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    effective_on: Mapped[date]
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[str | None] = mapped_column(sa.String(200))
    # Made 失效 by a change of 社保经办机构: the payer may sign again only from this day (Q52(2): 次月8日后重签).
    resign_from: Mapped[date | None]

    payer: Mapped[Person] = orm.relationship()


class BatchRun(Base):
    """The batch debit of one batch day (批量扣款, R-BD-1): planned once, shared by any number of workers."""

    __tablename__ = "batch_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_date: Mapped[date] = mapped_column(unique=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class BatchWorker(Base):
    """A process taking part in a batch run: which host and process it is, and that it is alive (its heartbeat).
    Another worker takes its claims over at once when the process is gone from its host, or when its heartbeat
    stops (another host), so a killed worker strands nothing (R-BD-2, issue 17 D7)."""

    __tablename__ = "batch_worker"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("batch_run.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(40))
    host: Mapped[str] = mapped_column(sa.String(100))
    pid: Mapped[int]
    # The process's start time as its host counts it (Linux: /proc/<pid>/stat), so a reused pid is not taken
    # for the worker that died.
    proc_start: Mapped[str] = mapped_column(sa.String(30), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # finished, or found gone by another


class BatchWork(Base):
    """One agreement's share of a run: claimed by a worker, so a killed worker's share is picked up again
    (R-BD-2) as soon as that worker is known gone."""

    __tablename__ = "batch_work"
    __table_args__ = (
        sa.UniqueConstraint("run_id", "agreement_id"),
        sa.Index("ix_batch_work_run_state_id", "run_id", "state", "id"),  # pending rows in id order (claim)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("batch_run.id"))
    agreement_id: Mapped[int] = mapped_column(sa.ForeignKey("agreement.id"))
    state: Mapped[BatchWorkState] = mapped_column(
        status_column(BatchWorkState, "batch_work_state"), default=BatchWorkState.PENDING
    )
    claimed_by: Mapped[str | None] = mapped_column(sa.String(40))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    worker_id: Mapped[int | None] = mapped_column(sa.ForeignKey("batch_worker.id"))


class BatchDebit(Base):
    """One debit of a run: a group of receivables taken together (R-FP-5: medical 本期 + 往期 as one,
    pension 本期, unemployment 本期), keyed by ``debit_no`` at the bank so a resend never takes twice."""

    __tablename__ = "batch_debit"
    __table_args__ = (sa.Index("ix_batch_debit_run_agreement", "run_id", "agreement_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("batch_run.id"), index=True)
    agreement_id: Mapped[int] = mapped_column(sa.ForeignKey("agreement.id"))
    payer_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id"), index=True)
    debit_no: Mapped[str] = mapped_column(sa.String(40), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(20))  # medical | pension | unemployment | rp_pension …
    amount_fen: Mapped[int]
    receivable_ids: Mapped[str] = mapped_column(sa.Text)  # "12,13,14": what it covers, kept after a failure
    state: Mapped[BatchDebitState] = mapped_column(
        status_column(BatchDebitState, "batch_debit_state"), default=BatchDebitState.PLANNED, index=True
    )
    reason: Mapped[str | None] = mapped_column(sa.String(100))
    bank_txn: Mapped[str | None] = mapped_column(sa.String(40))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    agreement: Mapped[Agreement] = orm.relationship()

    @property
    def amount(self) -> Decimal:
        """The amount in yuan."""
        return _yuan(self.amount_fen)


class PensionAmount(Base):
    """批量扣款缴费金额设置 (R-RP-1): the amount a resident pension payer chose for one insurance and year.

    What the batch debit (批量扣款, R-BD-1) reads: for a receivable of ``(enrolment_id, insurance, year)``,
    debit ``amount_fen`` only while an ``active`` row's 缴费金额有效期起止 (``valid_from``..``valid_to``,
    both included) covers the batch day. A ``void`` row (缴费金额作废) keeps its period and means: no batch
    debit of that insurance in it, unless the payer sets an amount again (a new ``active`` row).
    ``replaced`` rows are the history of earlier choices for the year. At most one row per insurance and
    year is active (partial unique index); ``receivable_id`` is the year's receivable it priced.
    """

    __tablename__ = "pension_amount"
    __table_args__ = (
        sa.Index(
            "uq_pension_amount_active_per_year",
            "enrolment_id",
            "insurance",
            "year",
            unique=True,
            postgresql_where=sa.text("status = 'active'"),
            sqlite_where=sa.text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(sa.ForeignKey("enrolment.id"), index=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id"), index=True)  # payer and insured
    insurance: Mapped[str] = mapped_column(sa.String(20))  # rp_pension
    year: Mapped[int]  # the pension year (calendar)
    amount_fen: Mapped[int]  # a grade of the policy table
    valid_from: Mapped[date]  # 缴费金额有效期起
    valid_to: Mapped[date]  # 缴费金额有效期止
    status: Mapped[PensionAmountStatus] = mapped_column(
        status_column(PensionAmountStatus, "pension_amount_status"), default=PensionAmountStatus.ACTIVE
    )
    source: Mapped[PensionAmountSource] = mapped_column(
        status_column(PensionAmountSource, "pension_amount_source"), default=PensionAmountSource.SET
    )
    receivable_id: Mapped[int | None] = mapped_column(sa.ForeignKey("receivable.id"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    enrolment: Mapped[Enrolment] = orm.relationship()
    receivable: Mapped[Receivable | None] = orm.relationship()

    @property
    def amount(self) -> Decimal:
        """The amount in yuan."""
        return _yuan(self.amount_fen)


class Certificate(Base):
    """缴费证明 request (R-CE-3): one payer, one 税务机关, a 费款所属期 range; 制作中 → 制作成功 | 制作失败.

    The items are fixed when the payer applies (``CertificateItem``); the PDF (encrypted) and the page
    images are made once, in the background, and kept here, served to the payer only.
    """

    __tablename__ = "certificate"

    id: Mapped[int] = mapped_column(primary_key=True)
    payer_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id"), index=True)
    tax_office: Mapped[str] = mapped_column(sa.String(100))
    period_start: Mapped[date]
    period_end: Mapped[date]
    number: Mapped[str | None] = mapped_column(sa.String(24), unique=True)  # 证明编号
    check_code: Mapped[str] = mapped_column(sa.String(16), unique=True)  # 证明校验码
    total_fen: Mapped[int]
    status: Mapped[CertificateStatus] = mapped_column(
        status_column(CertificateStatus, "certificate_status"), default=CertificateStatus.MAKING, index=True
    )
    failure_reason: Mapped[str | None] = mapped_column(sa.String(200))
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    made_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    page_count: Mapped[int] = mapped_column(default=0, server_default="0")
    pdf: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    # The region whose issuer, title and number prefixes it carries (domain.regions); Beijing for the older rows.
    region: Mapped[str] = mapped_column(sa.String(20), default="beijing", server_default="beijing")
    # Who issued it when not the payer (税税通 代他人开具, R-QD-7): the logged-in user; None for one's own.
    issuer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id"), index=True)

    payer: Mapped[Person] = orm.relationship(foreign_keys=[payer_id])
    items: Mapped[list[CertificateItem]] = orm.relationship(back_populates="certificate", order_by="CertificateItem.id")

    @property
    def total(self) -> Decimal:
        """合计 in yuan."""
        return _yuan(self.total_fen)


class CertificateItem(Base):
    """One posted payment a certificate covers."""

    __tablename__ = "certificate_item"
    __table_args__ = (sa.UniqueConstraint("certificate_id", "settled_payment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[int] = mapped_column(sa.ForeignKey("certificate.id"), index=True)
    settled_payment_id: Mapped[int] = mapped_column(sa.ForeignKey("settled_payment.id"))

    certificate: Mapped[Certificate] = orm.relationship(back_populates="items")
    payment: Mapped[SettledPayment] = orm.relationship()


class CertificatePage(Base):
    """One page of a made certificate as a PNG, for 查看 (long-press to save, R-CE-6)."""

    __tablename__ = "certificate_page"
    __table_args__ = (sa.UniqueConstraint("certificate_id", "page_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[int] = mapped_column(sa.ForeignKey("certificate.id"))
    page_no: Mapped[int]
    png: Mapped[bytes] = mapped_column(sa.LargeBinary, deferred=True)


class RegisteredHolder(Base):
    """The simulated identity authority's register (the public-security photo register the face check
    stands for, R-ID-4): who holds a document. Not the app's people: a person row is written only after
    a face check against this register succeeds. IDs it does not list get a holder name derived from the
    number (``domain.identity.holder_name``)."""

    __tablename__ = "identity_register"
    __table_args__ = (sa.UniqueConstraint("id_type", "id_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    id_type: Mapped[str] = mapped_column(sa.String(20))
    id_number: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(60))
    # The face check fails for this holder with this reason (the demo persona face-fails).
    face_fail_reason: Mapped[str | None] = mapped_column(sa.String(200))


class WebSession(Base):
    """A browser session kept on the server (R-ID-5); the cookie carries only a random token, stored here
    as its SHA-256, so neither a cookie nor this table gives the other. Deleting the row ends the session."""

    __tablename__ = "web_session"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # sha256 hex of the cookie's token
    person_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id"), index=True)
    data: Mapped[str] = mapped_column(sa.Text)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class UsedOnce(Base):
    """A value that may be used once (a 记录查验 captcha's nonce), kept as a keyed hash until it would have
    expired anyway: the primary key makes two requests presenting it at once, on any worker, spend it once
    (issue 17, D9). The periodic job drops expired rows."""

    __tablename__ = "used_once"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class AttemptCount(Base):
    """A budget of attempts (failed face checks, wrong 记录查验 answers, sessions started) counted for one key
    in a fixed window (``views._attempts``), when there is no Redis: every worker and process counts in this
    one row, so the budget is exact however many of them run (issue 17, D3 and D9). Keys are keyed digests."""

    __tablename__ = "attempt_count"

    key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    count: Mapped[int] = mapped_column(sa.Integer)
    window_ends: Mapped[float] = mapped_column(sa.Float, index=True)  # epoch seconds


class NotificationTally(Base):
    """Refused provider notifications counted per provider, minute and reason (forged, unreadable,
    unknown order), with the last one's detail, instead of an audit row each (a flood stays one row)."""

    __tablename__ = "notification_tally"
    __table_args__ = (sa.UniqueConstraint("provider", "minute", "outcome"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(sa.String(20))
    minute: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(sa.String(20))  # bad_signature | unreadable | unknown_order
    count: Mapped[int] = mapped_column(default=1)
    last_detail: Mapped[str] = mapped_column(sa.String(200), default="")


class BureauSequence(Base):
    """The bureau's own counters: ``person_no`` numbers 人员编号 in order, never from an ID's digits."""

    __tablename__ = "bureau_sequence"

    name: Mapped[str] = mapped_column(sa.String(30), primary_key=True)
    value: Mapped[int] = mapped_column(sa.BigInteger)


class QdInsured(Base):
    """个人参保编号: one Qingdao insurance of a person (险种类型 pension or medical), as the bureau pushed it
    (seed 002: 选择需缴纳险种的个人参保编号). Its bills are receivables of the enrolment (scheme ``qd``)."""

    __tablename__ = "qd_insured"
    __table_args__ = (sa.UniqueConstraint("enrolment_id", "insurance"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    insured_no: Mapped[str] = mapped_column(sa.String(30), unique=True)  # 个人参保编号
    enrolment_id: Mapped[int] = mapped_column(sa.ForeignKey("enrolment.id"), index=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id"), index=True)
    insurance: Mapped[QdInsurance] = mapped_column(status_column(QdInsurance, "qd_insurance", 10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    enrolment: Mapped[Enrolment] = orm.relationship()


class QdBaseChoice(Base):
    """缴费基数 chosen for a 个人参保编号 and a year (R-QD-4): the bureau's queue. ``queued`` until a 核定 file
    brings a bill of that year at this base (then ``applied``); choosing again replaces the base and queues it."""

    __tablename__ = "qd_base_choice"
    __table_args__ = (sa.UniqueConstraint("qd_insured_id", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    qd_insured_id: Mapped[int] = mapped_column(sa.ForeignKey("qd_insured.id"), index=True)
    year: Mapped[int]
    base: Mapped[int]  # whole yuan
    state: Mapped[QdBaseState] = mapped_column(status_column(QdBaseState, "qd_base_state", 10))
    channel: Mapped[str] = mapped_column(sa.String(12))
    chosen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # 云闪付: 选择缴费基数是否允许用于批扣 (seed 002, R-QD-8), passed to the bureau with the base.
    batch_debit: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    insured: Mapped[QdInsured] = orm.relationship()
