"""Qingdao people for tests (issue 19), built through the same services the bureau's feed uses: the enrolment
with its 个人参保编号, then the bureau's 核定 file through the importer (R-QD-5), never rows written by hand."""

from __future__ import annotations

import itertools
from datetime import date, datetime

from sqlalchemy.orm import Session

from tests.factories import TODAY, id_number, make_person
from webapp.domain.calendar import BEIJING, Month
from webapp.models import Person
from webapp.services import qd_import, qingdao

_numbers = itertools.count(1)
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=BEIJING)


def insured_no() -> str:
    """A fresh 个人参保编号."""
    return f"3702{next(_numbers):010d}"


def make_qd_worker(
    s: Session,
    name: str = "张青",
    number: str | None = None,
    *,
    insurances: tuple[str, ...] = ("pension", "medical"),
    enrolled_on: date = date(2024, 3, 1),
) -> Person:
    """A Qingdao flexible worker with one 个人参保编号 per insurance and no bill yet."""
    person = make_person(s, name, number or id_number(date(1985, 5, 5), area="370202"))
    qingdao.enrol(s, person, insured_nos={i: insured_no() for i in insurances}, enrolled_on=enrolled_on)
    return person


def numbers_of(s: Session, person: Person) -> dict[str, str]:
    """The person's 个人参保编号 by insurance."""
    return {n.row.insurance: n.row.insured_no for n in qingdao.insured_numbers(s, person.id, TODAY, special=False)}


def assess(s: Session, rows: list[tuple[str, str, str, str, str]], year: int = TODAY.year) -> qd_import.ImportResult:
    """Load a 核定 file of ``(个人参保编号, 险种类型, 缴费基数, 费款所属期, 金额)`` rows."""
    text = "个人参保编号,险种类型,缴费基数,费款所属期,金额\n" + "".join(",".join(r) + "\n" for r in rows)
    return qd_import.load(s, text, year, NOW)


def bill_months(s: Session, person: Person, months: list[Month], base: int = 5000) -> None:
    """This year's bills for both insurances at ``base`` (amounts as a bureau would send: not computed here)."""
    nos = numbers_of(s, person)
    rows = []
    for m in months:
        rows.append((nos["pension"], "pension", str(base), str(m), "800.00"))
        rows.append((nos["medical"], "medical", str(base), str(m), "350.00"))
    assess(s, rows)
