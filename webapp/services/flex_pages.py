"""The read models of the flexible-worker pages (灵活就业): one typed dataclass per page, worked out here so the
view only parses, calls and renders (issue 18 item 1). The payment pages read the person's open receivables
once (``flexible.open_items``) and cut them per rule in Python (issue 21's budget: ≤ 4 statements a page).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from ..domain import basis as policy_basis
from ..domain import flexible as rules
from ..domain.calendar import Month
from ..domain.errors import RuleViolation
from ..domain.policy import NoPolicyError, contribution_year
from ..domain.schemes import SCHEMES, SchemeCode
from ..domain.statuses import BaseSource, ChargeType, DeclarationKind
from ..models import BaseDeclaration, BatchDebit, Declaration, Enrolment, Person, Receivable
from . import batch_debit, flexible
from .pages import selection

STEPS = SCHEMES[SchemeCode.FLEXIBLE].steps


def _charge_type_label(today: date) -> Callable[[Receivable], str]:
    return lambda r: rules.CHARGE_TYPE_LABELS.get(flexible.charge_type_of(r, today), "")


# ------------------------------------------------------------------------------------- 选择缴费信息 (R-FP-*)


@dataclass(frozen=True)
class SelectPage:
    """选择缴费信息 (正常申报缴费 / 特殊核定缴费) and its live 合计."""

    tab: DeclarationKind
    enrolment: Enrolment | None
    items: list[Receivable]
    groups: dict[str, list[Receivable]]  # by insurance (normal) or by 征集通知流水号 (special)
    selected: set[str]
    total: Decimal
    window: rules.PayWindowState | None
    policy: rules.FlexPolicy | None
    no_policy: str | None
    lapse: str | None
    charge_type_of: Callable[[Receivable], str]
    labels: dict[str, str]
    steps: tuple[str, ...]
    needs_base: bool
    special_count: int
    open_decls: list[tuple[Declaration, list[Receivable]]]
    basis_line: str
    basis_year: int | None
    window_only: list[tuple[str, list[Receivable]]]
    failures: list[BatchDebit]


def select_page(
    session: Session, person: Person, tab: str | None, chosen: list[str] | None, now: datetime, today: date
) -> SelectPage:
    """The page for ``tab``, with ``chosen`` ticked (everything when None): one read of the open items."""
    kind = flexible.tab_of(tab)
    found = flexible.open_items(session, person, today)
    e = found.enrolment
    items = found.items_of_tab(kind) if e else []
    policy, no_policy = flexible.policy_or_none(e.region, today) if e else (None, None)
    groups, selected, total = selection(items, kind, chosen)
    state = found.window_state()
    policies = _policies(e, items) if e is not None and kind == DeclarationKind.NORMAL else []
    return SelectPage(
        tab=kind,
        enrolment=e,
        items=items,
        groups=groups,
        selected=selected,
        total=total,
        window=found.pay_window(now) if e else None,
        policy=policy,
        no_policy=no_policy,
        lapse=rules.lapse_warning(found.unpaid_medical_periods(), today) if e else None,
        charge_type_of=_charge_type_label(today),
        labels=rules.INSURANCE_LABELS,
        steps=STEPS,
        needs_base=bool(e and not e.subsidized and not found.has_declared and state and state.can_change),
        special_count=len(found.special_rows()) if e else 0,
        open_decls=found.open_declarations(kind) if e else [],
        basis_line=policy_basis.line_zh(policies),
        basis_year=policies[-1].contribution_year if policies else None,
        window_only=found.window_only() if e and kind == DeclarationKind.NORMAL else [],
        failures=batch_debit.failures_for(session, person.id, today, SchemeCode.FLEXIBLE) if e else [],
    )


def _policies(e: Enrolment, items: list[Receivable]) -> list[rules.FlexPolicy]:
    """The numbers behind the listed months, one policy per contribution year, oldest first: the page says in one
    line which year's numbers it uses (暂按上年度 only where a listed month is provisional, R-FB-6) and links to
    their 依据, where derived and unconfirmed numbers are marked."""
    found: dict[int, rules.FlexPolicy] = {}
    for month in sorted({Month.of(r.fee_period_start) for r in items if r.charge_type == ChargeType.NORMAL}):
        policy, _ = flexible.policy_or_none(e.region, month.first_day)
        if policy is not None:
            found.setdefault(policy.contribution_year, policy)
    return list(found.values())


# ------------------------------------------------------------------------------------- 应缴费信息查询 (R-FP-8)


@dataclass(frozen=True)
class DuePage:
    """应缴费信息查询: 待申报 (can be paid) and 已申报待缴款 (paid or voided)."""

    enrolment: Enrolment | None
    pending: list[Receivable]
    window_only: dict[int, str]  # receivable id → where and when it is paid (R-FB-8)
    failures: list[BatchDebit]
    by_decl: dict[int, list[Receivable]]
    labels: dict[str, str]
    charge_type_of: Callable[[Receivable], str]
    lapse: str | None


def due_page(session: Session, person: Person, today: date) -> DuePage:
    """The page, from one read of the open items."""
    found = flexible.open_items(session, person, today)
    e = found.enrolment
    return DuePage(
        enrolment=e,
        pending=found.window_rows() + found.special_rows() if e else [],
        window_only={r.id: message for message, rows in found.window_only() for r in rows} if e else {},
        failures=batch_debit.failures_for(session, person.id, today, SchemeCode.FLEXIBLE) if e else [],
        by_decl=found.declared_by_declaration() if e else {},
        labels=rules.INSURANCE_LABELS,
        charge_type_of=_charge_type_label(today),
        lapse=rules.lapse_warning(found.unpaid_medical_periods(), today) if e else None,
    )


# ------------------------------------------------------------------------------------- 缴费基数申报 (R-FB-*)


@dataclass(frozen=True)
class BaseRow:
    """险种 / 缴费基数 / 应缴金额 of one insurance; the amount only for a valid base."""

    insurance: str
    label: str
    amount: Decimal | None
    fixed: bool  # medical, or a subsidized worker's: a fixed amount, no base
    unknown: str | None  # the source gives no rate: said so, never invented


@dataclass(frozen=True)
class BasePage:
    """灵活就业人员缴费基数申报: the table, the window, the cycles. Without an enrolment only ``enrolment`` (None)
    and ``rows`` (empty) mean anything."""

    enrolment: Enrolment | None
    rows: list[BaseRow]
    state: rules.WindowState | None = None
    policy: rules.FlexPolicy | None = None
    no_policy: str | None = None
    year: int | None = None
    current: BaseDeclaration | None = None
    base_text: str = ""
    table_base: str = ""
    cycles: Sequence[str] | None = None
    source_label: str = ""
    cycle_labels: dict[str, str] | None = None
    cycle_rules: str = ""
    editing: bool = False
    basis_line: str = ""


def base_page(
    session: Session, person: Person, today: date, *, typed: str | None = None, edit: bool = False
) -> BasePage:
    """The page as stored, or with the base the user is typing (``typed``); ``edit``: 点击【修改】 was tapped."""
    e = flexible.enrolment_of(session, person.id)
    if e is None:
        return BasePage(enrolment=None, rows=[])  # the page says so; the live amounts (htmx) are an empty table
    state = flexible.window_state(session, e, today)
    year = state.target_year or contribution_year(today, e.region)
    policy, no_policy = flexible.policy_or_none(e.region, Month(year, 7).first_day if state.target_year else today)
    current = flexible.declared_base(session, e, year)
    base_text = typed if typed is not None else (str(current.base) if current else "")
    rows, valid = base_rows(e, policy, base_text)
    # R-FB-5: judged at the start of the year declared for (a cycle runs for the whole year, R-FB-8); the
    # months that then fall within 12 months of retirement are billed monthly whatever was chosen.
    year_start = flexible.region_year_start(e.region)
    on = max(today, Month(year, year_start).first_day) if state.target_year else today
    return BasePage(
        enrolment=e,
        rows=rows,
        state=state,
        policy=policy,
        no_policy=no_policy,
        year=year,
        current=current,
        base_text=base_text,
        # The table echoes the base as the server read it (7000, not the ７０００ an input method typed).
        table_base=str(valid) if valid is not None else base_text,
        cycles=rules.allowed_cycles(person.birth_date, person.sex, on) if person.birth_date else list(rules.CYCLES),
        source_label=source_label(current, policy),
        cycle_labels=rules.CYCLE_LABELS,
        cycle_rules=rules.cycle_rules_zh(year_start),
        # seed 000 §2 步骤1: the table first, 点击【修改】 to change it; typing (or nothing declared yet) is editing
        editing=typed is not None or current is None or edit,
        basis_line=policy_basis.line_zh([policy]) if policy else "",
    )


def source_label(current: BaseDeclaration | None, policy: rules.FlexPolicy | None) -> str:
    """Where this year's base came from, truthfully: a base brought into range was raised to a risen
    minimum (按下限) or lowered to a fallen maximum (按上限, R-FB-4), never "低于下限" for the latter."""
    if current is None:
        return ""
    if current.source == BaseSource.DECLARED:
        return "本人申报"
    if current.source == BaseSource.CARRIED:
        return "沿用上年度基数"
    if policy is not None and current.base == policy.base_max and current.base != policy.base_min:
        return "上年度基数高于上限，按上限确定"
    return "上年度基数低于下限，按下限确定"


def base_rows(e: Enrolment, policy: rules.FlexPolicy | None, base_text: str) -> tuple[list[BaseRow], int | None]:
    """险种 / 缴费基数 / 应缴金额 for each insurance (amounts only for a valid base), and the base read."""
    base: int | None = None
    if policy is not None and not e.subsidized:
        try:
            base = rules.validate_base(base_text, None, policy)
        except RuleViolation:
            base = None
    rows = []
    for ins in flexible.insurances(e):
        amount, unknown = None, None
        if policy is not None:
            try:
                amount = (
                    rules.monthly_amount(base, policy, ins, e.subsidized)
                    if (base is not None or e.subsidized or ins == rules.MEDICAL)
                    else None
                )
            except NoPolicyError as err:
                unknown = str(err)
            except RuleViolation:
                amount = None
        rows.append(BaseRow(ins, rules.INSURANCE_LABELS[ins], amount, ins == rules.MEDICAL or e.subsidized, unknown))
    return rows, base
