"""The bureau's 核定 file for Qingdao (R-QD-5): each row a bill with its 个人参保编号, 险种类型, 缴费基数,
费款所属期 and amount, through the shared import pipeline (``services.imports``, issue 18): every row parsed and
checked, every bad row reported by its line, then all rows loaded or none, as one bulk insert.

The checks look up in bulk (the 个人参保编号 and the bills already there), so 100 000 rows load in seconds
(``bench/qd_import.py``). A row already imported (same 个人参保编号, 险种类型 and 费款所属期) is skipped when it
says the same and refused when it says otherwise: a bill is never changed under someone who may be paying it.
The bases chosen in the app (the bureau's queue) that a row of their year prices are marked applied.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from ..db import atomic
from ..domain import qingdao as rules
from ..domain.schemes import SchemeCode
from ..domain.statuses import ChargeType, QdBaseState, ReceivableStatus
from ..models import Enrolment, QdBaseChoice, QdInsured, Receivable
from .audit import record
from .imports import ImportFileError, ImportSpec, Loaded, RowError, chunks, insert_new, run_import

__all__ = ["COLUMNS", "ImportFileError", "ImportResult", "load", "spec"]

#: The file's columns, in the bureau's words.
COLUMNS = ("个人参保编号", "险种类型", "缴费基数", "费款所属期", "金额")
_FIELDS = dict(zip(COLUMNS, ("insured_no", "insurance", "base", "fee_period", "amount"), strict=True))
ANALYZE_AFTER = 10_000
_PRICES = "_qd_prices"  # a checked row's (个人参保编号 id, year, base), taken out before the insert


@dataclass(frozen=True)
class ImportResult:
    """What a load did."""

    rows: int
    created: int
    unchanged: int
    bases_applied: int


def spec(year: int, now: datetime, applied: list[int] | None = None) -> ImportSpec[rules.AssessedRow, dict[str, Any]]:
    """The 核定 file of ``year`` (rows of earlier years are 特殊缴费 items), loaded at ``now``; how many chosen
    bases the load applied is appended to ``applied``."""
    applied = applied if applied is not None else []

    def parse(fields: Mapping[str, str]) -> rules.AssessedRow:
        return rules.read_row({_FIELDS[c]: fields[c] for c in COLUMNS}, year)

    def prepare(session: Session, rows: Sequence[rules.AssessedRow]) -> Callable[[rules.AssessedRow], dict[str, Any]]:
        insured: dict[str, tuple[int, str, Enrolment]] = {}
        for part in chunks(sorted({r.insured_no for r in rows})):
            for q_id, no, ins, e in session.execute(
                select(QdInsured.id, QdInsured.insured_no, QdInsured.insurance, Enrolment)
                .join(Enrolment, Enrolment.id == QdInsured.enrolment_id)
                .where(QdInsured.insured_no.in_(part))
            ):
                insured[no] = (q_id, str(ins), e)
        existing: dict[str, tuple[int, int | None]] = {}
        for part in chunks([r.natural_key for r in rows]):
            for key, fen, base in session.execute(
                select(Receivable.natural_key, Receivable.amount_fen, Receivable.base).where(
                    Receivable.natural_key.in_(part)
                )
            ):
                existing[key] = (fen, base)

        def check(r: rules.AssessedRow) -> dict[str, Any]:
            found = insured.get(r.insured_no)
            if found is None:
                raise RowError(f"未查询到个人参保编号{r.insured_no}的青岛参保信息")
            q_id, insurance, e = found
            if insurance != r.insurance:
                raise RowError(f"个人参保编号{r.insured_no}的险种类型为{rules.INSURANCE_LABELS[insurance]}")
            if (old := existing.get(r.natural_key)) is not None and old != (r.amount_fen, r.base):
                raise RowError("该个人参保编号本所属期已导入且金额或基数不同，不能覆盖")
            return {
                "natural_key": r.natural_key,
                "insured_id": e.person_id,
                "enrolment_id": e.id,
                "scheme": SchemeCode.QINGDAO.value,
                "insurance": r.insurance,
                "fee_period_start": r.month.first_day,
                "fee_period_end": r.month.first_day,
                "base": r.base,
                "amount_fen": r.amount_fen,
                "charge_type": ChargeType.POLICY_BACKPAY if r.special else ChargeType.NORMAL,
                "notice_no": None,
                "si_serial": f"QD{r.insured_no}{r.month.year:04d}{r.month.month:02d}",
                "tax_office": e.tax_office,
                "si_agency": e.si_agency,
                "special_category": e.special_category,
                "provisional": False,
                "status": ReceivableStatus.DUE,
                "created_at": now,
                _PRICES: (q_id, r.month.year, r.base),
            }

        return check

    insert = insert_new(Receivable)

    def load(session: Session, rows: list[dict[str, Any]]) -> Loaded:
        priced = {p for r in rows if (p := r.pop(_PRICES))[2] is not None}
        loaded = insert(session, rows)
        if loaded.created >= ANALYZE_AFTER and session.get_bind().dialect.name == "postgresql":
            # A big load changes the table's statistics at once: without them the next file's key lookups are
            # planned for an empty table (sequential scans: 142 s instead of 5 s for 100 000 rows, bench/qd_import.py).
            session.execute(sql_text("ANALYZE receivable"))
        applied.append(_apply_bases(session, priced, now))
        return loaded

    return ImportSpec(
        name="青岛核定", columns=COLUMNS, parse=parse, prepare=prepare, key=lambda r: r.natural_key, load=load
    )


@atomic
def load(session: Session, text: str, year: int, now: datetime) -> ImportResult:
    """Load a 核定 file: ``ImportFileError`` listing every bad row by line (nothing written), else what it did."""
    counts: list[int] = []
    report = run_import(session, spec(year, now, counts), text).raise_for_errors()
    applied = sum(counts)
    record(session, "qd.assessment_imported", "", f"{report.rows} rows, {report.created} new, {applied} bases applied")
    session.flush()
    return ImportResult(report.rows, report.created, report.skipped, applied)


def _apply_bases(session: Session, priced: set[tuple[int, int, int]], now: datetime) -> int:
    """Mark applied the queued bases that a bill of their year and base now prices (one read per chunk)."""
    applied = 0
    for part in chunks(sorted({q_id for q_id, _, _ in priced})):
        for choice in session.scalars(
            select(QdBaseChoice).where(QdBaseChoice.qd_insured_id.in_(part), QdBaseChoice.state == QdBaseState.QUEUED)
        ):
            if (choice.qd_insured_id, choice.year, choice.base) in priced:
                choice.state, choice.applied_at = QdBaseState.APPLIED, now
                applied += 1
    return applied
