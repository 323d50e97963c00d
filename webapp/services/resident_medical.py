"""Urban-rural resident medical insurance (城乡居民医疗): who may be paid for, and what is owed
(R-RM-1, R-RM-2). Use cases over a SQLAlchemy session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from ..domain import collection
from ..domain.calendar import BEIJING, format_date_zh
from ..domain.errors import NotFound, RuleViolation
from ..domain.identity import facts_from_id
from ..domain.money import yuan_to_fen
from ..domain.policy import RM_CATEGORIES as RM_CATEGORY_LABELS
from ..domain.policy import (
    PolicyTable,
    resident_medical_category,
    resident_medical_premium,
    resident_medical_priced,
)
from ..domain.schemes import SchemeCode
from ..domain.statuses import ChargeType, EnrolmentStatus, ReceivableStatus
from ..models import Enrolment, FamilyPayee, Person, Receivable
from . import declarations, reads

SCHEME = SchemeCode.RESIDENT_MEDICAL


MSG_NOT_FOUND = (
    "未查询到参保信息。请核实参保人是否已在医保部门办理参保登记；如已登记，请待次月登记信息传递至税务部门后再缴费。"
)


def find_insured(session: Session, name: str, id_type: str, id_number: str) -> Person:
    """The insured person named on the 他人 form. Unknown, not enrolled, or a name that does not match:
    the guide's Q21 message alone, so the form tells a stranger nothing more (R-ID-4)."""
    person = session.scalar(select(Person).where(Person.id_type == id_type, Person.id_number == id_number))
    if person is None or person.name != name or not _enrolment(session, person.id):
        raise RuleViolation(MSG_NOT_FOUND)
    return person


def enrolment_of(session: Session, person_id: int) -> Enrolment | None:
    """The person's resident medical enrolment (参保信息), if any."""
    return _enrolment(session, person_id)


def _enrolment(session: Session, person_id: int) -> Enrolment | None:
    return reads.standing(session, person_id, SCHEME)[0]  # one read per page, cut by each rule (issue 21)


# R-RM-5: the relationships a saved family member may have, in the order the form offers them.
RELATIONS = ("父亲", "母亲", "配偶", "子女", "其他")
MSG_RELATION = "请选择与参保人的关系"


class YearState(StrEnum):
    """Where an insured person's resident medical stands: one word per state, on every page that says it."""

    PAID = "paid"  # 已缴费
    DECLARED = "declared"  # 已申报待缴款
    DUE = "due"  # 未缴费
    NOTHING = "nothing"  # enrolled, nothing for the year (暂无缴费信息)
    NOT_ENROLLED = "not_enrolled"  # 未查询到参保信息
    CLOSED = "closed"  # owed, but its year is no longer or not yet on sale


@dataclass(frozen=True)
class Member:
    """A saved family member as the payer sees it (R-RM-5): who, the relationship, this year's state."""

    id: int  # the saved entry's id (family_payee), what 修改关系 and 删除 name
    person: Person
    relation: str
    year_state: YearState  # PAID, DECLARED, DUE or NOTHING

    @property
    def paid(self) -> bool:
        """This year is already paid: no 为TA缴费."""
        return self.year_state == YearState.PAID


YEAR_STATE_LABELS = {
    YearState.PAID: "已缴费",
    YearState.DECLARED: "已申报待缴款",
    YearState.DUE: "未缴费",
    YearState.NOTHING: "暂无缴费信息",
}


def family(session: Session, payer_id: int) -> list[Person]:
    """The people this payer saved (R-RM-1)."""
    return list(
        session.scalars(
            select(Person)
            .join(FamilyPayee, FamilyPayee.insured_id == Person.id)
            .where(FamilyPayee.payer_id == payer_id)
            .order_by(FamilyPayee.id)
        )
    )  # one query


def year_states(
    session: Session, insured_ids: list[int], year: int, earlier: tuple[int, ...] = ()
) -> dict[int, YearState]:
    """Each insured's resident medical ``year``: PAID, DECLARED, DUE or NOTHING (R-RM-5), one query.
    A year of ``earlier`` (still on sale, docs/policy.md §1) that is owed makes the state ``due``/``declared``."""
    years = (*earlier, year)
    found: dict[int, set[str]] = {i: set() for i in insured_ids}
    paid: set[int] = set()
    if insured_ids:
        for insured_id, start, status in session.execute(
            select(Receivable.insured_id, Receivable.fee_period_start, Receivable.status).where(
                Receivable.insured_id.in_(insured_ids),
                Receivable.scheme == SCHEME,
                Receivable.fee_period_start >= date(min(years), 1, 1),
                Receivable.fee_period_start <= date(year, 12, 31),
            )
        ):
            if start.year not in years:
                continue
            if status == ReceivableStatus.PAID:
                if start.year == year:
                    paid.add(insured_id)
            else:
                found[insured_id].add(status)
    states = {}
    for insured_id, statuses in found.items():
        owed = (YearState(str(s)) for s in (ReceivableStatus.DUE, ReceivableStatus.DECLARED) if s in statuses)
        states[insured_id] = next(owed, YearState.PAID if insured_id in paid else YearState.NOTHING)
    return states


def year_state(session: Session, insured_id: int, year: int, earlier: tuple[int, ...] = ()) -> YearState:
    """The insured's resident medical year: PAID, DECLARED, DUE or NOTHING (R-RM-5), cut from the one
    read of their receivables (``year_states`` reads many people at once)."""
    years = (*earlier, year)
    statuses = {
        r.status
        for r in reads.standing(session, insured_id, SCHEME)[1]
        if r.fee_period_start.year in years and (r.status != ReceivableStatus.PAID or r.fee_period_start.year == year)
    }
    for s in (ReceivableStatus.DUE, ReceivableStatus.DECLARED, ReceivableStatus.PAID):
        if s in statuses:
            return YearState(str(s))
    return YearState.NOTHING


def presented_year(region: str, today: date) -> int:
    """The year the pages present (docs/policy.md §1): the one whose collection period has opened, once its
    premiums are published; until then the year before it."""
    year = collection.collection_year(region, SCHEME, today)
    return year if resident_medical_priced(region, year) else year - 1


def sale_years(region: str, today: date) -> tuple[int, tuple[int, ...]]:
    """(the presented year, the earlier years still on sale today) — what a family member's state covers."""
    year = presented_year(region, today)
    return year, tuple(y for y in collection.years_on_sale(region, SCHEME, today) if y < year)


def sale_notice(region: str, today: date, year: int) -> str:
    """Which year is collected until when (docs/policy.md §1), and, before the next year's premiums are out,
    that it cannot be paid yet; the dates the table marks as assumptions say so."""
    nxt = collection.period(region, SCHEME, collection.collection_year(region, SCHEME, today))
    assumed = "（缴费期为本应用的假设，以医保部门通知为准）" if nxt.approximate else ""
    period = f"{nxt.year}年度城乡居民医疗保险集中缴费期为{format_date_zh(nxt.opens)}至{format_date_zh(nxt.closes)}"
    if nxt.year != year:
        until = format_date_zh(collection.period(region, SCHEME, year).late_until)
        return f"{period}，{nxt.year}年度缴费标准公布后即可缴纳；{year}年度仍可缴纳至{until}。{assumed}"
    return f"{period}（缴纳{year}年1月至12月的费用）。{assumed}"


def members(session: Session, payer_id: int, year: int, earlier: tuple[int, ...] = ()) -> list[Member]:
    """The payer's saved family members with relationship and whether ``year`` is paid (R-RM-5)."""
    rows = list(
        session.scalars(
            select(FamilyPayee)
            .options(joinedload(FamilyPayee.insured))
            .where(FamilyPayee.payer_id == payer_id)
            .order_by(FamilyPayee.id)
        )
    )
    states = year_states(session, [r.insured_id for r in rows], year, earlier)  # two queries, whatever the family
    return [Member(r.id, r.insured, r.relation or "其他", states[r.insured_id]) for r in rows]


def _own_entry(session: Session, payer_id: int, member_id: int) -> FamilyPayee:
    entry = session.get(FamilyPayee, member_id)
    if entry is None or entry.payer_id != payer_id:
        raise NotFound(member_id)
    return entry


def member(session: Session, payer_id: int, member_id: int, year: int, earlier: tuple[int, ...] = ()) -> Member:
    """One of the payer's saved family members; ``NotFound`` for anyone else's."""
    r = _own_entry(session, payer_id, member_id)
    return Member(r.id, r.insured, r.relation or "其他", year_state(session, r.insured_id, year, earlier))


def check_relation(relation: str) -> str:
    """A relationship the form offers (R-RM-5), else ``RuleViolation``."""
    if relation not in RELATIONS:
        raise RuleViolation(MSG_RELATION)
    return relation


def set_relation(session: Session, payer_id: int, member_id: int, relation: str) -> FamilyPayee:
    """修改关系 of a saved family member (R-RM-5)."""
    entry = _own_entry(session, payer_id, member_id)
    entry.relation = check_relation(relation)
    session.flush()
    return entry


def forget(session: Session, payer_id: int, member_id: int) -> str:
    """删除 a saved family member (R-RM-5); the payments made for them stay in the records. Returns the name."""
    entry = _own_entry(session, payer_id, member_id)
    name = entry.insured.name
    session.delete(entry)
    session.flush()
    return name


def may_pay_for(session: Session, payer_id: int, insured_id: int) -> bool:
    """Oneself, or a saved family member."""
    if payer_id == insured_id:
        return True
    return (
        session.scalar(
            select(FamilyPayee.id).where(FamilyPayee.payer_id == payer_id, FamilyPayee.insured_id == insured_id)
        )
        is not None
    )


def remember(session: Session, payer_id: int, insured_id: int, relation: str | None = None) -> None:
    """Save someone as a family payee (idempotent; saving again updates the relationship)."""
    if payer_id == insured_id:
        return
    entry = session.scalar(
        select(FamilyPayee).where(FamilyPayee.payer_id == payer_id, FamilyPayee.insured_id == insured_id)
    )
    if entry is None:
        session.add(FamilyPayee(payer_id=payer_id, insured_id=insured_id, relation=relation))
    elif relation:
        entry.relation = relation


def period_of(r: Receivable) -> collection.CollectionPeriod:
    """The collection period of a receivable's year (docs/policy.md §1)."""
    return collection.period(r.enrolment.region, SCHEME, r.fee_period_start.year)


def _due(session: Session, insured_id: int) -> list[Receivable]:
    rows = reads.standing(session, insured_id, SCHEME)[1]
    return sorted((r for r in rows if r.status == ReceivableStatus.DUE), key=lambda r: (r.fee_period_start, r.id))


def receivables(session: Session, insured_id: int, today: date) -> list[Receivable]:
    """The insured's resident medical receivables still to declare (待缴信息) whose year is on sale today: the
    next year from its collection period's opening, the current one until its end (docs/policy.md §1)."""
    return [r for r in _due(session, insured_id) if period_of(r).on_sale(today)]


def status_of(session: Session, insured_id: int, today: date) -> YearState:
    """Why there may be nothing to pay: NOT_ENROLLED, DUE, DECLARED, PAID, CLOSED (owed, but its year is no
    longer or not yet on sale) or NOTHING."""
    e = _enrolment(session, insured_id)
    if e is None:
        return YearState.NOT_ENROLLED
    rows = [(r.status, r.fee_period_start) for r in reads.standing(session, insured_id, SCHEME)[1]]
    on_sale = set(collection.years_on_sale(e.region, SCHEME, today))
    statuses = {status for status, start in rows if start.year in on_sale}
    for status in (ReceivableStatus.DUE, ReceivableStatus.DECLARED, ReceivableStatus.PAID):
        if status in statuses:
            return YearState(str(status))
    return YearState.CLOSED if any(status == ReceivableStatus.DUE for status, _ in rows) else YearState.NOTHING


MSG_CLOSED = "所选缴费信息不在缴费期内，请刷新后重新选择"


def declare(session: Session, payer_id: int, insured_id: int, chosen: list[str], channel: str, now: datetime) -> Any:
    """提交 on 选择缴费信息: a year that is not on sale today cannot be declared (docs/policy.md §1); the rest is
    any declaration's (R-PA-1)."""
    ids = declarations.parse_ids(chosen)
    today = now.astimezone(BEIJING).date()
    closed = {r.id for r in _due(session, insured_id) if not period_of(r).on_sale(today)}
    if closed & set(ids):
        raise RuleViolation(MSG_CLOSED)
    return declarations.declare(
        session, payer_id=payer_id, insured_id=insured_id, scheme=SCHEME, receivable_ids=ids, channel=channel, now=now
    )


def category_label(e: Enrolment, year: int) -> str:
    """参保人员类别 as the pages show it: the bureau's, or the one the age bands give, said to be inferred (the
    bands are the app's, docs/policy.md §10)."""
    if e.category:
        return RM_CATEGORY_LABELS.get(e.category, e.category)
    inferred = category_by_age(e.person, year, e.region)
    return f"{RM_CATEGORY_LABELS.get(inferred, inferred)}（按年龄推定，以医保部门核定为准）"


def category_by_age(person: Person, year: int, region: str) -> str:
    """R-RM-2: the category of a resident whose row stores none, from age with the policy table's bands;
    the birth date is the stored one, else the one the resident ID number carries. Only a document that
    carries no birth date (and none stored) falls back to 劳动年龄内居民, the band the bureau bills most."""
    birth = person.birth_date or facts_from_id(person.id_type, person.id_number).birth_date
    return resident_medical_category(birth, year, region) if birth is not None else "working_age"


def generate_year(
    session: Session, year: int, region: str, today: date | None = None, table: PolicyTable | None = None
) -> int:
    """Create each enrolled resident's receivable for a calendar year (R-RM-2); idempotent.

    Returns how many were created. The amount comes from the policy table by the category the bureau
    stored, else by the insured's age with the table's bands; ``NoPolicyError`` for a year without a row.
    With ``today``, a year whose collection period has not opened yet is refused (docs/policy.md §1).
    """
    if today is not None:
        p = collection.period(region, SCHEME, year)
        if today < p.opens:
            raise RuleViolation(
                f"{year}年度城乡居民医疗保险集中缴费期自{format_date_zh(p.opens)}开始，届时再生成应缴费"
            )
    if not resident_medical_priced(region, year, table):
        resident_medical_premium(region, year, "working_age", table)  # the plain NoPolicyError
    created = 0
    enrolments = session.scalars(
        select(Enrolment).where(
            Enrolment.scheme == SCHEME, Enrolment.region == region, Enrolment.status == EnrolmentStatus.ACTIVE
        )
    )
    existing = set(
        session.scalars(
            select(Receivable.natural_key).where(
                Receivable.scheme == SCHEME, Receivable.fee_period_start == date(year, 1, 1)
            )
        )
    )
    for e in enrolments:
        key = f"rm:{e.person_id}:{year}"
        if key in existing:
            continue
        category = e.category or category_by_age(e.person, year, region)
        amount = resident_medical_premium(region, year, category, table)
        session.add(
            Receivable(
                natural_key=key,
                insured_id=e.person_id,
                enrolment_id=e.id,
                scheme=SCHEME,
                insurance="rm_medical",
                fee_period_start=date(year, 1, 1),
                fee_period_end=date(year, 12, 1),
                base=None,
                amount_fen=yuan_to_fen(amount),
                charge_type=ChargeType.ANNUAL,
                notice_no=None,
                si_serial=f"RM{year}{e.person_id:010d}",
                tax_office=e.tax_office,
                si_agency=e.si_agency,
                special_category=None,
            )
        )
        created += 1
    return created
