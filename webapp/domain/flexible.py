"""Flexible workers (灵活就业人员): the rules R-FB-1..6 and R-FP-1..7 as pure functions on plain data.

The app maps its database rows to the small dataclasses here (``FlexReceivable``, ``PaidItem``)
and calls these functions; nothing here touches Flask, SQLAlchemy or the clock (dates and
times are arguments). Messages in ``RuleViolation`` and in the returned states are the Chinese
sentences to show the user.

Decisions (where the guide is ambiguous):

- R-FB-1: the base is typed once per insurance; an unemployment base of ``None`` means the
  worker is not enrolled in unemployment insurance. Out-of-range and non-integer bases get the
  same message naming the range; an empty field gets "请填写缴费基数".
- R-FB-3: the annual window comes from ``flex_windows.csv`` (default "about" 14 June – 25 July,
  seed 000 Q5); a declaration in it is for the contribution year that starts on 1 July of the
  same year. A new enrollee may declare once, the 10th–25th of the month after enrolment
  (seed 000 Q6, Q15), for the contribution year of that month. When both windows are open the
  annual one is reported.
- R-FB-4: ``effective_base`` clamps to [min, max] — raised to a new minimum (the guide) and
  lowered to a new maximum (用户须知 1: "高于上限的，以上限作为缴费基数").
- R-FB-5: legal retirement age follows the gradual reform in force since 2025-01-01 (men
  60 → 63 and women 55 → 58 by one month every four months of birth from 1965-01 / 1970-01;
  women 50 → 55 by one month every two months from 1975-01). A flexible-employed woman is taken
  as originally 55 (``female_original_age`` may say 50). "距法定退休年龄不足12个月": when
  fewer than 12 months remain (today after retirement date − 12 months), only monthly.
- R-FB-6: ``topup_amount`` returns the signed difference; ``topup_items`` lists only the
  months with a positive difference (补差). An overpayment is the bureau's refund (seed 000 Q53),
  not a receivable. The guide files 社平补差 under 政策性补缴 (Q11), so ``policy_backpay`` fits.
- R-FP-2: a selection without any medical item is allowed even when medical stays unpaid (the
  guide's screenshot pays pension alone); R-FP-7 warns about the lapse instead.
- R-FP-5: the batch debits the medical group first (本期 + 往期 together, all or nothing), then
  pension 本期, then unemployment 本期, each as far as the balance goes.
- R-FP-7: a medical fee period stays payable until the 25th of the third month after it (the
  rolling window). Three consecutive unpaid months lapse once the oldest leaves the window. Two
  consecutive unpaid months up to the current period warn with next month's 25th as the last
  day; three warn with this month's 25th; a run that already left the window says it lapsed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from .calendar import (
    BEIJING,
    SELF_SERVICE_FIRST_DAY,
    SELF_SERVICE_LAST_DAY,
    HolidayCalendar,
    Month,
    add_months,
    format_date_zh,
    is_batch_debit_day,
    next_self_service_opening,
    self_service_closes,
    self_service_open,
)
from .errors import RuleViolation
from .money import parse_whole_yuan, round_money
from .policy import (
    FLEX_INSURANCES,
    INSURANCE_LABELS,
    MEDICAL,
    PENSION,
    UNEMPLOYMENT,
    BaseWindow,
    FlexPolicy,
    NoPolicyError,
    PolicyTable,
    contribution_year,
)

__all__ = [
    "CHARGE_TYPE_LABELS",
    "CYCLES",
    "CYCLE_LABELS",
    "CYCLE_MONTHS",
    "FLEX_INSURANCES",
    "INSURANCE_LABELS",
    "MEDICAL",
    "NORMAL_CHARGE_TYPES",
    "PENSION",
    "SPECIAL_CHARGE_TYPES",
    "UNEMPLOYMENT",
    "BatchDebitPlan",
    "FlexReceivable",
    "Month",
    "NoPolicyError",
    "PaidItem",
    "PayWindowState",
    "RuleViolation",
    "TopUp",
    "WindowState",
    "allowed_cycles",
    "base_change_window",
    "batch_debit_items",
    "can_pay_now",
    "carry_over_base",
    "classify",
    "collection_month",
    "cycle_for_month",
    "contribution_year",
    "current_period",
    "declaration_needed",
    "effective_base",
    "ensure_may_declare",
    "lapse_warning",
    "monthly_amount",
    "monthly_amounts",
    "overdue_periods",
    "period_start",
    "retirement_date",
    "topup_amount",
    "topup_items",
    "validate_base",
    "validate_cycle",
    "validate_normal_selection",
    "validate_special_selection",
    "window_only_message",
    "window_periods",
]

CURRENT = "current"
OVERDUE = "overdue"
#: 缴费类型 labels (SPEC §12).
CHARGE_TYPE_LABELS: dict[str, str] = {
    CURRENT: "本期应缴费",
    OVERDUE: "往期未缴费",
    "missed_enrolment": "应参未参补缴",
    "policy_backpay": "政策性补缴",
    "other": "其他缴费",
}
NORMAL_CHARGE_TYPES = frozenset({CURRENT, OVERDUE})
SPECIAL_CHARGE_TYPES = frozenset({"missed_enrolment", "policy_backpay", "other"})

CYCLES: tuple[str, ...] = ("monthly", "quarterly", "half_year", "yearly")
CYCLE_LABELS: dict[str, str] = {
    "monthly": "按月缴费",
    "quarterly": "按季度缴费",
    "half_year": "按半年缴费",
    "yearly": "按年缴费",
}

#: The new enrollee declares between these days of the month after enrolment (seed 000 Q6, Q15).
NEW_ENROLLEE_FIRST_DAY = 10
NEW_ENROLLEE_LAST_DAY = 25
#: Months before legal retirement age from which only monthly payment is allowed (seed 001 用户须知 2).
MONTHLY_ONLY_BEFORE_RETIREMENT = 12
#: Months of the rolling window (滚动期): 本期 plus two 往期 (seed 000 Q25).
ROLLING_WINDOW_MONTHS = 3
#: Consecutive unpaid medical months that lapse (断缴, seed 000 Q26).
LAPSE_MONTHS = 3

MEDICAL_NO_BASE_NOTE = "职工基本医疗保险为固定费额，无需申报缴费基数"
SUBSIDIZED_NO_DECLARATION = "享受补贴人员的各险种缴费额为固定值，无需申报缴费基数"

MSG_EMPTY_SELECTION = "请选择需要缴费的信息"
MSG_STALE_SELECTION = "所选缴费信息有误，请刷新页面后重新选择"
MSG_MEDICAL_TOGETHER = "职工基本医疗保险的本期应缴费与往期未缴费须一次性全部缴纳"
MSG_NOTICE_TOGETHER = "同一征集通知流水号的待缴信息必须一起缴费"
MSG_BATCH_DAY = "今天是银行批量扣款日，已签订批量扣款协议的缴费人当日不能通过其他方式缴费，以免重复扣费"


# --------------------------------------------------------------------------- R-FB-1 / R-FB-2: bases and amounts


def declaration_needed(subsidized: bool) -> bool:
    """False for a subsidized person, whose amounts are fixed: no base to declare (R-FB-2)."""
    return not subsidized


def ensure_may_declare(subsidized: bool) -> None:
    """Refuse a base declaration from a subsidized person (R-FB-2)."""
    if subsidized:
        raise RuleViolation(SUBSIDIZED_NO_DECLARATION)


def _parse_base(text: str | None, policy: FlexPolicy) -> int:
    if text is None or not str(text).strip():
        raise RuleViolation("请填写缴费基数")
    range_msg = f"缴费基数须为{policy.range_text_zh}之间的整数"
    try:
        value = parse_whole_yuan(text)
    except ValueError:
        raise RuleViolation(range_msg) from None
    if not policy.base_min <= value <= policy.base_max:
        raise RuleViolation(range_msg)
    return value


def validate_base(
    text_pension: str | None, text_unemployment: str | None, policy: FlexPolicy, *, subsidized: bool = False
) -> int:
    """The declared base: a whole number in [min, max], pension equal to unemployment (R-FB-1)."""
    ensure_may_declare(subsidized)
    pension = _parse_base(text_pension, policy)
    if text_unemployment is not None:
        unemployment = _parse_base(text_unemployment, policy)
        if unemployment != pension:
            raise RuleViolation("养老保险与失业保险缴费基数须一致")
    return pension


def effective_base(declared: int, policy: FlexPolicy) -> int:
    """The base that applies under a policy: raised to its minimum, lowered to its maximum (R-FB-4)."""
    return min(max(declared, policy.base_min), policy.base_max)


def carry_over_base(last_base: int, new_policy: FlexPolicy) -> int:
    """Not declared in the window: last year's base carries over, clamped to the new range (R-FB-4)."""
    return effective_base(last_base, new_policy)


def monthly_amount(base: int | None, policy: FlexPolicy, insurance: str, subsidized: bool = False) -> Decimal:
    """One insurance's monthly amount: base × rate, the fixed medical amount, or the subsidized share (R-MO-1)."""
    if insurance not in FLEX_INSURANCES:
        raise ValueError(f"unknown insurance {insurance!r}")
    if subsidized:
        return policy.subsidized_amount(insurance)
    if insurance == MEDICAL:
        return policy.medical_amount()
    if base is None:
        raise ValueError("a base is needed for pension and unemployment")
    if not policy.base_min <= base <= policy.base_max:
        raise ValueError(f"base {base} outside [{policy.base_min}, {policy.base_max}]; use effective_base first")
    return round_money(Decimal(base) * policy.rate(insurance))


def monthly_amounts(
    base: int | None, policy: FlexPolicy, subsidized: bool = False, insurances: Iterable[str] = FLEX_INSURANCES
) -> dict[str, Decimal]:
    """Monthly amounts by insurance code; ``NoPolicyError`` when the policy lacks one asked for."""
    return {i: monthly_amount(base, policy, i, subsidized) for i in insurances}


# --------------------------------------------------------------------------- R-FB-3: when the base may change


@dataclass(frozen=True)
class WindowState:
    """Whether the base can be declared now, why, for which year, and when it can next be."""

    can_change: bool
    reason: str | None  # "annual" | "new_enrollee" | None
    target_year: int | None
    opens: date | None
    closes: date | None
    next_reason: str | None
    next_opens: date | None
    next_closes: date | None
    approximate: bool
    message_zh: str


def _span_zh(opens: date, closes: date) -> str:
    end = f"{closes.month}月{closes.day}日" if closes.year == opens.year else format_date_zh(closes)
    return f"{format_date_zh(opens)}至{end}"


def _approx(approximate: bool) -> str:
    return "（具体时间以通知为准）" if approximate else ""


def base_change_window(
    today: date,
    enrolled_on: date | None,
    has_declared_since_enrolment: bool,
    *,
    region: str = "beijing",
    table: PolicyTable | None = None,
    subsidized: bool = False,
) -> WindowState:
    """Can the base be declared today (annual 窗口期 or the new enrollee's once), and when next (R-FB-3)."""
    t = table if table is not None else PolicyTable.load()
    name = t.region_name(region)
    if subsidized:
        return WindowState(False, None, None, None, None, None, None, None, False, SUBSIDIZED_NO_DECLARATION)
    annual = t.base_window(region, today.year)
    newcomer: tuple[date, date] | None = None
    if enrolled_on is not None and not has_declared_since_enrolment:
        m = Month.of(enrolled_on) + 1
        newcomer = (m.day(NEW_ENROLLEE_FIRST_DAY), m.day(NEW_ENROLLEE_LAST_DAY))

    if (
        annual is not None
        and annual.contains(today)
        and (annual.opens.month, annual.opens.day, annual.closes.month, annual.closes.day) == (1, 1, 12, 31)
    ):
        return WindowState(
            True,
            "annual",
            annual.year,
            annual.opens,
            annual.closes,
            None,
            None,
            None,
            False,
            f"{name}灵活就业人员可随时选择缴费基数，选择后用于此后生成的应缴费",
        )
    if annual is not None and annual.contains(today):
        label = f"{annual.year}缴费年度"
        return WindowState(
            True,
            "annual",
            annual.year,
            annual.opens,
            annual.closes,
            None,
            None,
            None,
            annual.approximate,
            f"当前为缴费基数申报窗口期（{_span_zh(annual.opens, annual.closes)}）"
            f"{_approx(annual.approximate)}，可申报{label}缴费基数",
        )
    if newcomer is not None and newcomer[0] <= today <= newcomer[1]:
        year = t.contribution_year(region, today)
        return WindowState(
            True,
            "new_enrollee",
            year,
            newcomer[0],
            newcomer[1],
            None,
            None,
            None,
            False,
            f"您为新参保人员，可于{_span_zh(*newcomer)}申报一次缴费基数，申报后非窗口期内不可修改",
        )

    candidates: list[tuple[date, date, str, bool]] = []
    if newcomer is not None and today < newcomer[0]:
        candidates.append((newcomer[0], newcomer[1], "new_enrollee", False))
    upcoming: BaseWindow | None = (
        annual if annual is not None and today < annual.opens else t.base_window(region, today.year + 1)
    )
    if upcoming is not None:
        candidates.append((upcoming.opens, upcoming.closes, "annual", upcoming.approximate))
    if not candidates:
        return WindowState(
            False, None, None, None, None, None, None, None, False, f"暂无{name}缴费基数申报窗口期信息，请咨询12366"
        )
    opens, closes, reason, approximate = min(candidates)
    if reason == "new_enrollee":
        message = f"新参保人员可于{_span_zh(opens, closes)}申报一次缴费基数"
    else:
        # "一经确定" only where a base was declared: a new enrollee who never did is not told so (R-FB-7).
        fixed = "缴费基数一经确定，非窗口期不允许修改。" if has_declared_since_enrolment else ""
        message = f"{fixed}缴费基数可于{_span_zh(opens, closes)}窗口期内申报下一缴费年度基数{_approx(approximate)}"
    return WindowState(False, None, None, None, None, reason, opens, closes, approximate, message)


# --------------------------------------------------------------------------- R-FB-5: payment cycle


def _normal_sex(sex: str) -> str:
    s = sex.strip().lower()
    if s in {"m", "male", "男"}:
        return "M"
    if s in {"f", "female", "女"}:
        return "F"
    raise ValueError(f"unknown sex {sex!r}")


# (original age in years, first birth month affected, birth months per month of delay, maximum delay)
_REFORM = {
    ("M", 60): (60, Month(1965, 1), 4, 36),
    ("F", 55): (55, Month(1970, 1), 4, 36),
    ("F", 50): (50, Month(1975, 1), 2, 60),
}


def retirement_age_months(birth_date: date, sex: str, female_original_age: int = 55) -> int:
    """Legal retirement age in months under the gradual reform in force since 2025-01-01."""
    s = _normal_sex(sex)
    key = (s, 60) if s == "M" else ("F", female_original_age)
    if key not in _REFORM:
        raise ValueError("female_original_age must be 50 or 55")
    years, first, per, cap = _REFORM[key]
    born = Month.of(birth_date)
    delay = 0 if born < first else min(cap, born.months_since(first) // per + 1)
    return years * 12 + delay


def retirement_date(birth_date: date, sex: str, female_original_age: int = 55) -> date:
    """The day the person reaches legal retirement age (the 2025 gradual reform table)."""
    return add_months(birth_date, retirement_age_months(birth_date, sex, female_original_age))


def allowed_cycles(
    birth_date: date | None, sex: str | None, today: date, female_original_age: int = 55, insurance: str = PENSION
) -> tuple[str, ...]:
    """Cycles allowed for pension/unemployment; only monthly for medical or within 12 months of retirement."""
    if insurance == MEDICAL:
        return ("monthly",)
    if birth_date is None or sex is None:
        return CYCLES
    limit = add_months(retirement_date(birth_date, sex, female_original_age), -MONTHLY_ONLY_BEFORE_RETIREMENT)
    return ("monthly",) if today > limit else CYCLES


def validate_cycle(
    cycle: str, birth_date: date | None, sex: str | None, today: date, female_original_age: int = 55
) -> str:
    """The chosen pension/unemployment cycle, refused when not allowed (R-FB-5)."""
    if cycle not in CYCLES:
        raise RuleViolation("请选择缴费周期")
    if cycle not in allowed_cycles(birth_date, sex, today, female_original_age):
        raise RuleViolation("距法定退休年龄不足12个月的，缴费周期应为按月缴费")
    return cycle


# --------------------------------------------------------------------------- R-FB-8: cycles by month

#: Months per period of each cycle (R-FB-8, seed 000 Q24).
CYCLE_MONTHS: dict[str, int] = {"monthly": 1, "quarterly": 3, "half_year": 6, "yearly": 12}
WINDOW_ONLY_PLACES = "社保大厅税务窗口或办税服务厅"


def cycle_for_month(
    declared: str | None, fee_period: Month, birth_date: date | None, sex: str | None, female_original_age: int = 55
) -> str:
    """The cycle that governs one fee month: the year's declared cycle, monthly when none was declared
    or when the month falls within 12 months of legal retirement age (R-FB-5, checked per month)."""
    cycle = declared if declared in CYCLE_MONTHS else "monthly"
    if cycle != "monthly" and birth_date is not None and sex:
        limit = add_months(retirement_date(birth_date, sex, female_original_age), -MONTHLY_ONLY_BEFORE_RETIREMENT)
        if fee_period.last_day > limit:
            return "monthly"
    return cycle


def period_start(fee_period: Month, cycle: str, year_start_month: int = 7) -> Month:
    """The first fee month of the cycle's period holding ``fee_period`` (periods start in July, R-FB-8)."""
    size = CYCLE_MONTHS.get(cycle, 1)
    offset = (fee_period.month - year_start_month) % 12
    return fee_period + -(offset % size)


def collection_month(fee_period: Month, cycle: str, year_start_month: int = 7) -> Month:
    """The first collection month (首个征期月) of the period holding ``fee_period``: quarterly August,
    November, February, May; half-year August, February; yearly August (seed 000 Q24)."""
    return period_start(fee_period, cycle, year_start_month) + 1


def window_only_message(fee_period: Month, cycle: str, year_start_month: int = 7, today: date | None = None) -> str:
    """Where and when a non-monthly pension/unemployment bill is paid (R-FB-8, seed 000 Q24); once the first
    collection month has passed, it says so (docs/policy.md §9: Q24's month governs, not 用户须知 2's later one)."""
    first = period_start(fee_period, cycle, year_start_month)
    last = first + (CYCLE_MONTHS[cycle] - 1)
    due = collection_month(fee_period, cycle, year_start_month)
    when = f"须于{due.label_zh()}（首个征期月）"
    if today is not None and Month.of(today) > due:
        when = f"应于{due.label_zh()}（首个征期月）缴纳，该月已过，请尽快"
    return (
        f"您选择{CYCLE_LABELS[cycle]}，{first.label_zh()}至{last.label_zh()}属期的养老、失业保险费{when}"
        f"到{WINDOW_ONLY_PLACES}以协议支付方式申报缴纳，不能在本渠道自助缴费"
    )


def cycle_rules_zh(year_start_month: int = 7) -> str:
    """What a quarterly, half-year or yearly cycle means, in one line for the page where it is chosen
    (docs/policy.md §9): paid at the window in each period's first collection month (Q24), never by the batch
    debit (R-FB-8), no 断缴 for a late month (Q26 over seed 001 用户须知 3), suspension refunds (用户须知 4, Q53)."""
    start = Month(2000, year_start_month)
    parts = []
    for cycle in ("quarterly", "half_year", "yearly"):
        firsts = sorted({period_start(start + i, cycle, year_start_month) for i in range(12)})
        months = [collection_month(m, cycle, year_start_month) for m in firsts]
        parts.append(
            CYCLE_LABELS[cycle].removesuffix("缴费")
            + "于"
            + "、".join(f"{'次年' if m.year > start.year else ''}{m.month}月" for m in months)
        )
    return (
        f"选择按季度、按半年或按年缴费的，养老、失业保险费须在每个周期的首个征期月（{'；'.join(parts)}）到"
        f"{WINDOW_ONLY_PLACES}以协议支付方式缴纳，不参加银行批量扣款；医疗保险始终按月缴费。"
        "养老、失业保险实行累计制，未按时缴纳的不作断缴处理；周期内申请暂停缴费的，暂停当月及以后月份已缴的"
        "养老、失业保险费由人社部门退还。"
    )


# --------------------------------------------------------------------------- R-FB-6: 补差


@dataclass(frozen=True)
class PaidItem:
    """A month already paid: what was paid, on which base, and whether on provisional numbers."""

    fee_period: Month
    insurance: str
    amount: Decimal
    base: int | None = None
    provisional: bool = True


@dataclass(frozen=True)
class TopUp:
    """A 补差: the difference between what the final numbers ask and what was paid."""

    fee_period: Month
    insurance: str
    base: int | None
    paid: Decimal
    due: Decimal
    difference: Decimal


def topup_amount(
    paid_amount_provisional: Decimal,
    final_policy: FlexPolicy,
    base: int | None,
    insurance: str,
    subsidized: bool = False,
) -> Decimal:
    """What the final numbers ask minus what was paid on the provisional ones (signed; R-FB-6)."""
    if final_policy.provisional:
        raise ValueError("the final policy row has not arrived yet")
    used = effective_base(base, final_policy) if base is not None and insurance != MEDICAL else base
    due = monthly_amount(used, final_policy, insurance, subsidized)
    return round_money(due - paid_amount_provisional)


def _year_of(m: Month, start_month: int) -> int:
    return m.year if m.month >= start_month else m.year - 1


def topup_items(paid: Iterable[PaidItem], final_policy: FlexPolicy, subsidized: bool = False) -> list[TopUp]:
    """The provisional months of the policy's contribution year that now owe a positive 补差 (R-FB-6)."""
    out = []
    for item in paid:
        if not item.provisional:
            continue
        if _year_of(item.fee_period, final_policy.year_start_month) != final_policy.contribution_year:
            continue
        diff = topup_amount(item.amount, final_policy, item.base, item.insurance, subsidized)
        if diff > 0:
            base = effective_base(item.base, final_policy) if item.base is not None else None
            out.append(TopUp(item.fee_period, item.insurance, base, item.amount, item.amount + diff, diff))
    return sorted(out, key=lambda x: (x.fee_period, FLEX_INSURANCES.index(x.insurance)))


# --------------------------------------------------------------------------- R-FP-1: the rolling window


def current_period(today: date) -> Month:
    """本期应缴费: the month before the current month."""
    return Month.of(today) + -1


def overdue_periods(today: date) -> tuple[Month, ...]:
    """往期未缴费: the one or two months before 本期, most recent first."""
    cur = current_period(today)
    return tuple(cur + -i for i in range(1, ROLLING_WINDOW_MONTHS))


def window_periods(today: date) -> tuple[Month, ...]:
    """The rolling window (滚动期): 本期 then the 往期, most recent first."""
    return (current_period(today), *overdue_periods(today))


def classify(fee_period: Month | date, today: date) -> str | None:
    """``current``, ``overdue``, or None when the period is outside the rolling window (R-FP-1)."""
    m = fee_period if isinstance(fee_period, Month) else Month.of(fee_period)
    if m == current_period(today):
        return CURRENT
    if m in overdue_periods(today):
        return OVERDUE
    return None


# --------------------------------------------------------------------------- R-FP-2 / R-FP-3: selections


@dataclass(frozen=True)
class FlexReceivable:
    """One payable item as the rules see it."""

    id: int
    insurance: str
    fee_period: Month
    amount: Decimal
    charge_type: str
    notice_no: str | None = None


def _chosen(selected_ids: Iterable[int], items: Sequence[FlexReceivable]) -> list[FlexReceivable]:
    ids = list(dict.fromkeys(selected_ids))
    if not ids:
        raise RuleViolation(MSG_EMPTY_SELECTION)
    by_id = {r.id: r for r in items}
    if any(i not in by_id for i in ids):
        raise RuleViolation(MSG_STALE_SELECTION)
    return [by_id[i] for i in ids]


def validate_normal_selection(
    selected_ids: Iterable[int], receivables: Sequence[FlexReceivable]
) -> list[FlexReceivable]:
    """正常申报缴费: pension/unemployment any subset; medical all of the window or none (R-FP-2)."""
    chosen = _chosen(selected_ids, receivables)
    if any(r.charge_type not in NORMAL_CHARGE_TYPES for r in chosen):
        raise RuleViolation("应参未参补缴、政策性补缴和其他缴费请在“特殊核定缴费”页签中缴纳")
    chosen_ids = {r.id for r in chosen}
    medical = {r.id for r in receivables if r.insurance == MEDICAL and r.charge_type in NORMAL_CHARGE_TYPES}
    if chosen_ids & medical and not medical <= chosen_ids:
        raise RuleViolation(MSG_MEDICAL_TOGETHER)
    return chosen


def validate_special_selection(selected_ids: Iterable[int], items: Sequence[FlexReceivable]) -> list[FlexReceivable]:
    """特殊核定缴费: items sharing a 征集通知流水号 are paid together (R-FP-3)."""
    chosen = _chosen(selected_ids, items)
    if any(r.charge_type in NORMAL_CHARGE_TYPES for r in chosen):
        raise RuleViolation("本期应缴费和往期未缴费请在“正常申报缴费”页签中缴纳")
    chosen_ids = {r.id for r in chosen}
    for notice in sorted({r.notice_no for r in chosen if r.notice_no}):
        group = {r.id for r in items if r.notice_no == notice}
        if not group <= chosen_ids:
            raise RuleViolation(f"{MSG_NOTICE_TOGETHER}，请同时勾选征集通知流水号为{notice}的全部待缴信息")
    return chosen


# --------------------------------------------------------------------------- R-FP-4: may the payer pay now


@dataclass(frozen=True)
class PayWindowState:
    """Whether self-service payment is open for this payer now, and what to tell them."""

    open: bool
    message_zh: str
    reason: str  # "open" | "closed" | "batch_day"
    next_opening: datetime | None = None
    closes: datetime | None = None


def _local_date(at: datetime) -> date:
    return (at.astimezone(BEIJING) if at.tzinfo is not None else at).date()


def can_pay_now(at: datetime, has_batch_agreement: bool, cal: HolidayCalendar | None = None) -> PayWindowState:
    """Self-service payment runs the 10th–25th; a debit-agreement payer cannot pay on the batch day (R-FP-4)."""
    if not self_service_open(at):
        nxt = next_self_service_opening(at)
        return PayWindowState(
            False,
            f"自助缴费时间为每月{SELF_SERVICE_FIRST_DAY}日至{SELF_SERVICE_LAST_DAY}日，"
            f"下次开放时间：{format_date_zh(nxt.date())}",
            "closed",
            nxt,
        )
    today = _local_date(at)
    if has_batch_agreement and is_batch_debit_day(today, cal):
        tomorrow = datetime.combine(today + timedelta(days=1), time(0, 0), BEIJING if at.tzinfo else None)
        nxt = tomorrow if self_service_open(tomorrow) else next_self_service_opening(tomorrow)
        return PayWindowState(False, f"{MSG_BATCH_DAY}，请于{format_date_zh(nxt.date())}起自助缴费", "batch_day", nxt)
    closes = self_service_closes(at)
    return PayWindowState(True, f"本月自助缴费截止时间：{format_date_zh(closes.date())}24时", "open", None, closes)


# --------------------------------------------------------------------------- R-FP-5: batch debit


@dataclass(frozen=True)
class BatchDebitPlan:
    """What a batch debit takes: debited items, failed ones with the reason, and those it never takes."""

    debited: tuple[FlexReceivable, ...]
    failed: tuple[tuple[FlexReceivable, str], ...]
    not_included: tuple[FlexReceivable, ...]
    total: Decimal
    remaining_balance: Decimal


def batch_debit_items(receivables: Sequence[FlexReceivable], balance: Decimal) -> BatchDebitPlan:
    """Medical 本期+往期 all or nothing, then pension and unemployment 本期 only, as the balance allows (R-FP-5)."""
    left = round_money(balance)
    debited: list[FlexReceivable] = []
    failed: list[tuple[FlexReceivable, str]] = []
    short = "账户余额不足，扣款失败"
    medical = sorted(
        (r for r in receivables if r.insurance == MEDICAL and r.charge_type in NORMAL_CHARGE_TYPES),
        key=lambda r: r.fee_period,
    )
    medical_total = sum((r.amount for r in medical), Decimal("0"))
    if medical:
        if medical_total <= left:
            debited.extend(medical)
            left -= medical_total
        else:
            failed.extend((r, short + "（职工基本医疗保险本期与往期须一并扣款）") for r in medical)
    for insurance in (PENSION, UNEMPLOYMENT):
        for r in receivables:
            if r.insurance == insurance and r.charge_type == CURRENT:
                if r.amount <= left:
                    debited.append(r)
                    left -= r.amount
                else:
                    failed.append((r, short))
    taken = {r.id for r in debited} | {r.id for r, _ in failed}
    not_included = tuple(r for r in receivables if r.id not in taken)
    return BatchDebitPlan(
        tuple(debited), tuple(failed), not_included, sum((r.amount for r in debited), Decimal("0.00")), left
    )


# --------------------------------------------------------------------------- R-FP-7: lapse warning


def lapse_warning(unpaid_medical_periods: Iterable[Month], today: date) -> str | None:
    """A warning when medical is unpaid for two or more consecutive months up to 本期 (R-FP-7); else None."""
    unpaid = set(unpaid_medical_periods)
    if not unpaid:
        return None
    oldest_payable = current_period(today) + -(ROLLING_WINDOW_MONTHS - 1)
    lapsed = "职工基本医疗保险已连续3个月未缴费，将按断缴处理，断缴后需重新办理参保登记"
    # A run of three that already reaches outside the rolling window can no longer be closed.
    for m in unpaid:
        if m < oldest_payable and all(m + i in unpaid for i in range(LAPSE_MONTHS)):
            return lapsed
    run = 0
    m = current_period(today)
    while m in unpaid:
        run += 1
        m = m + -1
    if run >= LAPSE_MONTHS:
        if today.day > SELF_SERVICE_LAST_DAY:
            return lapsed
        deadline = Month.of(today).day(SELF_SERVICE_LAST_DAY)
    elif run == LAPSE_MONTHS - 1:
        deadline = (Month.of(today) + 1).day(SELF_SERVICE_LAST_DAY)
    else:
        return None
    return (
        f"职工基本医疗保险已连续{min(run, LAPSE_MONTHS)}个月未缴费，如{format_date_zh(deadline)}前仍未缴纳"
        "将断缴，断缴后需重新办理参保登记"
    )
