"""缴费提醒 (R-UX-3): the person's next due date of a scheme, from what they owe, their agreements and the
region's calendar. The dates are the domain's (``domain.reminders``)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain import collection
from ..domain import reminders as rules
from ..domain.calendar import Month
from ..domain.schemes import SchemeCode
from ..domain.statuses import ChargeType, ReceivableStatus
from ..models import Enrolment, Person, Receivable
from . import agreements
from . import resident_medical as rm

OWED = (ReceivableStatus.DUE, ReceivableStatus.DECLARED)


def _enrolment(session: Session, person_id: int, scheme: str) -> Enrolment | None:
    return session.scalar(
        select(Enrolment).where(Enrolment.person_id == person_id, Enrolment.scheme == scheme).limit(1)
    )


def _owes(session: Session, person_id: int, scheme: str, start: date, end: date) -> bool:
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


def kinds_for(session: Session, person: Person) -> list[str]:
    """The reminders that apply to the person: the schemes they are enrolled in (resident medical also when
    they pay for saved family members)."""
    enrolled = set(session.scalars(select(Enrolment.scheme).where(Enrolment.person_id == person.id)))
    if rm.family(session, person.id):
        enrolled.add(SchemeCode.RESIDENT_MEDICAL)
    return [k for k in rules.KINDS if k in enrolled]


def next_due(session: Session, person: Person, kind: str, today: date, default_region: str) -> rules.Reminder | None:
    """The person's next due date of a scheme (R-UX-3); None when the reminder does not apply to them."""
    if kind not in kinds_for(session, person):
        return None
    enrolment = _enrolment(session, person.id, kind)
    region = enrolment.region if enrolment is not None else default_region
    if kind == SchemeCode.FLEXIBLE:
        owes = _owes(session, person.id, kind, date(1900, 1, 1), Month.of(today).first_day)
        return rules.flexible_due(today, owes_now=owes, batch=agreements.has_batch_agreement(session, person.id, today))
    return _resident_due(session, person, kind, enrolment, region, today)


def _resident_due(
    session: Session, person: Person, kind: str, enrolment: Enrolment | None, region: str, today: date
) -> rules.Reminder:
    """Resident medical or pension: the years on sale that the person, or a saved family member (resident
    medical), still owes, named; else the next year to pay (docs/policy.md §1)."""
    on_sale = collection.years_on_sale(region, kind, today)
    names: dict[int, str] = {person.id: "本人"} if enrolment is not None else {}
    if kind == SchemeCode.RESIDENT_MEDICAL:
        names.update(
            {m.person.id: f"{m.person.name}（{m.relation}）" for m in rm.members(session, person.id, today.year)}
        )
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
        if kind == SchemeCode.RESIDENT_PENSION and pid == person.id:
            # a year not paid is owed even before its amount is set (R-RP-1)
            this = collection.collection_year(region, kind, today)
            if "paid" not in states[pid].get(this, set()):
                years.add(this)
        if years:
            owed |= years
            who.append(name)
    paid = {y for y in on_sale if names and all("paid" in states[pid].get(y, set()) for pid in names)}
    return rules.resident_due(kind, region, today, owed_years=tuple(owed), paid_years=tuple(paid), who=tuple(who))
