"""Urban-rural resident medical insurance (城乡居民医疗): who may be paid for, and what is owed
(R-RM-1, R-RM-2). Use cases over a SQLAlchemy session.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.errors import RuleViolation
from ..domain.identity import facts_from_id
from ..domain.money import yuan_to_fen
from ..domain.policy import resident_medical_category, resident_medical_premium
from ..domain.schemes import SchemeCode
from ..domain.statuses import ChargeType, EnrolmentStatus, ReceivableStatus
from ..models import Enrolment, FamilyPayee, Person, Receivable

SCHEME = SchemeCode.RESIDENT_MEDICAL


MSG_NOT_FOUND = ("未查询到参保信息。请核实参保人是否已在医保部门办理参保登记；"
                 "如已登记，请待次月登记信息传递至税务部门后再缴费。")


def find_insured(session: Session, name: str, id_type: str, id_number: str) -> Person:
    """The insured person named on the 他人 form. Unknown, not enrolled, or a name that does not match:
    the guide's Q21 message alone, so the form tells a stranger nothing more (R-ID-4)."""
    person = session.scalar(select(Person).where(Person.id_type == id_type, Person.id_number == id_number))
    if person is None or person.name != name or not _enrolment(session, person.id):
        raise RuleViolation(MSG_NOT_FOUND)
    return person


def _enrolment(session: Session, person_id: int) -> Enrolment | None:
    return session.scalar(select(Enrolment).where(Enrolment.person_id == person_id, Enrolment.scheme == SCHEME))


def family(session: Session, payer_id: int) -> list[Person]:
    """The people this payer saved or paid for before (R-RM-1)."""
    rows = session.scalars(select(FamilyPayee).where(FamilyPayee.payer_id == payer_id).order_by(FamilyPayee.id))
    return [r.insured for r in rows]


def may_pay_for(session: Session, payer_id: int, insured_id: int) -> bool:
    """Oneself, or a saved family member."""
    if payer_id == insured_id:
        return True
    return session.scalar(select(FamilyPayee.id).where(FamilyPayee.payer_id == payer_id,
                                                       FamilyPayee.insured_id == insured_id)) is not None


def remember(session: Session, payer_id: int, insured_id: int, relation: str | None = None) -> None:
    """Save someone as a family payee (idempotent)."""
    if payer_id != insured_id and not may_pay_for(session, payer_id, insured_id):
        session.add(FamilyPayee(payer_id=payer_id, insured_id=insured_id, relation=relation))


def receivables(session: Session, insured_id: int) -> list[Receivable]:
    """The insured's resident medical receivables still to declare (待缴信息)."""
    return list(session.scalars(select(Receivable).where(
        Receivable.insured_id == insured_id, Receivable.scheme == SCHEME, Receivable.status == ReceivableStatus.DUE
    ).order_by(Receivable.fee_period_start)))


def status_of(session: Session, insured_id: int) -> str:
    """Why there may be nothing to pay: ``none`` (not enrolled), ``paid``, ``declared`` or ``due``."""
    if _enrolment(session, insured_id) is None:
        return "none"
    statuses = set(session.scalars(select(Receivable.status).where(Receivable.insured_id == insured_id,
                                                                   Receivable.scheme == SCHEME)))
    if ReceivableStatus.DUE in statuses:
        return "due"
    if ReceivableStatus.DECLARED in statuses:
        return "declared"
    return "paid" if ReceivableStatus.PAID in statuses else "nothing"


def category_by_age(person: Person, year: int, region: str) -> str:
    """R-RM-2: the category of a resident whose row stores none, from age with the policy table's bands;
    the birth date is the stored one, else the one the resident ID number carries. Only a document that
    carries no birth date (and none stored) falls back to 劳动年龄内居民, the band the bureau bills most."""
    birth = person.birth_date or facts_from_id(person.id_type, person.id_number).birth_date
    return resident_medical_category(birth, year, region) if birth is not None else "working_age"


def generate_year(session: Session, year: int, region: str) -> int:
    """Create each enrolled resident's receivable for a calendar year (R-RM-2); idempotent.

    Returns how many were created. The amount comes from the policy table by the category the bureau
    stored, else by the insured's age with the table's bands; ``NoPolicyError`` for a year without a row.
    """
    created = 0
    enrolments = session.scalars(select(Enrolment).where(Enrolment.scheme == SCHEME, Enrolment.region == region,
                                                         Enrolment.status == EnrolmentStatus.ACTIVE))
    existing = set(session.scalars(select(Receivable.natural_key).where(
        Receivable.scheme == SCHEME, Receivable.fee_period_start == date(year, 1, 1))))
    for e in enrolments:
        key = f"rm:{e.person_id}:{year}"
        if key in existing:
            continue
        category = e.category or category_by_age(e.person, year, region)
        amount = resident_medical_premium(region, year, category)
        session.add(Receivable(
            natural_key=key, insured_id=e.person_id, enrolment_id=e.id, scheme=SCHEME, insurance="rm_medical",
            fee_period_start=date(year, 1, 1), fee_period_end=date(year, 12, 1), base=None,
            amount_fen=yuan_to_fen(amount), charge_type=ChargeType.ANNUAL, notice_no=None,
            si_serial=f"RM{year}{e.person_id:010d}", tax_office=e.tax_office, si_agency=e.si_agency,
            special_category=None))
        created += 1
    return created
