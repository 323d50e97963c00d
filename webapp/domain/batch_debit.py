"""批量扣款, the rules (R-BD-1 … R-BD-4, R-FP-5): which receivables go together into one debit, what a failed
debit means to the payer and what to do about it (seed 000 Q44), and the reminder before the batch day.
Pure: dates and plain data in, plain data out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from .calendar import Month, batch_debit_date, format_date_zh
from .flexible import FlexReceivable, current_period, window_periods
from .money import yuan_to_fen
from .pension import RP_PENSION as RESIDENT_PENSION
from .policy import MEDICAL, PENSION, UNEMPLOYMENT
from .schemes import SchemeCode

#: The order debits are sent in for one account, so the balance serves medical first (R-FP-5).
KIND_ORDER = (MEDICAL, PENSION, UNEMPLOYMENT, RESIDENT_PENSION)
#: The kinds of debit each scheme's receivables are taken by.
KINDS_OF_SCHEME = {
    SchemeCode.FLEXIBLE: (MEDICAL, PENSION, UNEMPLOYMENT),
    SchemeCode.RESIDENT_PENSION: (RESIDENT_PENSION,),
}
KIND_LABELS = {
    MEDICAL: "职工基本医疗保险（本期应缴费与往期未缴费）",
    PENSION: "职工基本养老保险（本期应缴费）",
    UNEMPLOYMENT: "失业保险（本期应缴费）",
    RESIDENT_PENSION: "城乡居民基本养老保险（设置的缴费金额）",
}
#: Where the payer must deposit the money by (seed 000 Q41: 建议在每月7日前存足费款).
FUND_BY_DAY = 7

#: What to do after a failed batch debit, by the bank's reason (seed 000 Q44).
ADVICE = {
    "余额不足": "建议在每月7日前存足费款，也可在每月10-25日查缴日通过自主缴费渠道办理缴费。",
    "姓名或账户不一致": "请先到缴费卡银行核实个人基础信息，再到本人参保的人力资源公共服务中心或街道社保所"
    "核实个人基础信息与银行是否一致；如不一致，更正错误一方的个人数据。",
    "账户异常": "请到缴费开户银行核实账户情况。",
    "协议无效或已撤销": "请在缴费协议中重新签订协议，或在每月10-25日通过自主缴费渠道办理缴费。",
}
DEFAULT_ADVICE = "请在每月10-25日查缴日通过自主缴费渠道办理缴费。"


@dataclass(frozen=True)
class DebitGroup:
    """Receivables the bank takes in one debit, all or nothing."""

    kind: str
    receivables: tuple[FlexReceivable, ...]

    @property
    def amount_fen(self) -> int:
        """The debit's amount in fen."""
        return sum(yuan_to_fen(r.amount) for r in self.receivables)


def flex_groups(receivables: Iterable[FlexReceivable], batch_day: date, cycle: str = "monthly") -> list[DebitGroup]:
    """R-FP-5: medical 本期 and 往期 of the rolling window together; pension and unemployment 本期 only.
    Items outside the window, and 往期 pension or unemployment, are left to the payer. ``cycle`` is the
    缴费周期 governing pension and unemployment's 本期: under a quarterly, half-year or yearly one they are
    paid by agreement payment at the tax-office window (R-FB-8, Q24), never by the batch debit."""
    window = set(window_periods(batch_day))
    current = current_period(batch_day)
    items = list(receivables)
    groups: list[DebitGroup] = []
    medical = tuple(
        sorted((r for r in items if r.insurance == MEDICAL and r.fee_period in window), key=lambda r: r.fee_period)
    )
    if medical:
        groups.append(DebitGroup(MEDICAL, medical))
    for insurance in (PENSION, UNEMPLOYMENT) if cycle == "monthly" else ():
        now = tuple(r for r in items if r.insurance == insurance and r.fee_period == current)
        if now:
            groups.append(DebitGroup(insurance, now))
    return groups


def medical_held(declared: Iterable[Month], batch_day: date) -> bool:
    """R-FP-5 beside the payer's own declaration: when a medical month of the batch day's window sits in a
    declaration the payer made and has not paid (已申报待缴款), the batch day debits no medical at all, rather
    than 本期 without that 往期. The declaration stays the payer's to pay or void (docs/policy.md)."""
    window = set(window_periods(batch_day))
    return any(m in window for m in declared)


def advice(reason: str) -> str:
    """What the payer should do after a batch debit failed for this reason (Q44)."""
    return ADVICE.get(reason, DEFAULT_ADVICE)


def reminder(today: date) -> str | None:
    """R-BD-4: from the 1st to the day before the batch day, remind an agreement holder to fund the account."""
    day = batch_debit_date(today.year, today.month)
    if today >= day:
        return None
    fund_by = Month.of(today).day(min(FUND_BY_DAY, day.day - 1)) if day.day > 1 else today
    return (
        f"本月银行批量扣款日为{format_date_zh(day)}，请于{format_date_zh(fund_by)}前在签约银行账户存足费款，"
        "以免扣款失败。"
    )


def debit_no(batch_day: date, agreement_id: int, kind: str) -> str:
    """The key the bank knows a batch debit by: the same debit is the same number on every rerun."""
    return f"BD{batch_day:%Y%m%d}{agreement_id:010d}{KIND_CODES[kind]}"


KIND_CODES = {MEDICAL: "M", PENSION: "P", UNEMPLOYMENT: "U", RESIDENT_PENSION: "R"}


def ordered(kinds: Sequence[str]) -> list[str]:
    """Kinds in the order the bank should take them."""
    return sorted(kinds, key=lambda k: KIND_ORDER.index(k) if k in KIND_ORDER else len(KIND_ORDER))
