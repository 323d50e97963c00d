"""银联云闪付's menus (seed 002 云闪付, R-QD-8) over Qingdao's services: 社保（养老）自助缴费 and 医保（医疗）自助缴费
(this year: the base set, changed and voided — 基数作废 — in the page, with 是否允许用于批扣), 社保（医保）费补缴
(earlier years: one insurance and one 缴费所属期), 缴费明细查询 in each. Use cases over a Session; they flush.

Decisions (docs/qingdao-certificates.md):

- 基数作废 withdraws this year's base from the bureau's queue (the row goes, the audit keeps it) so another can
  be chosen; once the bureau's 核定 file has brought bills at it (``applied``), or any of this year's bills of the
  number is paid or being paid, it cannot be voided: the base is the bureau's then (the page says so).
- 是否允许用于批扣 is stored with the base and goes to the bureau with it; choosing again asks again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import atomic
from ..domain import qingdao as rules
from ..domain.calendar import BEIJING
from ..domain.errors import RuleViolation
from ..domain.statuses import SPECIAL_CHARGE_TYPES, QdBaseState, ReceivableStatus
from ..models import QdBaseChoice, QdInsured, Receivable
from . import qingdao as qd
from .audit import record

#: The three menus of 云闪付's 社保缴费 home, in the handbook's order: (code, label, insurance or None).
MENUS = (
    ("pension", "社保（养老）自助缴费", "pension"),
    ("medical", "医保（医疗）自助缴费", "medical"),
    ("backpay", "社保（医保）费补缴", None),
)
MENU_LABELS = {code: label for code, label, _ in MENUS}
#: 补缴's choice: 灵活就业人员基本医疗保险 or 灵活就业人员基本养老保险 (seed 002 §三 第一步).
BACKPAY_INSURANCES = {"medical": "灵活就业人员基本医疗保险", "pension": "灵活就业人员基本养老保险"}
MSG_NO_NUMBER = "未查询到该险种的个人参保编号"
MSG_NOT_VOIDABLE = "缴费基数已核定并生成应缴费信息（或已缴费），不能作废；如有异议请联系社保经办机构"
MSG_NO_BASE = "尚未选择缴费基数，无需作废"
MSG_NOTHING_OWED = "该缴费所属期无需补缴的费用"
MSG_BATCH = "请选择缴费基数是否允许用于批扣"


def number_of(session: Session, person_id: int, insurance: str) -> QdInsured:
    """The person's 个人参保编号 of one insurance; ``RuleViolation`` when they have none."""
    row = session.scalar(select(QdInsured).where(QdInsured.person_id == person_id, QdInsured.insurance == insurance))
    if row is None:
        raise RuleViolation(MSG_NO_NUMBER)
    return row


@atomic
def set_base(
    session: Session, person_id: int, qd_insured_id: int, text: str, batch: str, *, channel: str, now: datetime
) -> QdBaseChoice:
    """自助输入缴费基数，并选择是否允许用于批扣: the shared base choice (R-QD-4) with the flag."""
    if batch not in ("yes", "no"):
        rules.parse_base(text, now.astimezone(BEIJING).date())  # a bad base is said first
        raise RuleViolation(MSG_BATCH)
    choice = qd.choose_base(session, person_id, qd_insured_id, text, channel=channel, now=now)
    choice.batch_debit = batch == "yes"
    record(session, "qd.base_batch_debit", str(choice.id), batch, person_id)
    session.flush()
    return choice


def _year_bills(session: Session, qd_insured: QdInsured, year: int) -> list[ReceivableStatus]:
    """The statuses of this year's bills of the number."""
    return list(
        session.scalars(
            select(Receivable.status).where(
                Receivable.insured_id == qd_insured.person_id,
                Receivable.scheme == qd.SCHEME,
                Receivable.insurance == qd_insured.insurance,
                Receivable.fee_period_start >= datetime(year, 1, 1).date(),
                Receivable.charge_type.not_in(SPECIAL_CHARGE_TYPES),
            )
        )
    )


def _year_bills_taken(session: Session, qd_insured: QdInsured, year: int) -> bool:
    """Whether any of this year's bills of the number is paid or declared (being paid)."""
    return any(s != ReceivableStatus.DUE for s in _year_bills(session, qd_insured, year))


@atomic
def void_base(session: Session, person_id: int, qd_insured_id: int, now: datetime) -> None:
    """基数作废: withdraw this year's queued base (then another may be chosen); refused once the bureau applied it."""
    row = qd.insured_number(session, person_id, qd_insured_id)
    year = now.astimezone(BEIJING).date().year
    choice = qd.base_choice(session, row.id, year)
    if choice is None:
        # A base on the bureau's bills with no choice made here is the bureau's own: not ours to void.
        raise RuleViolation(MSG_NOT_VOIDABLE if _year_bills(session, row, year) else MSG_NO_BASE)
    if choice.state is not QdBaseState.QUEUED or _year_bills_taken(session, row, year):
        raise RuleViolation(MSG_NOT_VOIDABLE)
    record(session, "qd.base_voided", row.insured_no, f"{year} {choice.base} batch={choice.batch_debit}", person_id)
    session.delete(choice)
    session.flush()


@dataclass(frozen=True)
class Backpay:
    """补缴's 应缴费信息 for one insurance and one earlier year."""

    number: QdInsured
    bills: list[Receivable]

    @property
    def total_fen(self) -> int:
        """What the bills add up to."""
        return sum(b.amount_fen for b in self.bills)


def backpay(session: Session, person_id: int, insurance: str, year: int, this_year: int) -> Backpay:
    """社保（医保）费补缴 第二步: the earlier-year items (特殊缴费's) of one insurance in one 缴费所属期 year."""
    if year >= this_year:
        raise RuleViolation("补缴只能选择以前年度的缴费所属期")
    number = number_of(session, person_id, insurance)
    special = qd.insured_numbers(session, person_id, datetime(this_year, 1, 1).date(), special=True)
    bills = [b for n in special if n.row.id == number.id for b in n.bills if b.fee_period_start.year == year]
    if not bills:
        raise RuleViolation(MSG_NOTHING_OWED)
    return Backpay(number, bills)
