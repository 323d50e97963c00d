"""Urban-rural resident pension (城乡居民养老) over the database: the amount a payer sets per insurance and
year (批量扣款缴费金额设置) and voids (缴费金额作废), the year's receivable it prices, the bureau's special
items (人社核定的特殊缴费), the declarations (申报记录查询) and the yearly generation (R-RP-1 … R-RP-4).
The rules themselves are pure, in ``domain.pension``.

Every use case that writes locks the payer's enrolment row first, so two tabs setting, voiding or
generating the same year line up instead of racing; declaring locks the receivables (``declarations``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from ..db import atomic
from ..domain import pension as rules
from ..domain.calendar import BEIJING
from ..domain.errors import NotFound, RuleViolation
from ..domain.money import yuan_to_fen
from ..domain.policy import NoPolicyError, PolicyTable, resident_pension_grades
from ..domain.schemes import SchemeCode
from ..domain.statuses import (
    OPEN_ORDER_STATES,
    SPECIAL_CHARGE_TYPES,
    ChargeType,
    DeclarationKind,
    DeclarationStatus,
    EnrolmentStatus,
    PensionAmountSource,
    PensionAmountStatus,
    Provider,
    ReceivableStatus,
)
from ..models import Declaration, Enrolment, PaymentOrder, PensionAmount, Person, Receivable
from . import reads
from .audit import record
from .declarations import MSG_STALE, declare, declared_between, parse_ids
from .imports import RowError, special_items_spec

SCHEME = SchemeCode.RESIDENT_PENSION
SPECIAL_TYPES = tuple(sorted(SPECIAL_CHARGE_TYPES))
MSG_NOT_ENROLLED = (
    "未查询到城乡居民养老保险参保信息。请核实是否已在人社部门办理参保登记；"
    "如已登记，请待次月登记信息传递至税务部门后再办理。"
)
MSG_IN_BATCH = "{}正在银行批量扣款中（申报处理中），请待扣款结果返回后再操作"

__all__ = [
    "SCHEME",
    "AmountRefused",
    "DeclarationRow",
    "GenerateResult",
    "SPECIAL_ITEMS",
    "active_amount",
    "amount_for_batch_debit",
    "amounts_of",
    "declaration_row",
    "declaration_rows",
    "declare_selection",
    "enrolment_of",
    "generate_year",
    "grades_for",
    "insurances",
    "normal_receivables",
    "set_amount",
    "set_amounts",
    "special_receivables",
    "void_amount",
    "void_refusal",
    "voidable",
    "year_receivable",
    "year_status",
]


# ----------------------------------------------------------------------------------------- enrolment


def enrolment_of(session: Session, person_id: int) -> Enrolment | None:
    """The person's resident pension enrolment (参保信息), if any (one read with their receivables, issue 21)."""
    return reads.standing(session, person_id, SCHEME)[0]


def _locked_enrolment(session: Session, person_id: int) -> Enrolment:
    e = session.scalar(
        select(Enrolment)
        .where(Enrolment.person_id == person_id, Enrolment.scheme == SCHEME)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if e is None or e.status is not EnrolmentStatus.ACTIVE:
        raise RuleViolation(MSG_NOT_ENROLLED)
    return e


def insurances(e: Enrolment) -> list[str]:
    """The resident pension insurances the person is enrolled in (all of them when the row names none)."""
    named = {i for i in (e.insurances or "").split(",") if i}
    return [i for i in rules.INSURANCES if not named or i in named]


def assumptions(e: Enrolment, year: int, table: PolicyTable | None = None) -> list[str]:
    """What the amount page rests on that no guide states, said where the payer chooses (docs/policy.md §10):
    the grades between the published minimum and maximum, the batch day, the year's last day."""
    from ..domain import collection
    from ..domain.calendar import format_date_zh

    out = []
    try:
        row = (table or PolicyTable.load()).resident_pension_row(e.region, year)
    except NoPolicyError:
        row = None
    if row is not None:
        if "step" in row.derived:
            out.append(
                f"{year}年度缴费金额可在{row.minimum}元至{row.maximum}元之间选择；本页每{row.step}元一档为本应用的假设"
                "（指南未列出具体档次），以人社部门公布的缴费档次为准。"
            )
        else:
            out.append(f"{year}年度缴费金额为{row.minimum}元至{row.maximum}元，档次间隔{row.step}元。")
    out.append(
        "银行批量扣款按每月8日（遇法定节假日顺延至下一工作日）执行：指南只给出灵活就业人员的批扣日（问答41），"
        "城乡居民养老保险沿用该日为本应用的假设。"
    )
    p = collection.period(e.region, SCHEME, year)
    if p.approximate:
        out.append(f"{year}年度费用可缴纳至{format_date_zh(p.late_until)}，该日期为本应用的假设，以税务部门通知为准。")
    return out


def grades_for(e: Enrolment, year: int, table: PolicyTable | None = None) -> tuple[Decimal, ...]:
    """The year's grades (缴费档次) in the enrolment's region; ``NoPolicyError`` for a year without a row."""
    return resident_pension_grades(e.region, year, table)


# ----------------------------------------------------------------------------------------- amounts (R-RP-1)


def _key(person_id: int, insurance: str, year: int) -> str:
    return f"rp:{person_id}:{insurance}:{year}"


def year_receivable(session: Session, person_id: int, insurance: str, year: int) -> Receivable | None:
    """The year's normal receivable of one insurance (the one the set amount prices)."""
    return session.scalar(select(Receivable).where(Receivable.natural_key == _key(person_id, insurance, year)))


def year_status(session: Session, person_id: int, insurance: str, year: int) -> str:
    """``unset`` (no receivable yet: no amount set), ``due``, ``declared`` or ``paid``."""
    key = _key(person_id, insurance, year)
    r = next((r for r in reads.standing(session, person_id, SCHEME)[1] if r.natural_key == key), None)
    if r is None and enrolment_of(session, person_id) is None:
        r = year_receivable(session, person_id, insurance, year)  # receivables without an enrolment: as before
    return "unset" if r is None else str(r.status)


def active_amount(session: Session, enrolment_id: int, insurance: str, year: int) -> PensionAmount | None:
    """The amount in force for an insurance and year, if one is set and not voided."""
    return session.scalar(
        select(PensionAmount).where(
            PensionAmount.enrolment_id == enrolment_id,
            PensionAmount.insurance == insurance,
            PensionAmount.year == year,
            PensionAmount.status == PensionAmountStatus.ACTIVE,
        )
    )


def amounts_of(
    session: Session, person_id: int, statuses: tuple[str, ...] = (PensionAmountStatus.ACTIVE, PensionAmountStatus.VOID)
) -> list[PensionAmount]:
    """The payer's amounts, newest year first (the 缴费金额作废 list: in force, then voided), each with the
    receivable it priced (whether its year is paid decides whether 作废 is offered)."""
    return list(
        session.scalars(
            select(PensionAmount)
            .options(joinedload(PensionAmount.receivable))
            .where(PensionAmount.person_id == person_id, PensionAmount.status.in_(statuses))
            .order_by(PensionAmount.year.desc(), PensionAmount.status, PensionAmount.id.desc())
        )
    )


def _new_receivable(e: Enrolment, insurance: str, year: int, amount_fen: int) -> Receivable:
    start, end = rules.fee_period(year)
    return Receivable(
        natural_key=_key(e.person_id, insurance, year),
        insured_id=e.person_id,
        enrolment_id=e.id,
        scheme=SCHEME,
        insurance=insurance,
        fee_period_start=start,
        fee_period_end=end,
        base=None,
        amount_fen=amount_fen,
        charge_type=ChargeType.ANNUAL,
        notice_no=None,
        si_serial=f"RP{year}{e.person_id:010d}",
        tax_office=e.tax_office,
        si_agency=e.si_agency,
        special_category=e.special_category,
    )


@atomic
def set_amount(
    session: Session,
    person_id: int,
    *,
    insurance: str,
    year: int,
    amount_text: str,
    now: datetime,
    table: PolicyTable | None = None,
) -> PensionAmount:
    """批量扣款缴费金额设置 (R-RP-1): the amount must be one of the year's grades; the year's receivable is
    created at it, or repriced while it is neither declared nor paid. Returns the amount now in force."""
    e = _locked_enrolment(session, person_id)
    if insurance not in insurances(e):
        raise RuleViolation(MSG_STALE)
    try:
        grades = grades_for(e, year, table)
    except NoPolicyError as err:
        raise RuleViolation(f"{err}，暂不能设置缴费金额") from None
    amount = rules.parse_grade(amount_text, grades, year)
    valid_from, valid_to = rules.validity(year, now.astimezone(BEIJING).date())
    label = rules.LABELS[insurance]
    r = year_receivable(session, person_id, insurance, year)
    if r is not None and r.status is ReceivableStatus.PAID:
        raise RuleViolation(f"{year}年度{label}已缴费，不能再设置缴费金额")
    if r is not None and r.status is ReceivableStatus.DECLARED:
        raise RuleViolation(f"{year}年度{label}已申报、尚未缴费。如需更改缴费金额，请先在申报记录查询中作废该申报")
    if r is not None and r.batch_debit_id is not None:
        raise RuleViolation(MSG_IN_BATCH.format(f"{year}年度{label}"))
    fen = yuan_to_fen(amount)
    current = active_amount(session, e.id, insurance, year)
    if current is not None and r is not None and current.amount_fen == fen == r.amount_fen:
        return current  # the same amount again: nothing to change
    if r is None:
        r = _new_receivable(e, insurance, year, fen)
        session.add(r)
        session.flush()
    else:
        # Conditional: a declaration that took the receivable in the meantime wins, and this refuses.
        moved = session.execute(  # type: ignore[attr-defined]  # an UPDATE's Result is a CursorResult
            update(Receivable)
            .where(
                Receivable.id == r.id, Receivable.status == ReceivableStatus.DUE, Receivable.batch_debit_id.is_(None)
            )
            .values(amount_fen=fen)
        ).rowcount
        if moved != 1:
            raise RuleViolation(f"{year}年度{label}已申报，请刷新页面后重试")
    if current is not None:
        current.status = PensionAmountStatus.REPLACED
        session.flush()  # one active row per year (the partial unique index)
    row = PensionAmount(
        enrolment_id=e.id,
        person_id=person_id,
        insurance=insurance,
        year=year,
        amount_fen=fen,
        valid_from=valid_from,
        valid_to=valid_to,
        status=PensionAmountStatus.ACTIVE,
        source=PensionAmountSource.SET,
        receivable_id=r.id,
        set_at=now,
    )
    session.add(row)
    session.flush()
    record(session, "rp.amount_set", str(row.id), f"{insurance}:{year}:{fen}", person_id)
    return row


class AmountRefused(RuleViolation):
    """Some of the amounts chosen on 缴费金额设置 were refused; ``errors`` maps each insurance (or ``form``)
    to its message. Nothing was set."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("；".join(errors.values()))
        self.errors = errors


@atomic
def set_amounts(
    session: Session,
    person_id: int,
    choices: dict[str, str],
    *,
    year: int,
    now: datetime,
    table: PolicyTable | None = None,
) -> list[PensionAmount]:
    """提交 on 缴费金额设置: every chosen insurance's amount, all or none (``AmountRefused``)."""
    if not choices:
        raise AmountRefused({"form": rules.MSG_NO_AMOUNT})
    done, errors = [], {}
    for insurance, text in choices.items():
        try:
            done.append(
                set_amount(session, person_id, insurance=insurance, year=year, amount_text=text, now=now, table=table)
            )
        except RuleViolation as err:
            errors[insurance] = str(err)
    if errors:
        raise AmountRefused(errors)  # the savepoint undoes the ones that went through
    return done


def voidable(session: Session, person_id: int, amount_id: int, now: datetime) -> PensionAmount:
    """The payer's amount, if 作废 may apply to it now: ``NotFound`` for another person's, ``RuleViolation``
    when it is voided already, was replaced, has expired, or its year is paid. Writes nothing."""
    row = session.scalar(
        select(PensionAmount).where(PensionAmount.id == amount_id).execution_options(populate_existing=True)
    )
    if row is None or row.person_id != person_id:
        raise NotFound(amount_id)
    refusal = void_refusal(row, now.astimezone(BEIJING).date())
    if refusal is not None:
        raise RuleViolation(refusal)
    return row


def void_refusal(row: PensionAmount, today: date) -> str | None:
    """Why 作废 cannot apply to this amount today (voided, replaced, its year paid or being debited, expired),
    or None: the page offers 作废 only where this is None, and ``voidable`` refuses with it."""
    if row.status is PensionAmountStatus.VOID:
        return "该缴费金额已作废，无需重复作废"
    if row.status is PensionAmountStatus.REPLACED:
        return "该缴费金额已被新设置的金额替代，请刷新页面后重新选择"
    if row.receivable is not None and row.receivable.status is ReceivableStatus.PAID:
        return f"{row.year}年度已缴费，无需作废缴费金额"
    if row.receivable is not None and row.receivable.batch_debit_id is not None:
        return MSG_IN_BATCH.format(f"{row.year}年度")
    if today > row.valid_to:
        return "该缴费金额已过有效期，无需作废"
    return None


@atomic
def void_amount(session: Session, person_id: int, amount_id: int, now: datetime) -> PensionAmount:
    """缴费金额作废 (R-RP-1): no batch debit of that insurance within the amount's validity period
    (``voidable`` says when it cannot)."""
    _locked_enrolment(session, person_id)
    # The receivable's row lock orders this against a batch debit planning it (which locks it too).
    session.execute(
        select(Receivable)
        .join(PensionAmount, PensionAmount.receivable_id == Receivable.id)
        .where(PensionAmount.id == amount_id)
        .with_for_update(of=Receivable)
        .execution_options(populate_existing=True)
    )
    row = voidable(session, person_id, amount_id, now)
    row.status, row.voided_at = PensionAmountStatus.VOID, now
    session.flush()
    record(session, "rp.amount_voided", str(row.id), f"{row.insurance}:{row.year}", person_id)
    return row


def amount_for_batch_debit(session: Session, receivable: Receivable, day: date) -> PensionAmount | None:
    """The setting a batch debit on ``day`` may collect ``receivable`` by (R-RP-1, R-BD-1): the year's active
    amount whose 缴费金额有效期起止 covers the day and which priced this receivable, else None — voided,
    replaced, out of its period, or never set. The batch debit itself is built elsewhere; this is its rule."""
    row = session.scalar(
        select(PensionAmount).where(
            PensionAmount.receivable_id == receivable.id,
            PensionAmount.status == PensionAmountStatus.ACTIVE,
            PensionAmount.valid_from <= day,
            PensionAmount.valid_to >= day,
        )
    )
    return row if row is not None and row.amount_fen == receivable.amount_fen else None


# ----------------------------------------------------------------------------------------- generation


@dataclass(frozen=True)
class GenerateResult:
    """What ``generate_year`` did."""

    created: int
    carried: int  # of which priced at an earlier year's amount
    waiting: int  # enrolled insurances without any amount to use (the payer must set one)


def _amounts_by_key(
    session: Session, region: str, year: int
) -> tuple[dict[tuple[int, str], PensionAmount], dict[tuple[int, str], PensionAmount | None]]:
    """The year's active amounts, and for each insurance the amount in force at the end of the latest earlier
    year with a setting (None when that year's amount was voided), keyed by (enrolment, insurance)."""
    rows = session.scalars(
        select(PensionAmount)
        .join(Enrolment)
        .where(
            Enrolment.scheme == SCHEME,
            Enrolment.region == region,
            PensionAmount.year <= year,
            PensionAmount.status.in_((PensionAmountStatus.ACTIVE, PensionAmountStatus.VOID)),
        )
        .order_by(PensionAmount.year, PensionAmount.id)
    )
    current: dict[tuple[int, str], PensionAmount] = {}
    latest: dict[tuple[int, str], tuple[int, PensionAmount | None]] = {}
    for a in rows:
        key = (a.enrolment_id, a.insurance)
        if a.year == year:
            if a.status is PensionAmountStatus.ACTIVE:
                current[key] = a
            continue
        seen_year, active = latest.get(key, (a.year, None))
        if a.year != seen_year:
            active = None  # a later year replaces what an earlier one said
        latest[key] = (a.year, a if a.status is PensionAmountStatus.ACTIVE else active)
    return current, {k: v for k, (_y, v) in latest.items()}


def generate_year(
    session: Session, year: int, region: str, now: datetime, table: PolicyTable | None = None
) -> GenerateResult:
    """Create each enrolled payer's receivable of a year (idempotent): at the amount set for the year, else
    at the amount carried from the latest earlier year (recorded as a ``carried`` setting). A payer with
    neither waits for 缴费金额设置. ``NoPolicyError`` for a year without a policy row. Reads in bulk and
    writes once, so a city's payers take seconds, not a query each."""
    grades = resident_pension_grades(region, year, table)
    created = carried = waiting = 0
    existing = set(
        session.scalars(
            select(Receivable.natural_key).where(
                Receivable.scheme == SCHEME,
                Receivable.charge_type == ChargeType.ANNUAL,
                Receivable.fee_period_start == date(year, 1, 1),
            )
        )
    )
    enrolments = session.scalars(
        select(Enrolment)
        .where(Enrolment.scheme == SCHEME, Enrolment.region == region, Enrolment.status == EnrolmentStatus.ACTIVE)
        .order_by(Enrolment.id)
        .with_for_update()
    ).all()
    current, previous = _amounts_by_key(session, region, year)
    for e in enrolments:
        for insurance in insurances(e):
            if _key(e.person_id, insurance, year) in existing:
                continue
            amount = current.get((e.id, insurance))
            if amount is None:
                last = previous.get((e.id, insurance))
                if last is None:
                    waiting += 1
                    continue
                amount = PensionAmount(
                    enrolment_id=e.id,
                    person_id=e.person_id,
                    insurance=insurance,
                    year=year,
                    amount_fen=yuan_to_fen(rules.carried_amount(last.amount, grades)),
                    valid_from=date(year, 1, 1),
                    valid_to=date(year, 12, 31),
                    status=PensionAmountStatus.ACTIVE,
                    source=PensionAmountSource.CARRIED,
                    set_at=now,
                )
                session.add(amount)
                carried += 1
            r = _new_receivable(e, insurance, year, amount.amount_fen)
            session.add(r)
            amount.receivable = r  # the id follows at the flush
            created += 1
    session.flush()
    return GenerateResult(created, carried, waiting)


# ----------------------------------------------------------------------------------------- special items


def _year_period(text: str) -> tuple[str, date, date]:
    if not (text.isascii() and text.isdigit() and len(text) == 4 and 1990 <= int(text) <= 2100):
        raise RowError(f"费款所属期应为年度（YYYY），例如2024：{text}")
    return (text, *rules.fee_period(int(text)))


# The bureau's special items (人社核定的特殊缴费), a file of ``imports.SPECIAL_COLUMNS``: ``fee_period`` a pension
# year (YYYY), ``insurance`` rp_pension.
SPECIAL_ITEMS = special_items_spec(
    name="城乡居民养老保险人社核定",
    scheme=SCHEME,
    insurances=rules.INSURANCES,
    period=_year_period,
    natural_key=lambda r: f"rp-special:{r.notice_no}:{r.insurance}:{r.period}:{r.charge_type}",
    not_enrolled="未查询到该人员的城乡居民养老保险参保信息",
    enrolled_insurances=insurances,
)


# ----------------------------------------------------------------------------------------- payment (R-RP-2)


def normal_receivables(
    session: Session,
    person_id: int,
    year: int,
    chosen: list[str] | None = None,
    statuses: tuple[str, ...] = (ReceivableStatus.DUE,),
) -> list[Receivable]:
    """正常缴费: the year's receivables at the set amount, of the chosen insurances."""
    if enrolment_of(session, person_id) is not None:  # cut from the one read (issue 21)
        rows = [
            r
            for r in reads.standing(session, person_id, SCHEME)[1]
            if r.charge_type == ChargeType.ANNUAL
            and r.fee_period_start == date(year, 1, 1)
            and r.status in statuses
            and (chosen is None or r.insurance in chosen)
        ]
        return sorted(rows, key=lambda r: (r.insurance, r.id))
    stmt = select(Receivable).where(
        Receivable.insured_id == person_id,
        Receivable.scheme == SCHEME,
        Receivable.charge_type == ChargeType.ANNUAL,
        Receivable.fee_period_start == date(year, 1, 1),
        Receivable.status.in_(statuses),
    )
    if chosen is not None:
        stmt = stmt.where(Receivable.insurance.in_(chosen))
    return list(session.scalars(stmt.order_by(Receivable.insurance, Receivable.id)))


def special_receivables(
    session: Session,
    person_id: int,
    chosen: list[str] | None = None,
    statuses: tuple[str, ...] = (ReceivableStatus.DUE,),
) -> list[Receivable]:
    """特殊缴费: the 人社核定 items, grouped by 征集通知流水号."""
    if enrolment_of(session, person_id) is not None:  # cut from the one read (issue 21)
        rows = [
            r
            for r in reads.standing(session, person_id, SCHEME)[1]
            if r.charge_type in SPECIAL_TYPES and r.status in statuses and (chosen is None or r.insurance in chosen)
        ]
        return sorted(rows, key=lambda r: (r.notice_no is None, r.notice_no or "", r.fee_period_start, r.id))
    stmt = select(Receivable).where(
        Receivable.insured_id == person_id,
        Receivable.scheme == SCHEME,
        Receivable.charge_type.in_(SPECIAL_TYPES),
        Receivable.status.in_(statuses),
    )
    if chosen is not None:
        stmt = stmt.where(Receivable.insurance.in_(chosen))
    return list(session.scalars(stmt.order_by(Receivable.notice_no, Receivable.fee_period_start, Receivable.id)))


def declare_selection(
    session: Session,
    person: Person,
    *,
    tab: str,
    chosen_insurances: list[str],
    chosen: list[str],
    channel: str,
    now: datetime,
) -> Declaration:
    """提交 on 城乡居民养老保险办理: the ticked items of one tab (正常缴费 or 特殊缴费) are the payer's own,
    special items go with the others of their 征集通知流水号, then they are declared (R-RP-2, R-PA-1)."""
    if enrolment_of(session, person.id) is None:
        raise RuleViolation(MSG_NOT_ENROLLED)
    ids = parse_ids(chosen)
    if tab == DeclarationKind.SPECIAL:
        items = special_receivables(
            session,
            person.id,
            chosen_insurances,
            statuses=(ReceivableStatus.DUE, ReceivableStatus.DECLARED, ReceivableStatus.PAID),
        )
        rules.validate_special_selection(ids, [rules.SpecialItem(r.id, r.notice_no) for r in items])
    else:
        year = rules.pension_year(now.astimezone(BEIJING).date())
        items = normal_receivables(
            session,
            person.id,
            year,
            chosen_insurances,
            statuses=(ReceivableStatus.DUE, ReceivableStatus.DECLARED, ReceivableStatus.PAID),
        )
        if not ids:
            raise RuleViolation(rules.MSG_EMPTY_SELECTION)
        if not set(ids) <= {r.id for r in items}:
            raise RuleViolation(MSG_STALE)
    return declare(
        session,
        payer_id=person.id,
        insured_id=person.id,
        scheme=SCHEME,
        receivable_ids=ids,
        channel=channel,
        now=now,
        kind=DeclarationKind.SPECIAL if tab == DeclarationKind.SPECIAL else DeclarationKind.NORMAL,
    )


# ----------------------------------------------------------------------------------------- declarations (R-RP-3)


@dataclass(frozen=True)
class DeclarationRow:
    """One line of 申报记录查询: the declaration, its 申报状态, and whether 作废 / 继续缴费 apply."""

    declaration: Declaration
    state: str  # 申报成功 | 申报处理中 | 已作废
    paid: bool

    @property
    def actionable(self) -> bool:
        """申报成功 and not yet paid: it may be voided (作废) or paid (继续缴费)."""
        return self.state == rules.DECLARED_OK and self.declaration.status is DeclarationStatus.DECLARED


def declaration_rows(session: Session, payer_id: int, start: date, end: date) -> list[DeclarationRow]:
    """申报记录查询 by declaration date (R-RP-3), newest first."""
    decls = declared_between(session, payer_id, SCHEME, start, end)
    pending = (
        set(
            session.scalars(
                select(PaymentOrder.declaration_id).where(
                    PaymentOrder.declaration_id.in_([d.id for d in decls]),
                    PaymentOrder.provider == Provider.AGREEMENT,
                    PaymentOrder.state.in_(tuple(OPEN_ORDER_STATES)),
                )
            )
        )
        if decls
        else set()
    )
    return [
        DeclarationRow(d, rules.declaration_state(d.status, d.id in pending), d.status is DeclarationStatus.PAID)
        for d in decls
    ]


def declaration_row(session: Session, payer_id: int, declaration_id: int) -> DeclarationRow:
    """One of the payer's resident pension declarations; ``NotFound`` for anyone else's (or another scheme's)."""
    decl = session.get(Declaration, declaration_id)
    if decl is None or decl.payer_id != payer_id or decl.scheme != SCHEME:
        raise NotFound(declaration_id)
    pending = (
        session.scalar(
            select(PaymentOrder.id)
            .where(
                PaymentOrder.declaration_id == decl.id,
                PaymentOrder.provider == Provider.AGREEMENT,
                PaymentOrder.state.in_(tuple(OPEN_ORDER_STATES)),
            )
            .limit(1)
        )
        is not None
    )
    return DeclarationRow(decl, rules.declaration_state(decl.status, pending), decl.status is DeclarationStatus.PAID)
