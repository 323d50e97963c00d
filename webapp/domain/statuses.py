"""Every status the app stores, as ``StrEnum``s. The models store the values with a CHECK constraint,
so a typo in code fails loudly and the database refuses a value no code path knows.
"""

from __future__ import annotations

from enum import StrEnum


class ReceivableStatus(StrEnum):
    """应缴费: due (待申报) → declared (已申报待缴款) → paid; a void puts it back to due."""

    DUE = "due"
    DECLARED = "declared"
    PAID = "paid"


class DeclarationStatus(StrEnum):
    """申报: declared (申报成功, unpaid) → paid, or void (已作废)."""

    DECLARED = "declared"
    PAID = "paid"
    VOID = "void"


class DeclarationKind(StrEnum):
    """正常申报缴费 or 特殊核定缴费."""

    NORMAL = "normal"
    SPECIAL = "special"

    @classmethod
    def of(cls, value: str | None) -> DeclarationKind:
        """The tab a request names; 正常申报缴费 for anything else."""
        return cls.SPECIAL if value == cls.SPECIAL else cls.NORMAL


class OrderState(StrEnum):
    """A payment order: created → paying → paid | closed | failed | unapplied.

    ``created``: the provider has not confirmed the order (or we did not hear back); ``paying``: the
    buyer can pay at the cashier; ``paid``: the money settled the declaration; ``closed``: the provider
    confirmed nothing can be paid any more; ``failed``: the provider refused or the payment failed,
    nothing taken; ``unapplied``: money arrived that cannot settle the declaration (a wrong amount,
    or the declaration was voided or paid another way) — it goes back through a refund.
    """

    CREATED = "created"
    PAYING = "paying"
    PAID = "paid"
    CLOSED = "closed"
    FAILED = "failed"
    UNAPPLIED = "unapplied"

    @property
    def is_open(self) -> bool:
        """Still waiting for the provider: the declaration cannot start another order yet."""
        return self in OPEN_ORDER_STATES


OPEN_ORDER_STATES = frozenset({OrderState.CREATED, OrderState.PAYING})


class RefundState(StrEnum):
    """Money going back (R-PA-4): requested (退款中: to be sent, and sent again until the provider takes it) →
    processing (退款中: the provider took the request and has not finished) → succeeded (已退款, with its date);
    void when the provider, asked, says it took nothing on the order (nothing to give back)."""

    REQUESTED = "requested"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    VOID = "void"


class Provider(StrEnum):
    """Who collects the money (支付方式)."""

    WECHAT = "wechat"
    ALIPAY = "alipay"
    UNIONPAY = "unionpay"
    AGREEMENT = "agreement"


class Channel(StrEnum):
    """Where the user came from (渠道, R-CH-1)."""

    WECHAT = "wechat"
    ALIPAY = "alipay"
    BAIDU = "baidu"
    ETAX_APP = "etax-app"
    ETAX_WEB = "etax-web"
    WINDOW = "window"
    BATCH = "batch"  # the bank's batch debit on the batch day (银行批扣): no channel a person uses
    # Qingdao's five entries (seed 002, R-QD-1)
    QD_WECHAT = "qd-wechat"
    QD_CITY = "qd-city"
    QD_ALIPAY = "qd-alipay"
    QD_SST = "qd-sst"
    QD_UNIONPAY = "qd-unionpay"


class ChargeType(StrEnum):
    """缴费类型 as stored: a resident's year, a flexible worker's month, or a special item.

    本期应缴费 / 往期未缴费 are not stored: they follow from the fee period and today (R-FP-1).
    """

    ANNUAL = "annual"
    NORMAL = "normal"
    MISSED_ENROLMENT = "missed_enrolment"
    POLICY_BACKPAY = "policy_backpay"
    OTHER = "other"


SPECIAL_CHARGE_TYPES = frozenset({ChargeType.MISSED_ENROLMENT, ChargeType.POLICY_BACKPAY, ChargeType.OTHER})


class BaseSource(StrEnum):
    """Where a contribution year's base came from (R-FB-4)."""

    DECLARED = "declared"
    CARRIED = "carried"
    RAISED = "raised"


class EnrolmentStatus(StrEnum):
    """参保状态 as the bureau pushed it."""

    ACTIVE = "active"
    ENDED = "ended"


class AgreementStatus(StrEnum):
    """A debit agreement as stored: signed (签订成功, or 次日生效 before its first day), revoked (已撤销) by the
    payer, or invalid (失效) after a change of 社保经办机构, name, document or account (R-AG-5, R-AG-6, R-AG-8)."""

    SIGNED = "signed"
    REVOKED = "revoked"
    INVALID = "invalid"


class BatchDebitState(StrEnum):
    """One debit of a batch run: planned (sent, or to be sent, to the bank), then succeeded or failed."""

    PLANNED = "planned"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class BatchWorkState(StrEnum):
    """One agreement's share of a batch run: pending, claimed by a worker (with a lease), done."""

    PENDING = "pending"
    CLAIMED = "claimed"
    DONE = "done"


class PensionAmountStatus(StrEnum):
    """批量扣款缴费金额 (R-RP-1): active (有效) → replaced (another amount set for the year) | void (已作废)."""

    ACTIVE = "active"
    REPLACED = "replaced"
    VOID = "void"


class PensionAmountSource(StrEnum):
    """Who chose a resident pension amount: the payer (设置), or the yearly generation carrying the last one."""

    SET = "set"
    CARRIED = "carried"


class CertificateStatus(StrEnum):
    """缴费证明 request (R-CE-3): making (制作中) → made (制作成功) | failed (制作失败, retried by 重新制作)."""

    MAKING = "making"
    MADE = "made"
    FAILED = "failed"


class QdInsurance(StrEnum):
    """险种类型 of a Qingdao 个人参保编号 (seed 002): a flexible worker's pension or medical insurance."""

    PENSION = "pension"
    MEDICAL = "medical"


class QdBaseState(StrEnum):
    """A base chosen in 缴费档次或基数选择 (R-QD-4): queued for the bureau, then applied once its 核定 file
    brings bills at that base."""

    QUEUED = "queued"
    APPLIED = "applied"
