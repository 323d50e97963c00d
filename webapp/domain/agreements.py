"""缴费协议 rules that are dates and words (R-AG-8, seed 000 Q51–52): when an agreement made 失效 by a change of
社保经办机构 may be signed again, and how each change the bureau or the bank reports reads to the payer.
Pure: dates and strings in, dates and strings out.
"""

from __future__ import annotations

from datetime import date

from .calendar import Month, format_date_zh

#: Q52(2): 如缴费人当月变更社保经办机构，请于次月8日后重签缴费协议 — signing is open again after this day of the
#: month after the change (the 8th being the batch day, R-FP-4).
RESIGN_AFTER_DAY = 8

#: The changes a bureau file may report (R-AG-8, Q50–52), in the words the payer reads.
CHANGES = {
    "name": "缴费人姓名变更",
    "document": "缴费人证件信息变更",
    "si_agency": "社保经办机构变更",
    "account": "银行账户变更",
}


def resign_from(changed_on: date) -> date:
    """The first day a new agreement may be signed after a change of 社保经办机构 on ``changed_on``: the day
    after the 8th of the next month (Q52(2))."""
    return (Month.of(changed_on) + 1).day(RESIGN_AFTER_DAY + 1)


def invalid_reason(change: str, changed_on: date) -> str:
    """Why an agreement is 失效, as the list shows it (R-AG-8): the change, its date, what to do."""
    what = CHANGES[change]
    if change == "si_agency":
        return (
            f"{what}（{format_date_zh(changed_on)}），原协议失效。请于{format_date_zh(resign_from(changed_on))}起"
            "重新签订缴费协议（次月8日后重签）"
        )
    return f"{what}（{format_date_zh(changed_on)}），原协议失效，请重新签订缴费协议"
