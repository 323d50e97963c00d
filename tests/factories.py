"""Build the people a test needs, in the words of the guide: ``make_resident(s, category="elderly")``,
``make_family(s, payer, [...])``, ``make_flex_worker(s, base=8000, unpaid_months=3)``. Each writes
through the same services the bureau feed uses, so amounts come from the policy tables; each returns
the person (flushed, not committed: the caller commits).
"""

from __future__ import annotations

import itertools
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum.cn import ric

from webapp import demo
from webapp.domain.calendar import BEIJING, Month
from webapp.domain.identity import facts_from_id
from webapp.domain.policy import contribution_year
from webapp.domain.statuses import BaseSource, ChargeType
from webapp.models import BaseDeclaration, Enrolment, FamilyPayee, Person, Receivable
from webapp.services import flexible, identity, resident_medical

TODAY = date(2026, 11, 22)
TAX_OFFICE = "国家税务总局北京市朝阳区税务局第一税务所"
SI_AGENCY = "北京市朝阳区社会保险基金管理中心"
_seq = itertools.count(1)


def id_number(birth: date = date(1980, 1, 1), *, male: bool = True, area: str = "110105") -> str:
    """A fresh resident ID number with a valid GB 11643 check digit."""
    n = next(_seq)
    order = (n * 2 + (1 if male else 0)) % 1000 or (1 if male else 2)
    body = f"{area}{birth:%Y%m%d}{order:03d}"
    number = body + ric.calc_check_digit(body + "0")  # it reads the first 17 of 18
    return number


def make_person(s: Session, name: str = "张三", number: str | None = None, *, birth: date = date(1980, 1, 1),
                male: bool = True, face_fail_reason: str | None = None) -> Person:
    """Someone the tax system knows (no enrolment), listed as the holder of their ID in the simulated
    identity register so they can log in (``face_fail_reason``: their face check fails with it)."""
    number = number or id_number(birth, male=male)
    facts = facts_from_id("resident_id", number)
    identity.register(s, "resident_id", number, name, face_fail_reason)
    p = Person(name=name, id_type="resident_id", id_number=number, sex=facts.sex, birth_date=facts.birth_date,
               person_no=identity.next_person_no(s))
    s.add(p)
    s.flush()
    return p


def make_resident(s: Session, name: str = "李四", *, category: str | None = "working_age", year: int = TODAY.year,
                  birth: date = date(1980, 1, 1), number: str | None = None, paid: bool = False,
                  region: str = "beijing", face_fail_reason: str | None = None) -> Person:
    """A resident enrolled in resident medical, owing the year's premium (or having paid it, ``paid``)."""
    p = make_person(s, name, number, birth=birth, face_fail_reason=face_fail_reason)
    s.add(Enrolment(person_id=p.id, scheme=resident_medical.SCHEME, region=region, category=category,
                    tax_office=TAX_OFFICE, si_agency=SI_AGENCY, enrolled_on=date(2020, 1, 1)))
    s.flush()
    resident_medical.generate_year(s, year, region)
    if paid:
        r = s.scalar(select(Receivable).where(Receivable.natural_key == f"rm:{p.id}:{year}"))
        demo.settle_past(s, p, [r], TODAY.replace(day=1), "wechat")
    s.flush()
    return p


def make_family(s: Session, payer: Person, members: list[tuple[Person, str]]) -> Person:
    """Save family members for a payer (R-RM-1): ``[(person, "父亲"), …]``."""
    for person, relation in members:
        s.add(FamilyPayee(payer_id=payer.id, insured_id=person.id, relation=relation))
    s.flush()
    return payer


def make_flex_worker(s: Session, name: str = "刘一", *, base: int | None = 8000, unpaid_months: int = 3,
                     unpaid: dict[str, tuple[int, ...]] | None = None, subsidized: bool = False,
                     enrolled_on: date = date(2024, 3, 5), today: date = TODAY, batch_debit: bool = False,
                     birth: date = date(1987, 4, 15), number: str | None = None) -> Person:
    """A flexible worker with six months of receivables before ``today``: the last ``unpaid_months`` of
    them unpaid (or ``unpaid``: by insurance, offsets from this month, ``"*"`` for all three), the rest
    paid. ``base=None`` for a new enrollee who has not declared yet."""
    p = make_person(s, name, number, birth=birth)
    e = Enrolment(person_id=p.id, scheme=flexible.SCHEME, region="beijing", tax_office=TAX_OFFICE,
                  si_agency=SI_AGENCY, enrolled_on=enrolled_on, subsidized=subsidized, batch_debit=batch_debit,
                  insurances="pension,unemployment,medical", special_category="享受补贴人员" if subsidized else None)
    s.add(e)
    s.flush()
    if base is not None and not subsidized:
        s.add(BaseDeclaration(enrolment_id=e.id, contribution_year=contribution_year(enrolled_on), base=base,
                              source=BaseSource.DECLARED))
        s.flush()
    this = Month.of(today)
    for offset in range(-6, 0):
        if this + offset >= Month.of(enrolled_on):
            flexible.generate_month(s, this + offset, "beijing")
    owed = unpaid if unpaid is not None else {"*": tuple(range(-unpaid_months, 0))}
    for offset in range(-6, 0):
        month = this + offset
        rows = s.scalars(select(Receivable).where(Receivable.insured_id == p.id, Receivable.scheme == flexible.SCHEME,
                                                  Receivable.charge_type == ChargeType.NORMAL,
                                                  Receivable.fee_period_start == month.first_day)).all()
        paid = [r for r in rows if offset not in owed.get("*", ()) + owed.get(r.insurance, ())]
        demo.settle_past(s, p, paid, (month + 1).day(12), "alipay")
    s.flush()
    return p


def add_special_items(s: Session, person: Person, items: list[tuple[str, str, str, str]],
                      month: Month | None = None) -> None:
    """特殊核定 items from the bureau: ``[(insurance, amount, charge_type, notice_no), …]``."""
    month = month or Month(2026, 3)
    csv_text = "id_type,id_number,insurance,fee_period,amount,charge_type,notice_no\n" + "".join(
        f"resident_id,{person.id_number},{ins},{month},{amount},{kind},{notice}\n"
        for ins, amount, kind, notice in items)
    flexible.import_special(s, csv_text)


def at(day: date, hour: int = 10) -> datetime:
    """A Beijing time on a day (for ``clock.set``)."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=BEIJING)
