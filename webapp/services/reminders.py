"""缴费提醒 (R-UX-3): the reads a scheme's flow (``services.schemes``) makes to work out the person's next due
date, from what they owe, their agreements and the region's calendar. The dates are the domain's
(``domain.reminders``)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain import collection
from ..domain import reminders as rules
from ..domain.calendar import Month
from ..domain.statuses import ChargeType, ReceivableStatus
from ..models import Enrolment, Person, Receivable
from . import agreements

OWED = (ReceivableStatus.DUE, ReceivableStatus.DECLARED)


def owes(session: Session, person_id: int, scheme: str, start: date, end: date) -> bool:
    """Whether the person owes something of the scheme with a fee period starting between the two dates."""
    return (
        session.scalar(
            select(Receivable.id)
            .where(
                Receivable.insured_id == person_id,
                Receivable.scheme == scheme,
                Receivable.status.in_(OWED),
                Receivable.fee_period_start >= start,
                Receivable.fee_period_start <= end,
            )
            .limit(1)
        )
        is not None
    )


def flexible_due(session: Session, person: Person, kind: str, today: date) -> rules.Reminder:
    """A flexible worker's next due date: this month's 25th while something up to this month is owed, or the
    batch day with a batch-debit agreement (R-FP-4, R-UX-3)."""
    owes_now = owes(session, person.id, kind, date(1900, 1, 1), Month.of(today).first_day)
    return rules.flexible_due(today, owes_now=owes_now, batch=agreements.has_batch_agreement(session, person.id, today))


def resident_due(
    session: Session,
    person: Person,
    kind: str,
    enrolment: Enrolment | None,
    region: str,
    today: date,
    *,
    family: dict[int, str] | None = None,
    owed_before_set: bool = False,
) -> rules.Reminder:
    """A yearly scheme (resident medical, resident pension): the years on sale that the person, or someone in
    ``family`` (insured id → how the reminder names them), still owes, named; else the next year to pay
    (docs/policy.md §1). ``owed_before_set``: the person's year of collection is owed even before a
    receivable exists (R-RP-1: the amount is not set yet)."""
    on_sale = collection.years_on_sale(region, kind, today)
    names: dict[int, str] = {person.id: "本人"} if enrolment is not None else {}
    names.update(family or {})
    states: dict[int, dict[int, set[str]]] = {pid: {} for pid in names}
    if names and on_sale:
        for insured_id, start, status in session.execute(
            select(Receivable.insured_id, Receivable.fee_period_start, Receivable.status).where(
                Receivable.insured_id.in_(list(names)),
                Receivable.scheme == kind,
                Receivable.charge_type == ChargeType.ANNUAL,
                Receivable.fee_period_start >= date(min(on_sale), 1, 1),
                Receivable.fee_period_start <= date(max(on_sale), 12, 31),
            )
        ):
            states[insured_id].setdefault(start.year, set()).add(str(status))
    owed: set[int] = set()
    who: list[str] = []
    for pid, name in names.items():
        years = {y for y, st in states[pid].items() if st & {str(s) for s in OWED}}
        if owed_before_set and pid == person.id:
            # a year not paid is owed even before its amount is set (R-RP-1)
            this = collection.collection_year(region, kind, today)
            if "paid" not in states[pid].get(this, set()):
                years.add(this)
        if years:
            owed |= years
            who.append(name)
    paid = {y for y in on_sale if names and all("paid" in states[pid].get(y, set()) for pid in names)}
    return rules.resident_due(kind, region, today, owed_years=tuple(owed), paid_years=tuple(paid), who=tuple(who))
