"""Qingdao (seed 002, R-QD-*): finding the insured by name + ID (no face check), their 个人参保编号, the bills the
bureau's 核定 file brought (缴费 this year, 特殊缴费 earlier years), the base chosen for the bureau's queue and
the records. Payment itself is the shared checkout (``services.checkout``, ``payments.orders``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import atomic
from ..domain import qingdao as rules
from ..domain.calendar import BEIJING, Month
from ..domain.errors import NotFound, RuleViolation
from ..domain.schemes import SchemeCode
from ..domain.statuses import (
    SPECIAL_CHARGE_TYPES,
    DeclarationKind,
    DeclarationStatus,
    EnrolmentStatus,
    QdBaseState,
    ReceivableStatus,
)
from ..models import Declaration, Enrolment, Person, QdBaseChoice, QdInsured, Receivable, Refund, SettledPayment
from . import declarations
from .audit import record
from .identity import holder

SCHEME = SchemeCode.QINGDAO


def find(session: Session, name: str, id_type: str, id_number: str, key: bytes) -> Person:
    """The insured person a name + ID names (R-QD-2): the name must be the document holder's in the identity
    register and the person must be enrolled in Qingdao. Every refusal reads the same (no answer tells a
    right name from an unenrolled ID, issue 17 D5)."""
    if holder(session, id_type, id_number, key).name != name:
        raise RuleViolation(rules.MSG_NOT_FOUND)
    person = session.scalar(select(Person).where(Person.id_type == id_type, Person.id_number == id_number))
    if person is None or enrolment_of(session, person.id) is None:
        raise RuleViolation(rules.MSG_NOT_FOUND)
    return person


def enrolment_of(session: Session, person_id: int) -> Enrolment | None:
    """The person's active Qingdao enrolment, if any."""
    return session.scalar(
        select(Enrolment).where(
            Enrolment.person_id == person_id, Enrolment.scheme == SCHEME, Enrolment.status == EnrolmentStatus.ACTIVE
        )
    )


@dataclass
class InsuredNumber:
    """One 个人参保编号 as a module lists it: its 险种类型, the base (the bills' or the one chosen), its bills."""

    row: QdInsured
    bills: list[Receivable] = field(default_factory=list)
    chosen: QdBaseChoice | None = None  # this year's base choice

    @property
    def insurance_label(self) -> str:
        """险种类型."""
        return rules.INSURANCE_LABELS[self.row.insurance]

    @property
    def base(self) -> int | None:
        """缴费基数 to show: the bills' (the bureau's), else the base chosen and queued."""
        bases = [b.base for b in self.bills if b.base is not None]
        if bases:
            return bases[-1]
        return self.chosen.base if self.chosen else None

    @property
    def total_fen(self) -> int:
        """What the bills add up to."""
        return sum(b.amount_fen for b in self.bills)

    @property
    def waiting_for_bill(self) -> bool:
        """A base was chosen, but the bureau's file has brought no bill at it yet (issue 19 item 2)."""
        return self.chosen is not None and self.chosen.state is QdBaseState.QUEUED and not self.bills


def insured_numbers(session: Session, person_id: int, today: date, *, special: bool) -> list[InsuredNumber]:
    """The person's 个人参保编号 with this year's base choice and their due bills: this year's normal bills (缴费)
    or earlier years' items (特殊缴费), oldest first. Two statements."""
    rows = session.execute(
        select(QdInsured, QdBaseChoice)
        .outerjoin(QdBaseChoice, (QdBaseChoice.qd_insured_id == QdInsured.id) & (QdBaseChoice.year == today.year))
        .where(QdInsured.person_id == person_id)
        .order_by(QdInsured.insurance.desc())
    ).all()
    # keyed by the stored word: a receivable's insurance is any scheme's (a str), a 险种类型 one of QdInsurance's
    by_insurance: dict[str, InsuredNumber] = {
        str(row.insurance): InsuredNumber(row, chosen=None if special else chosen) for row, chosen in rows
    }
    bills = session.scalars(
        select(Receivable)
        .where(
            Receivable.insured_id == person_id,
            Receivable.scheme == SCHEME,
            Receivable.status == ReceivableStatus.DUE,
            Receivable.batch_debit_id.is_(None),
        )
        .order_by(Receivable.fee_period_start)
    )
    for b in bills:
        if (b.charge_type in SPECIAL_CHARGE_TYPES) == special and b.insurance in by_insurance:
            by_insurance[b.insurance].bills.append(b)
    return list(by_insurance.values())


def insured_number(session: Session, person_id: int, qd_insured_id: int) -> QdInsured:
    """One of the person's 个人参保编号; ``NotFound`` for anyone else's."""
    row = session.get(QdInsured, qd_insured_id)
    if row is None or row.person_id != person_id:
        raise NotFound(qd_insured_id)
    return row


def base_choice(session: Session, qd_insured_id: int, year: int) -> QdBaseChoice | None:
    """The base chosen for a 个人参保编号 and year."""
    return session.scalar(
        select(QdBaseChoice).where(QdBaseChoice.qd_insured_id == qd_insured_id, QdBaseChoice.year == year)
    )


@atomic
def choose_base(
    session: Session, person_id: int, qd_insured_id: int, text: str, *, channel: str, now: datetime
) -> QdBaseChoice:
    """缴费档次或基数选择 (R-QD-4): a base within the table's range goes to the bureau's queue for this year; it
    applies to the bills the next 核定 file brings. Choosing again replaces it (and queues it again)."""
    row = insured_number(session, person_id, qd_insured_id)
    today = now.astimezone(BEIJING).date()
    base = rules.parse_base(text, today)
    choice = base_choice(session, row.id, today.year)
    if choice is None:
        choice = QdBaseChoice(qd_insured_id=row.id, year=today.year, base=base, channel=channel, chosen_at=now)
        session.add(choice)
    else:
        choice.base, choice.channel, choice.chosen_at, choice.applied_at = base, channel, now, None
    choice.state = QdBaseState.QUEUED
    record(session, "qd.base_chosen", row.insured_no, f"{today.year} {base}", person_id)
    session.flush()
    return choice


def bills_of(session: Session, person_id: int, qd_insured_id: int, today: date, *, special: bool) -> list[Receivable]:
    """The due bills of one 个人参保编号 for 缴费 or 特殊缴费 (第五步: 核对缴费金额)."""
    row = insured_number(session, person_id, qd_insured_id)
    for n in insured_numbers(session, person_id, today, special=special):
        if n.row.id == row.id:
            return n.bills
    return []


def declare(
    session: Session, person_id: int, qd_insured_id: int, receivable_ids: list[int], *, channel: str, now: datetime
) -> Declaration:
    """立即缴费 on 核对缴费金额: declare the shown bills of one 个人参保编号 (all of them: the amount checked is
    what is paid). Payer and insured are the person found: the public accounts know no one else (R-QD-2)."""
    rows = [r for r in session.scalars(select(Receivable).where(Receivable.id.in_(receivable_ids)))]
    row = insured_number(session, person_id, qd_insured_id)
    if not rows or any(r.insurance != row.insurance for r in rows):
        raise RuleViolation(declarations.MSG_STALE)
    special = {r.charge_type in SPECIAL_CHARGE_TYPES for r in rows}
    if len(special) != 1:
        raise RuleViolation(declarations.MSG_STALE)
    return declarations.declare(
        session,
        payer_id=person_id,
        insured_id=person_id,
        scheme=SCHEME,
        receivable_ids=sorted(r.id for r in rows),
        channel=channel,
        now=now,
        kind=DeclarationKind.SPECIAL if special.pop() else DeclarationKind.NORMAL,
    )


def open_declarations(
    session: Session, person_id: int, *, insurance: str | None = None, year: int | None = None
) -> list[Declaration]:
    """Declarations made here and not yet paid (继续缴费); with ``insurance`` / ``year``, only those holding a bill
    of that 险种类型 / 费款所属期 year (云闪付's menus show the orders of the menu's own bills)."""
    query = select(Declaration).where(
        Declaration.payer_id == person_id,
        Declaration.scheme == SCHEME,
        Declaration.status == DeclarationStatus.DECLARED,
    )
    if insurance is not None or year is not None:
        held = select(Receivable.declaration_id).where(Receivable.declaration_id == Declaration.id)
        if insurance is not None:
            held = held.where(Receivable.insurance == insurance)
        if year is not None:
            held = held.where(
                Receivable.fee_period_start >= date(year, 1, 1), Receivable.fee_period_start <= date(year, 12, 31)
            )
        query = query.where(held.exists())
    return list(session.scalars(query.order_by(Declaration.id.desc())))


@dataclass(frozen=True)
class RecordLine:
    """缴费记录 for someone found by name + ID: dates, insurance and amounts only (issue 19 item 4)."""

    fee_period: str
    insurance: str
    amount_fen: int
    paid_on: date
    special: bool


def records(session: Session, person_id: int) -> list[RecordLine]:
    """缴费记录 (seed 002 §四): every paid Qingdao bill of the person, newest fee period first. One statement."""
    rows = session.execute(
        select(Receivable.fee_period_start, Receivable.insurance, Receivable.charge_type, SettledPayment)
        .join(SettledPayment, SettledPayment.receivable_id == Receivable.id)
        .where(Receivable.insured_id == person_id, Receivable.scheme == SCHEME)
        .order_by(Receivable.fee_period_start.desc(), SettledPayment.id.desc())
    )
    return [
        RecordLine(
            f"{start:%Y-%m}",
            rules.INSURANCE_LABELS.get(insurance, insurance),
            p.amount_fen,
            p.paid_at.astimezone(BEIJING).date(),
            charge in SPECIAL_CHARGE_TYPES,
        )
        for start, insurance, charge, p in rows
    ]


def refunds(session: Session, person_id: int) -> list[Refund]:
    """Money taken for a Qingdao fee that settled nothing and goes back (退款中 / 已退款 with the date; 云闪付's
    如有已扣款缴费未成功的情况，费用将自动退款, R-PA-5 everywhere)."""
    return declarations.refunds_between(session, person_id, SCHEME, Month(1990, 1), Month(2100, 12))


# ------------------------------------------------------------------------------------------ enrolment


def enrol(
    session: Session,
    person: Person,
    *,
    insured_nos: dict[str, str],
    enrolled_on: date,
    tax_office: str = "国家税务总局青岛市市南区税务局",
    si_agency: str = "青岛市社会保险事业中心",
) -> Enrolment:
    """The bureau's push of a Qingdao enrolment (demo, factories): one 个人参保编号 per 险种类型."""
    e = Enrolment(
        person_id=person.id,
        scheme=SCHEME,
        region=rules.REGION,
        tax_office=tax_office,
        si_agency=si_agency,
        enrolled_on=enrolled_on,
        insurances=",".join(sorted(insured_nos)),
    )
    session.add(e)
    session.flush()
    for insurance, number in insured_nos.items():
        session.add(QdInsured(insured_no=number, enrolment_id=e.id, person_id=person.id, insurance=insurance))
    session.flush()
    return e
