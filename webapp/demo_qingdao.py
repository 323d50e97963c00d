"""The Qingdao demo people (issue 19 item 7), seeded idempotently through the bureau's own paths: the enrolment
push (个人参保编号 per 险种类型), the bases chosen in the app (the bureau's queue) and a 核定 file loaded by the
importer (``services.qd_import``) — the app computes no Qingdao amount (R-QD-5).

The file's amounts are the demo's stand-in for the bureau's (the handbook publishes no rates): pension 1,200.00
and medical 540.00 a month at base 6000; an earlier year's 补缴 item 1,100.00 / 495.00 a month.

- ``qd-flex`` 林海: pension and medical, base 6000 chosen this year (applied by the file), owes this month and last
  month, has paid this year's earlier months.
- ``qd-no-base`` 孙岚: enrolled, no base chosen this year, so no bill: 缴费 says to choose one first.
- ``qd-arrears`` 宋涛: items of two earlier years (特殊缴费, and 云闪付's 补缴), nothing this year.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from .domain.calendar import BEIJING, Month
from .domain.statuses import QdBaseState, ReceivableStatus
from .models import Person, QdBaseChoice, Receivable
from .services import qd_import, qingdao

BASE = 6000
MONTHLY = {"pension": "1200.00", "medical": "540.00"}  # the demo 核定 file's amounts at BASE
EARLIER = {"pension": "1100.00", "medical": "495.00"}


def insured_nos(id_number: str) -> dict[str, str]:
    """The persona's 个人参保编号 (the bureau's numbers; stable across runs)."""
    return {"pension": f"3702{id_number[6:14]}01", "medical": f"3702{id_number[6:14]}02"}


def assessment_rows(role: str, id_number: str, today: date) -> list[tuple[str, str, str, str, str]]:
    """The demo 核定 file's rows for one persona: (个人参保编号, 险种类型, 缴费基数, 费款所属期, 金额)."""
    nos = insured_nos(id_number)
    this = Month.of(today)
    rows = []
    if role == "qd-flex":
        for m in range(1, this.month + 1):
            for ins in ("pension", "medical"):
                rows.append((nos[ins], ins, str(BASE), str(Month(this.year, m)), MONTHLY[ins]))
    elif role == "qd-arrears":
        for year, month in ((this.year - 2, 11), (this.year - 1, 3), (this.year - 1, 4)):
            for ins in ("pension", "medical"):
                rows.append((nos[ins], ins, "", str(Month(year, month)), EARLIER[ins]))
    return rows


def seed(session: Session, people: dict[str, Person], today: date) -> int:
    """Enrol the Qingdao personas, queue 林海's base, load the demo 核定 file, and mark 林海's earlier months paid.
    Returns how many bills the file brought (0 on a second run)."""
    from .demo import PERSONAS, settle_past

    roles = {p.id_number: str((p.qingdao or {}).get("role")) for p in PERSONAS if p.qingdao}
    now = datetime.combine(today, time(9, 0), BEIJING)
    for number, person in people.items():
        if qingdao.enrolment_of(session, person.id) is None:
            qingdao.enrol(session, person, insured_nos=insured_nos(number), enrolled_on=date(today.year - 3, 3, 1))
        if roles[number] == "qd-flex":
            for n in qingdao.insured_numbers(session, person.id, today, special=False):
                if qingdao.base_choice(session, n.row.id, today.year) is None:
                    session.add(
                        QdBaseChoice(
                            qd_insured_id=n.row.id,
                            year=today.year,
                            base=BASE,
                            state=QdBaseState.QUEUED,
                            channel="qd-wechat",
                            chosen_at=now - timedelta(days=330),
                        )
                    )
    session.flush()
    lines = ["个人参保编号,险种类型,缴费基数,费款所属期,金额"]
    for number in people:
        lines += [",".join(r) for r in assessment_rows(roles[number], number, today)]
    result = qd_import.load(session, "\n".join(lines) + "\n", today.year, now)
    for number, person in people.items():
        if roles[number] != "qd-flex":
            continue
        owed_from = (Month.of(today) + -1).first_day  # this month and last month stay owed
        paid = list(
            session.scalars(
                select(Receivable).where(
                    Receivable.insured_id == person.id,
                    Receivable.scheme == qingdao.SCHEME,
                    Receivable.fee_period_start < owed_from,
                    Receivable.status == ReceivableStatus.DUE,
                )
            )
        )
        for start in sorted({r.fee_period_start for r in paid}):
            month_rows = [r for r in paid if r.fee_period_start == start]
            settle_past(session, person, month_rows, start + timedelta(days=14), "wechat")
    session.flush()
    return result.created
