"""The read models of the resident pension pages (城乡居民养老): one typed dataclass per page, worked out here so
the view only parses, calls and renders (issue 18 item 1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from ..domain import pension as rules
from ..domain.schemes import SCHEMES, SchemeCode
from ..domain.statuses import DeclarationKind
from ..models import BatchDebit, Enrolment, PensionAmount, Person, Receivable
from . import batch_debit
from . import resident_pension as rp
from .pages import selection

STEPS = SCHEMES[SchemeCode.RESIDENT_PENSION].steps


def chosen_insurances(e: Enrolment, values: list[str]) -> list[str]:
    """The insurances ticked at 选择参保信息 (all of the enrolled ones when none of them is named)."""
    enrolled = rp.insurances(e)
    return [i for i in enrolled if i in values] or enrolled


@dataclass(frozen=True)
class InsuranceRow:
    """One 参保险种 at 选择参保信息: its amount set for the year (if any) and the year's state."""

    insurance: str
    label: str
    amount: PensionAmount | None
    status: str


def insurance_rows(session: Session, person: Person, e: Enrolment, year: int) -> list[InsuranceRow]:
    """选择参保信息's rows, one per enrolled insurance."""
    return [
        InsuranceRow(
            i, rules.LABELS[i], rp.active_amount(session, e.id, i, year), rp.year_status(session, person.id, i, year)
        )
        for i in rp.insurances(e)
    ]


@dataclass(frozen=True)
class SelectPage:
    """选择缴费信息: 正常缴费 (the amount set) or 特殊缴费 (人社核定), with the 合计 of what is ticked."""

    tab: DeclarationKind
    items: list[Receivable]
    groups: dict[str, list[Receivable]]  # by insurance (normal) or by 征集通知流水号 (special)
    selected: set[str]
    year: int
    total: Decimal
    insurances: list[str]
    states: dict[str, str]
    labels: dict[str, str]
    steps: tuple[str, ...]
    special_count: int
    amounts: dict[str, PensionAmount | None]
    failures: list[BatchDebit]


def select_page(
    session: Session,
    person: Person,
    e: Enrolment,
    tab: str | None,
    insurances: list[str],
    chosen: list[str] | None,
    today: date,
) -> SelectPage:
    """The page for ``tab`` and the ticked ``insurances``, with ``chosen`` ticked (everything when None)."""
    kind = DeclarationKind.of(tab)
    year = rules.pension_year(today)
    special = rp.special_receivables(session, person.id, insurances)
    items = special if kind == DeclarationKind.SPECIAL else rp.normal_receivables(session, person.id, year, insurances)
    groups, selected, total = selection(items, kind, chosen)
    return SelectPage(
        tab=kind,
        items=items,
        groups=groups,
        selected=selected,
        year=year,
        total=total,
        insurances=insurances,
        states={i: rp.year_status(session, person.id, i, year) for i in insurances},
        labels=rules.LABELS,
        steps=STEPS,
        special_count=len(special),
        amounts={i: rp.active_amount(session, e.id, i, year) for i in insurances},
        failures=(
            batch_debit.failures_for(session, person.id, today, SchemeCode.RESIDENT_PENSION)
            if kind == DeclarationKind.NORMAL
            else []
        ),
    )
