"""Flexible workers (灵活就业) over the database: bases per contribution year, the monthly receivables,
the bureau's special items, and what the pages show. The rules themselves live in ``domain.flexible``
(pure); this module maps rows to them and back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..db import atomic
from ..domain import flexible as rules
from ..domain.calendar import BEIJING, Month
from ..domain.errors import RuleViolation
from ..domain.money import yuan_to_fen
from ..domain.policy import NoPolicyError, PolicyTable, contribution_year, flex_policy
from ..domain.schemes import SchemeCode
from ..domain.statuses import (
    SPECIAL_CHARGE_TYPES,
    AgreementStatus,
    BaseSource,
    ChargeType,
    DeclarationKind,
    EnrolmentStatus,
    ReceivableStatus,
)
from ..models import Agreement, BaseDeclaration, Declaration, Enrolment, Person, Receivable
from . import agreements, enrolments
from .declarations import declare, parse_ids
from .imports import RowError, special_items_spec

SCHEME = SchemeCode.FLEXIBLE
SPECIAL_TYPES = tuple(sorted(SPECIAL_CHARGE_TYPES))


def enrolment_of(session: Session, person_id: int) -> Enrolment | None:
    """The person's flexible-worker enrolment (参保信息), if any (read once per session)."""
    return enrolments.enrolment_of(session, person_id, SCHEME)


@dataclass
class OpenItems:
    """What a flexible worker's pages cut several ways, read once (issue 21: a page's statements are the
    login, these two reads and at most one more): the enrolment with every base row and whether a batch-debit
    agreement is in effect for its 税务机关, then every receivable still open (待缴 or 已申报) with its
    declaration."""

    person: Person
    enrolment: Enrolment | None
    bases: dict[int, BaseDeclaration]  # by contribution year
    batch_agreement: bool
    rows: list[Receivable]  # every open flexible receivable of the person
    declarations: dict[int, Declaration]  # the declarations of the declared rows, by id
    today: date

    @property
    def has_declared(self) -> bool:
        """Has this worker ever declared a base themselves?"""
        return any(b.source == BaseSource.DECLARED for b in self.bases.values())

    def window_rows(self, statuses: Iterable[str] = (ReceivableStatus.DUE,)) -> list[Receivable]:
        """Normal receivables of the rolling window (本期 + 往期), newest month first (R-FP-1)."""
        periods = {m.first_day for m in rules.window_periods(self.today)}
        wanted = set(statuses)
        return sorted(
            (
                r
                for r in self.rows
                if r.charge_type == ChargeType.NORMAL and r.status in wanted and r.fee_period_start in periods
            ),
            key=lambda r: (-r.fee_period_start.toordinal(), r.id),
        )

    def special_rows(self) -> list[Receivable]:
        """Special items (特殊核定) still due, by 征集通知流水号 (R-FP-3)."""
        return sorted(
            (r for r in self.rows if r.charge_type in SPECIAL_TYPES and r.status == ReceivableStatus.DUE),
            key=lambda r: (r.notice_no or "", r.id),
        )

    def cycle_of_month(self, month: Month) -> str:
        """The cycle governing one fee month (R-FB-5, R-FB-8), from the base rows read."""
        e = self.enrolment
        if e is None or e.subsidized:
            return "monthly"
        row = self.bases.get(contribution_year(month, e.region))
        p = self.person
        return rules.cycle_for_month(row.cycle if row is not None else None, month, p.birth_date, p.sex)

    def split_by_cycle(self, rows: list[Receivable]) -> tuple[list[Receivable], list[Receivable]]:
        """(self-service, window-only): pension/unemployment of a month under a non-monthly cycle are paid at
        the tax-office window by agreement payment, not here (R-FB-8, seed 000 Q24)."""
        if self.enrolment is None or self.enrolment.subsidized:
            return rows, []
        here: list[Receivable] = []
        window: list[Receivable] = []
        for r in rows:
            monthly = r.insurance == rules.MEDICAL or self.cycle_of_month(Month.of(r.fee_period_start)) == "monthly"
            (here if monthly else window).append(r)
        return here, window

    def items_of_tab(self, tab: str) -> list[Receivable]:
        """正常申报缴费 (the rolling window, monthly-cycle items) or 特殊核定缴费 (items by notice number)."""
        if tab == DeclarationKind.SPECIAL:
            return self.special_rows()
        return self.split_by_cycle(self.window_rows())[0]

    def window_only(self) -> list[tuple[str, list[Receivable]]]:
        """Pension/unemployment bills under a quarterly, half-year or yearly cycle, with where and when each
        period is paid (R-FB-8): listed, not offered for self-service payment."""
        rows = self.split_by_cycle(self.window_rows())[1]
        if self.enrolment is None or not rows:
            return []
        start = region_year_start(self.enrolment.region)
        out: dict[str, list[Receivable]] = {}
        for r in sorted(rows, key=lambda r: (r.fee_period_start, rules.FLEX_INSURANCES.index(r.insurance))):
            m = Month.of(r.fee_period_start)
            out.setdefault(rules.window_only_message(m, self.cycle_of_month(m), start, self.today), []).append(r)
        return list(out.items())

    def unpaid_medical_periods(self) -> list[Month]:
        """Medical fee periods of the window still unpaid (for the lapse warning, R-FP-7)."""
        rows = self.window_rows(statuses=(ReceivableStatus.DUE, ReceivableStatus.DECLARED))
        return sorted(Month.of(r.fee_period_start) for r in rows if r.insurance == rules.MEDICAL)

    def declared_by_declaration(self) -> dict[int, list[Receivable]]:
        """已申报待缴款: the declared, unpaid items, by declaration (R-FP-8)."""
        by_decl: dict[int, list[Receivable]] = {}
        declared = (r for r in self.rows if r.status == ReceivableStatus.DECLARED)
        for r in sorted(declared, key=lambda r: (r.declaration_id or 0, r.fee_period_start, r.id)):
            by_decl.setdefault(r.declaration_id or 0, []).append(r)
        return by_decl

    def open_declarations(self, tab: str | None = None) -> list[tuple[Declaration, list[Receivable]]]:
        """已申报待缴款 of this worker (of one tab when given), oldest first (R-FP-1, R-FP-8)."""
        out = []
        for decl_id, rows in self.declared_by_declaration().items():
            decl = self.declarations.get(decl_id)
            if decl is None or decl.payer_id != self.person.id:
                continue
            special = any(r.charge_type in SPECIAL_TYPES for r in rows)
            if tab is None or tab_of(tab) == (DeclarationKind.SPECIAL if special else DeclarationKind.NORMAL):
                out.append((decl, rows))
        return out

    def pay_window(self, now: datetime) -> rules.PayWindowState:
        """Whether the worker may pay here now: the 10th–25th, and not on the batch day with a batch-debit
        agreement (R-FP-4)."""
        return rules.can_pay_now(now, bool(self.enrolment and self.batch_agreement))

    def window_state(self) -> rules.WindowState | None:
        """When this worker may declare or change the base (R-FB-3); None without an enrolment."""
        e = self.enrolment
        if e is None:
            return None
        return rules.base_change_window(
            self.today, e.enrolled_on, self.has_declared, region=e.region, subsidized=e.subsidized
        )


def tab_of(value: str | None) -> DeclarationKind:
    """The tab of 选择缴费信息 a request names (正常申报缴费 or 特殊核定缴费); 正常申报缴费 for anything else."""
    return DeclarationKind.of(value)


def open_items(session: Session, person: Person, today: date) -> OpenItems:
    """One read of the enrolment (with its base rows and batch-agreement flag) and one of the open receivables
    (with their declarations): everything the payment pages cut in Python."""
    batch = (
        select(Agreement.id)
        .where(
            Agreement.payer_id == Enrolment.person_id,
            Agreement.batch_debit.is_(True),
            Agreement.status == AgreementStatus.SIGNED,
            Agreement.effective_on <= today,
            Agreement.tax_office == Enrolment.tax_office,
        )
        .exists()
    )
    e: Enrolment | None = None
    bases: dict[int, BaseDeclaration] = {}
    has_batch = False
    for enrolment, base_row, flag in session.execute(
        select(Enrolment, BaseDeclaration, batch)
        .outerjoin(BaseDeclaration, BaseDeclaration.enrolment_id == Enrolment.id)
        .where(Enrolment.person_id == person.id, Enrolment.scheme == SCHEME)
    ):
        e, has_batch = enrolment, bool(flag)
        if base_row is not None:
            bases[base_row.contribution_year] = base_row
    if e is None:
        return OpenItems(person, None, {}, False, [], {}, today)
    session.info.setdefault("enrolments", {})[(person.id, str(SCHEME))] = e  # enrolment_of finds it
    rows: list[Receivable] = []
    decls: dict[int, Declaration] = {}
    for r, d in session.execute(
        select(Receivable, Declaration)
        .outerjoin(Declaration, Declaration.id == Receivable.declaration_id)
        .where(
            Receivable.insured_id == person.id,
            Receivable.scheme == SCHEME,
            Receivable.status.in_((ReceivableStatus.DUE, ReceivableStatus.DECLARED)),
        )
        .order_by(Receivable.id)
    ):
        rows.append(r)
        if d is not None:
            decls[d.id] = d
    return OpenItems(person, e, bases, has_batch, rows, decls, today)


def insurances(e: Enrolment) -> list[str]:
    """The insurances the worker is enrolled in, in the guide's order."""
    chosen = set((e.insurances or "pension,unemployment,medical").split(","))
    return [i for i in rules.FLEX_INSURANCES if i in chosen]


def declared_base(session: Session, e: Enrolment, year: int) -> BaseDeclaration | None:
    """The base row of one contribution year."""
    return session.scalar(
        select(BaseDeclaration).where(BaseDeclaration.enrolment_id == e.id, BaseDeclaration.contribution_year == year)
    )


def has_declared(session: Session, e: Enrolment) -> bool:
    """Has this worker ever declared a base themselves?"""
    return (
        session.scalar(
            select(BaseDeclaration.id)
            .where(BaseDeclaration.enrolment_id == e.id, BaseDeclaration.source == BaseSource.DECLARED)
            .limit(1)
        )
        is not None
    )


def base_for_year(
    session: Session, e: Enrolment, year: int, policy: rules.FlexPolicy, *, persist: bool = False
) -> int | None:
    """The base of a contribution year: declared, else last year's carried over and raised (R-FB-4)."""
    row = declared_base(session, e, year)
    if row is not None:
        return rules.effective_base(row.base, policy)
    earlier = session.scalar(
        select(BaseDeclaration)
        .where(BaseDeclaration.enrolment_id == e.id, BaseDeclaration.contribution_year < year)
        .order_by(BaseDeclaration.contribution_year.desc())
        .limit(1)
    )
    if earlier is None:
        return None
    base = rules.carry_over_base(earlier.base, policy)
    if persist:
        session.add(
            BaseDeclaration(
                enrolment_id=e.id,
                contribution_year=year,
                base=base,
                source=BaseSource.CARRIED if base == earlier.base else BaseSource.RAISED,
            )
        )
    return base


def window_state(session: Session, e: Enrolment, today: date) -> rules.WindowState:
    """When this worker may declare or change the base (R-FB-3)."""
    return rules.base_change_window(
        today, e.enrolled_on, has_declared(session, e), region=e.region, subsidized=e.subsidized
    )


def cycle_of_month(session: Session, e: Enrolment, month: Month, person: Person | None = None) -> str:
    """The cycle governing one fee month: its contribution year's declared cycle, monthly when none was
    declared or within 12 months of legal retirement age at that month (R-FB-5, R-FB-8)."""
    if e.subsidized:
        return "monthly"
    year = contribution_year(month, e.region)
    row = declared_base(session, e, year)
    who = person or session.get(Person, e.person_id)
    return rules.cycle_for_month(
        row.cycle if row is not None else None, month, who.birth_date if who else None, who.sex if who else None
    )


@atomic
def declare_base(
    session: Session, e: Enrolment, *, pension: str, unemployment: str | None, cycle: str, person: Person, today: date
) -> BaseDeclaration:
    """缴费基数申报 (R-FB-1..5, R-FB-7, R-FB-8): in the window, a whole base in range, the same for both
    insurances, with the cycle for the whole contribution year. A new enrollee's first declaration also
    covers the months since enrolment (至本年或次年6月), which are then billed."""
    rules.ensure_may_declare(e.subsidized)
    state = window_state(session, e, today)
    if not state.can_change or state.target_year is None:
        raise RuleViolation(state.message_zh)
    start_month = region_year_start(e.region)
    policy = flex_policy(e.region, Month(state.target_year, start_month).first_day)
    enrolled = insurances(e)
    base = rules.validate_base(pension, unemployment if rules.UNEMPLOYMENT in enrolled else None, policy)
    year_start = Month(state.target_year, start_month).first_day
    rules.validate_cycle(cycle, person.birth_date, person.sex, max(today, year_start))
    first = not has_declared(session, e)
    row = _store_base(session, e, state.target_year, base, cycle)
    if first and e.enrolled_on is not None:
        # R-FB-7: the years from enrolment up to the target year take the same base (clamped to each
        # year's range); their cycle stays monthly (R-FB-8: a cycle runs for a whole year from July).
        for year in range(contribution_year(e.enrolled_on, e.region), state.target_year):
            try:
                year_policy = flex_policy(e.region, Month(year, start_month).first_day)
            except NoPolicyError:
                continue
            _store_base(session, e, year, rules.effective_base(base, year_policy), "monthly")
    e.pay_cycle = cycle
    session.flush()
    if first:
        backfill(session, e)
    return row


def _store_base(session: Session, e: Enrolment, year: int, base: int, cycle: str) -> BaseDeclaration:
    row = declared_base(session, e, year)
    if row is None:
        row = BaseDeclaration(
            enrolment_id=e.id, contribution_year=year, base=base, source=BaseSource.DECLARED, cycle=cycle
        )
        session.add(row)
    else:
        row.base, row.source, row.cycle = base, BaseSource.DECLARED, cycle
    return row


def region_year_start(region: str) -> int:
    """The first month of a region's contribution year (7 in Beijing)."""
    return PolicyTable.load().region(region).year_start_month  # the packaged table (cached)


@dataclass(frozen=True)
class MonthResult:
    """What ``generate_month`` did."""

    created: int
    skipped_no_base: int
    topups: int
    repriced: int = 0


def _bill(session: Session, e: Enrolment, month: Month, policy: rules.FlexPolicy, base: int | None) -> int:
    """The month's receivables of one enrolment that do not exist yet; pension and unemployment only
    with a base (or subsidized). Returns how many were created."""
    created = 0
    for insurance in insurances(e):
        if insurance != rules.MEDICAL and base is None and not e.subsidized:
            continue
        key = f"flex:{e.id}:{insurance}:{month}"
        if session.scalar(select(Receivable.id).where(Receivable.natural_key == key)) is not None:
            continue
        try:
            amount = rules.monthly_amount(None if insurance == rules.MEDICAL else base, policy, insurance, e.subsidized)
        except NoPolicyError:
            continue  # the source gives no amount for it (Qingdao): nothing is invented
        session.add(
            Receivable(
                natural_key=key,
                insured_id=e.person_id,
                enrolment_id=e.id,
                scheme=SCHEME,
                insurance=insurance,
                fee_period_start=month.first_day,
                fee_period_end=month.first_day,
                base=None if insurance == rules.MEDICAL or e.subsidized else base,
                amount_fen=yuan_to_fen(amount),
                charge_type=ChargeType.NORMAL,
                notice_no=None,
                si_serial=f"{e.person_id:06d}{month.year}{month.month:02d}{rules.FLEX_INSURANCES.index(insurance)}",
                tax_office=e.tax_office,
                si_agency=e.si_agency,
                special_category=e.special_category,
                provisional=policy.provisional,
            )
        )
        created += 1
    return created


def _base_of_month(session: Session, e: Enrolment, month: Month, policy: rules.FlexPolicy) -> int | None:
    """The base billing uses for a month: the year's row (declared, carried, raised); for someone who
    never declared, None for the enrolment month (the new-enrollee window is still to come, R-FB-7) and
    the year's minimum after it (Q16)."""
    if e.subsidized:
        return None
    base = base_for_year(session, e, policy.contribution_year, policy, persist=True)
    if base is None and month > Month.of(e.enrolled_on):
        return policy.base_min
    return base


def generate_month(session: Session, month: Month, region: str, table: PolicyTable | None = None) -> MonthResult:
    """Build one fee period's receivables from enrolments and bases (idempotent), and the 补差 items
    for months paid provisionally once their year's numbers exist (R-FB-6). Medical needs no base, so a
    new enrollee is billed for it from the first month (R-FB-7, Q20)."""
    policy = flex_policy(region, month, table)
    created = skipped = 0
    rows = session.scalars(
        select(Enrolment).where(
            Enrolment.scheme == SCHEME, Enrolment.region == region, Enrolment.status == EnrolmentStatus.ACTIVE
        )
    )
    for e in rows:
        first = Month.of(e.enrolled_on)
        if first > month:
            continue
        stored = None if e.subsidized else base_for_year(session, e, policy.contribution_year, policy, persist=True)
        base = stored
        if stored is None and not e.subsidized:
            if month > first:
                # Never declared and the new-enrollee window has passed: the year's minimum (Q16), and the
                # enrolment month, which waited for the declaration, is billed at its own minimum too.
                base = policy.base_min
                first_policy = flex_policy(region, first, table)
                created += _bill(session, e, first, first_policy, first_policy.base_min)
            else:
                skipped += 1  # pension/unemployment wait for the new enrollee's declaration (R-FB-3, R-FB-7)
        created += _bill(session, e, month, policy, base)
    session.flush()
    repriced = reprice_provisional(session, region, table)
    return MonthResult(created, skipped, generate_topups(session, region, table), repriced)


def backfill(session: Session, e: Enrolment, table: PolicyTable | None = None) -> int:
    """After a new enrollee's first declaration: the pension and unemployment of every month already
    billed since enrolment (R-FB-7: May and June when enrolled in May and declared in June)."""
    last = session.scalar(
        select(func.max(Receivable.fee_period_start)).where(
            Receivable.enrolment_id == e.id, Receivable.charge_type == ChargeType.NORMAL
        )
    )
    if last is None or e.enrolled_on is None:
        return 0
    created = 0
    month = Month.of(e.enrolled_on)
    while month <= Month.of(last):
        policy = flex_policy(e.region, month, table)
        created += _bill(session, e, month, policy, _base_of_month(session, e, month, policy))
        month = month + 1
    session.flush()
    return created


def reprice_provisional(session: Session, region: str, table: PolicyTable | None = None) -> int:
    """Unpaid bills priced provisionally on last year's numbers take the year's own numbers once they
    arrive (R-FB-6: the 补差 of a bill nobody has paid yet is its new price). Declared ones are left to
    their payment; once paid, ``generate_topups`` covers them."""
    changed = 0
    rows = session.scalars(
        select(Receivable)
        .join(Enrolment, Receivable.enrolment_id == Enrolment.id)
        .where(
            Receivable.scheme == SCHEME,
            Receivable.provisional.is_(True),
            Receivable.status == ReceivableStatus.DUE,
            Receivable.charge_type == ChargeType.NORMAL,
            Receivable.batch_debit_id.is_(None),
            Enrolment.region == region,
        )
    )
    for r in rows:
        policy = flex_policy(region, Month.of(r.fee_period_start), table)
        if policy.provisional:
            continue
        base = rules.effective_base(r.base, policy) if r.base is not None else None
        try:
            amount = rules.monthly_amount(base, policy, r.insurance, r.enrolment.subsidized)
        except NoPolicyError:
            continue
        r.amount_fen, r.base, r.provisional = yuan_to_fen(amount), base, False
        changed += 1
    session.flush()
    return changed


def generate_topups(session: Session, region: str, table: PolicyTable | None = None) -> int:
    """补差: months paid on last year's numbers get the difference once the year's row exists (R-FB-6)."""
    created = 0
    paid = session.scalars(
        select(Receivable).where(
            Receivable.scheme == SCHEME,
            Receivable.provisional.is_(True),
            Receivable.status == ReceivableStatus.PAID,
            Receivable.charge_type == ChargeType.NORMAL,
        )
    )
    for r in paid:
        month = Month.of(r.fee_period_start)
        policy = flex_policy(region, month, table)
        if policy.provisional:
            continue
        key = f"flex-topup:{r.id}"
        if session.scalar(select(Receivable.id).where(Receivable.natural_key == key)) is not None:
            continue
        item = rules.PaidItem(fee_period=month, insurance=r.insurance, amount=r.amount, base=r.base)
        tops = rules.topup_items([item], policy, subsidized=r.enrolment.subsidized)
        if not tops:
            continue
        session.add(
            Receivable(
                natural_key=key,
                insured_id=r.insured_id,
                enrolment_id=r.enrolment_id,
                scheme=SCHEME,
                insurance=r.insurance,
                fee_period_start=r.fee_period_start,
                fee_period_end=r.fee_period_end,
                base=r.base,
                amount_fen=yuan_to_fen(tops[0].difference),
                charge_type=ChargeType.POLICY_BACKPAY,
                notice_no=f"BC{policy.contribution_year}{r.enrolment_id:08d}",
                si_serial=f"BC{r.si_serial}",
                tax_office=r.tax_office,
                si_agency=r.si_agency,
                special_category=r.special_category,
            )
        )
        created += 1
    session.flush()
    return created


def _month_period(text: str) -> tuple[str, date, date]:
    try:
        month = Month.parse(text)
    except ValueError:
        raise RowError(f"费款所属期应为年月（YYYY-MM），例如2026-03：{text}") from None
    return str(month), month.first_day, month.first_day


# The bureau's special items (特殊核定), a file of ``imports.SPECIAL_COLUMNS``: ``fee_period`` a month.
SPECIAL_ITEMS = special_items_spec(
    name="灵活就业特殊核定",
    scheme=SCHEME,
    insurances=rules.FLEX_INSURANCES,
    period=_month_period,
    natural_key=lambda r: f"flex-special:{r.notice_no}:{r.insurance}:{r.period}",
    not_enrolled="未查询到该人员的灵活就业参保信息",
)


# ----------------------------------------------------------------------------------------- queries


def charge_type_of(r: Receivable, today: date) -> str:
    """本期应缴费 / 往期未缴费 for normal items (relative to today), else the stored type."""
    if r.charge_type is ChargeType.NORMAL:
        return rules.classify(Month.of(r.fee_period_start), today) or "overdue"
    return r.charge_type


def as_rule_items(rows: Iterable[Receivable], today: date) -> list[rules.FlexReceivable]:
    """Rows as the rules see them."""
    return [
        rules.FlexReceivable(
            id=r.id,
            insurance=r.insurance,
            fee_period=Month.of(r.fee_period_start),
            amount=r.amount,
            charge_type=charge_type_of(r, today),
            notice_no=r.notice_no,
        )
        for r in rows
    ]


def policy_or_none(region: str, on: date) -> tuple[rules.FlexPolicy | None, str | None]:
    """The policy of a date, or the plain message when there is none."""
    try:
        return flex_policy(region, on), None
    except NoPolicyError as e:
        return None, str(e)


def pay_window(session: Session, person_id: int, now: datetime) -> rules.PayWindowState:
    """Whether the worker may pay here now: the 10th–25th, and not on the batch day with a batch-debit
    agreement (R-FP-4)."""
    e = enrolment_of(session, person_id)
    today = now.astimezone(BEIJING).date()
    return rules.can_pay_now(now, bool(e and agreements.has_batch_agreement(session, person_id, today, e.tax_office)))


def declare_selection(
    session: Session, person: Person, *, tab: str, chosen: list[str], channel: str, now: datetime
) -> Declaration:
    """提交 on the flexible-worker payment page: the window is open, the selection obeys R-FP-2 (normal)
    or R-FP-3 (special), then the items are declared."""
    today = now.astimezone(BEIJING).date()
    items = open_items(session, person, today)
    window = items.pay_window(now)
    if not window.open:
        raise RuleViolation(window.message_zh)
    ids = parse_ids(chosen)
    resumed = _already_declared(session, person.id, ids)
    if resumed is not None:
        return resumed
    tab = tab_of(tab)
    if tab == DeclarationKind.NORMAL and set(ids) & {r.id for _, rows in items.window_only() for r in rows}:
        raise RuleViolation(MSG_WINDOW_ONLY)
    validate = rules.validate_normal_selection if tab == DeclarationKind.NORMAL else rules.validate_special_selection
    checked = validate(ids, as_rule_items(items.items_of_tab(tab), today))
    return declare(
        session,
        payer_id=person.id,
        insured_id=person.id,
        scheme=SCHEME,
        receivable_ids=[i.id for i in checked],
        channel=channel,
        now=now,
        kind=tab,
    )


MSG_WINDOW_ONLY = (
    "按季度、半年或年缴费的养老、失业保险费须在首个征期月到社保大厅税务窗口或办税服务厅"
    "以协议支付方式缴纳，不能在本渠道自助缴费"
)
MSG_PARTLY_DECLARED = "所选缴费信息中有已申报待缴款的项目，请在本页“已申报待缴款”中点击继续缴费，或作废申报后重新选择"


def _already_declared(session: Session, person_id: int, ids: list[int]) -> Declaration | None:
    """A resubmitted selection (back, refresh, a second tab) of items already declared: the declaration
    they form, so the worker continues to pay it; a mix of declared and new items is refused plainly (R-FP-1)."""
    if not ids:
        return None
    rows = session.scalars(
        select(Receivable).where(
            Receivable.id.in_(ids),
            Receivable.insured_id == person_id,
            Receivable.scheme == SCHEME,
            Receivable.status == ReceivableStatus.DECLARED,
        )
    ).all()
    if not rows:
        return None
    decl_ids = {r.declaration_id for r in rows}
    if len(rows) == len(set(ids)) and len(decl_ids) == 1:
        decl = session.get(Declaration, decl_ids.pop())
        if decl is not None and decl.payer_id == person_id and {i.receivable_id for i in decl.items} == set(ids):
            return decl
    raise RuleViolation(MSG_PARTLY_DECLARED)
