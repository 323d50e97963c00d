"""Urban-rural resident pension (城乡居民养老): the rules R-RP-1 … R-RP-3 as pure functions on plain data.

The services map database rows to these and back; nothing here touches Flask, SQLAlchemy or the clock.
Messages in ``RuleViolation`` are the Chinese sentences the user reads.

Decisions (where the guides are silent):

- The pension year is the calendar year (费款所属期 2026-01 至 2026-12), as for resident medical; the
  amount is set for 本年度 (seed 003 §1.4: 设置本年度缴纳险种的缴费金额).
- R-RP-1 缴费金额有效期起止: a setting is valid from the day it is made (or 1 January, when it is made
  for a later year) to 31 December of its year. A voided setting keeps its period: the batch debit
  skips that insurance for those days (seed 003 §1.5: 作废后，此险种在缴费金额有效期起止内不再继续批扣).
- R-RP-1 carried amount (正常缴费 shows 您设置的历史应缴费额): a year nobody set is generated at the
  amount last set for an earlier year, moved onto the new year's grades — the highest grade not above
  it, or the minimum when it is below them all.
- R-RP-3 申报处理中 is a declaration whose agreement debit (协议支付) is still waiting for the bank.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from .errors import RuleViolation
from .money import format_yuan

RP_PENSION = "rp_pension"
#: The resident pension insurances (险种) a payer sets an amount for, in display order.
INSURANCES: tuple[str, ...] = (RP_PENSION,)
LABELS: dict[str, str] = {RP_PENSION: "城乡居民基本养老保险"}

MSG_NO_AMOUNT = "请选择缴费金额"
MSG_NOTICE_TOGETHER = "同一征集通知流水号的待缴信息必须一起缴费"
MSG_EMPTY_SELECTION = "请选择需要缴费的信息"
MSG_STALE_SELECTION = "所选缴费信息有误，请刷新页面后重新选择"

#: R-RP-3 申报状态 as the guide names them.
DECLARED_OK = "申报成功"
DECLARED_PROCESSING = "申报处理中"
DECLARED_VOID = "已作废"


def pension_year(today: date) -> int:
    """The pension year (缴费年度) a date falls in: the calendar year."""
    return today.year


def fee_period(year: int) -> tuple[date, date]:
    """The first and last fee period (first days of months) of a pension year."""
    return date(year, 1, 1), date(year, 12, 1)


def grade_text(amount: Decimal) -> str:
    """``2,000.00元``: how a grade reads on a screen."""
    return f"{format_yuan(amount)}元"


def parse_grade(text: str | None, grades: Sequence[Decimal], year: int) -> Decimal:
    """The amount chosen on the form, if it is one of the year's grades (R-RP-1); ``RuleViolation`` else.

    The form offers the grades as a list, so anything else is a stale or tampered form.
    """
    s = unicodedata.normalize("NFKC", text or "").strip().replace(",", "")
    if s.endswith("元"):
        s = s[:-1].strip()
    if not s:
        raise RuleViolation(MSG_NO_AMOUNT)
    try:
        amount = Decimal(s)
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount not in grades:
        low, high = grade_text(min(grades)), grade_text(max(grades))
        raise RuleViolation(f"缴费金额须为{year}年度的缴费档次之一（{low}至{high}），请重新选择")
    return amount.quantize(Decimal("0.01"))


def validity(year: int, set_on: date) -> tuple[date, date]:
    """缴费金额有效期起止 of a setting made on ``set_on`` for ``year`` (see the module's decisions)."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    if set_on > last:
        raise RuleViolation(f"{year}年度已结束，不能再设置该年度的缴费金额")
    return max(first, set_on), last


def carried_amount(previous: Decimal, grades: Sequence[Decimal]) -> Decimal:
    """An earlier year's set amount moved onto this year's grades (see the module's decisions)."""
    below = [g for g in grades if g <= previous]
    return max(below) if below else min(grades)


@dataclass(frozen=True)
class SpecialItem:
    """A 人社核定 item as the selection rule sees it."""

    id: int
    notice_no: str | None


def validate_special_selection(selected_ids: Iterable[int], items: Sequence[SpecialItem]) -> list[SpecialItem]:
    """特殊缴费: the chosen items exist, and items sharing a 征集通知流水号 are paid together."""
    ids = list(dict.fromkeys(selected_ids))
    if not ids:
        raise RuleViolation(MSG_EMPTY_SELECTION)
    by_id = {i.id: i for i in items}
    if any(i not in by_id for i in ids):
        raise RuleViolation(MSG_STALE_SELECTION)
    chosen = [by_id[i] for i in ids]
    for notice in sorted({i.notice_no for i in chosen if i.notice_no}):
        if not {i.id for i in items if i.notice_no == notice} <= set(ids):
            raise RuleViolation(f"{MSG_NOTICE_TOGETHER}，请同时勾选征集通知流水号为{notice}的全部待缴信息")
    return chosen


def declaration_state(status: str, agreement_debit_pending: bool) -> str:
    """申报状态 of a declaration (R-RP-3): 申报成功, 申报处理中 (an agreement debit under way), 已作废."""
    if status == "void":
        return DECLARED_VOID
    if status == "declared" and agreement_debit_pending:
        return DECLARED_PROCESSING
    return DECLARED_OK
