"""The schemes (险种业务) a resident pays here, as one registry: a new flow is one entry.

The shared checkout, the result page, the records and the order subject read everything
scheme-specific from here, never from an ``if scheme == …`` in a view or a template.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class SchemeCode(StrEnum):
    """The code stored on enrolments, receivables and declarations."""

    RESIDENT_MEDICAL = "rm"
    RESIDENT_PENSION = "rp"
    FLEXIBLE = "flex"
    QINGDAO = "qd"  # 青岛 flexible workers: bills come from the bureau's 核定 file (R-QD-5)


@dataclass(frozen=True)
class Scheme:
    """One scheme: how the user knows it, where its pages are, and who may pay it."""

    code: str  # a SchemeCode for the schemes shipped here; any registered code (``register``) otherwise
    label: str  # the flow's name on tiles and headings
    insurance: str  # the insurance the guide names (险种)
    order_subject: str  # what the provider's cashier shows as the goods
    entry: str  # endpoint of the flow's first step (身份信息确认)
    declared: str  # endpoint listing its declarations (继续缴费 / 作废 live there)
    records: str  # endpoint of its 缴费记录查询
    record: str  # endpoint of one payment's 明细数据 (takes payment_id)
    pays_for_others: bool  # R-RM-1 (family) vs R-FP-6 / R-RP (oneself only)
    self_service_window: bool  # R-FP-4: only the 10th–25th
    batch_debited: bool = False  # R-BD-1: the batch debit takes it (so, on the batch day, nothing else may: Q42)
    void_label: str = "作废"  # the guide's word for voiding a declaration in this flow
    steps: tuple[str, ...] = ("身份信息确认", "选择缴费信息", "选择支付方式")  # the last is 选择支付方式
    declared_label: str = "已申报查询"  # the name of the ``declared`` page (继续缴费 / 作废 live there)
    records_label: str = "缴费记录查询"  # the name of the ``records`` page
    # 协议支付 → 确认缴费 shows a prompt (提示语) before the usable agreements (seed 003 §2.1: 带出提示语，点击【确定】)
    agreement_prompt: bool = False
    reminder_label: str = ""  # how 缴费提醒 names it (R-UX-3); the label when empty
    # R-CH-1: which column of the channel table gives its payment methods (resident / flexible)
    methods_column: str = "resident"

    @property
    def reminder_name(self) -> str:
        """The name 缴费提醒 gives the scheme."""
        return self.reminder_label or self.label

    @property
    def again_label(self) -> str:
        """The result page's button back into the flow."""
        return "继续为家人缴费" if self.pays_for_others else "返回缴费办理"


SCHEMES: dict[str, Scheme] = {
    s.code: s
    for s in (
        Scheme(
            SchemeCode.RESIDENT_MEDICAL,
            "城乡居民医疗",
            "城乡居民基本医疗保险",
            "城乡居民基本医疗保险费",
            entry="resident_medical.pay",
            declared="resident_medical.declared",
            records="resident_medical.records",
            record="resident_medical.record",
            pays_for_others=True,
            self_service_window=False,
            steps=("身份信息确认", "参保信息选择", "选择缴费信息", "选择支付方式"),  # seed 003 §2.1
            agreement_prompt=True,
            reminder_label="城乡居民医疗保险",
        ),
        Scheme(
            SchemeCode.FLEXIBLE,
            "灵活就业",
            "企业职工基本养老保险、失业保险、职工基本医疗保险",
            "灵活就业人员社会保险费",
            entry="flexible.pay",
            declared="flexible.due",
            records="flexible.records",
            record="flexible.record",
            pays_for_others=False,
            self_service_window=True,
            void_label="作废申报",
            batch_debited=True,
            declared_label="应缴费信息查询",
            reminder_label="灵活就业人员社会保险费",
            methods_column="flexible",
        ),
        Scheme(
            SchemeCode.RESIDENT_PENSION,
            "城乡居民养老",
            "城乡居民基本养老保险",
            "城乡居民基本养老保险费",
            entry="resident_pension.pay",
            declared="resident_pension.declared",
            records="resident_pension.records",
            record="resident_pension.record",
            pays_for_others=False,
            self_service_window=False,
            steps=("身份信息确认", "选择参保信息", "选择缴费信息", "选择支付方式"),
            declared_label="申报记录查询",
            records_label="已缴费查询",
            batch_debited=True,
            reminder_label="城乡居民养老保险",
        ),
        Scheme(
            SchemeCode.QINGDAO,
            "社保缴费",
            "企业职工基本养老保险、职工基本医疗保险",
            "青岛市灵活就业人员社会保险费",
            entry="qingdao.index",
            declared="qingdao.pay",
            records="qingdao.records",
            record="qingdao.records",
            pays_for_others=False,
            self_service_window=False,  # seed 002 sets no window
            steps=("选择个人参保编号", "核对缴费金额", "核对订单金额"),
            declared_label="缴费",
            records_label="缴费记录",
        ),
    )
}


def register(entry: Scheme) -> None:
    """Add a scheme to the registry (its code must be new); ``services.schemes.register`` calls this with the
    scheme's flow, so a scheme is never registered without its behaviour."""
    if entry.code in SCHEMES:
        raise ValueError(f"scheme {entry.code!r} is already registered")
    SCHEMES[entry.code] = entry


def unregister(code: str) -> None:
    """Take a scheme out of the registry (a test's dummy scheme)."""
    SCHEMES.pop(code, None)


def scheme(code: str) -> Scheme:
    """The registry entry of a scheme code; ``KeyError`` for a code nobody registered."""
    return SCHEMES[code]
