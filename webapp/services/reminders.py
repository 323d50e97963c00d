"""缴费提醒 (R-UX-3): the person's next due date of a scheme, from what they owe, their agreements and the
region's calendar. The dates are the domain's (``domain.reminders``)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain import reminders as rules
from ..domain.calendar import Month
from ..domain.schemes import SchemeCode
from ..domain.statuses import ReceivableStatus
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


def _paid(session: Session, person_id: int, scheme: str, start: date, end: date) -> bool:
    return (
        session.scalar(
            select(Receivable.id)
            .where(
                Receivable.insured_id == person_id,
                Receivable.scheme == scheme,
                Receivable.status == ReceivableStatus.PAID,
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
    year_start, year_end = date(today.year, 1, 1), date(today.year, 12, 31)
    who: list[str] = []
    if enrolment is not None and (
        _owes(session, person.id, kind, year_start, year_end)
        or (kind == SchemeCode.RESIDENT_PENSION and not _paid(session, person.id, kind, year_start, year_end))
    ):
        who.append("本人")  # resident pension: a year not paid is owed even before its amount is set (R-RP-1)
    if kind == SchemeCode.RESIDENT_MEDICAL:
        who += [
            f"{m.person.name}（{m.relation}）"
            for m in rm.members(session, person.id, today.year)
            if m.year_state in ("due", "declared")
        ]
    return rules.resident_due(kind, region, today, owes_year=bool(who), who=tuple(who))
