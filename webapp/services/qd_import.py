"""The bureau's 核定 file for Qingdao (R-QD-5): each row a bill with its 个人参保编号, 险种类型, 缴费基数,
费款所属期 and amount. The shape every bureau import has (issue 18's pipeline): parse all, check all, report
every bad row by its line, then load in one transaction — a file with one bad row loads nothing.

Lookups are by set (one statement per chunk of 个人参保编号 and of keys), and rows go in by one bulk INSERT, so
100 000 rows load in seconds (``bench/qd_import.py``). A row already imported (same 个人参保编号, 险种类型 and
费款所属期) is skipped when it says the same, refused when it says otherwise: a bill is never changed under
someone who may be paying it. The bases chosen in the app (the bureau's queue) that a row of their year
prices are marked applied.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from ..db import atomic
from ..domain import qingdao as rules
from ..domain.errors import RuleViolation
from ..domain.statuses import ChargeType, QdBaseState, ReceivableStatus
from ..models import Enrolment, QdBaseChoice, QdInsured, Receivable
from .audit import record

CHUNK = 500
ANALYZE_AFTER = 10_000


class ImportFileError(ValueError):
    """A 核定 file with bad rows; ``errors`` lists ``(line, message)``; nothing was loaded."""

    def __init__(self, errors: list[tuple[int, str]]) -> None:
        super().__init__("; ".join(f"第{line}行：{msg}" for line, msg in errors[:50]))
        self.errors = errors


@dataclass(frozen=True)
class ImportResult:
    """What a load did."""

    rows: int
    created: int
    unchanged: int
    bases_applied: int


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def parse(text: str, year: int) -> list[tuple[int, rules.AssessedRow]]:
    """Read every row (line numbers as a spreadsheet shows them: the header is line 1); ``ImportFileError``
    listing every bad row."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if header is None:
        raise ImportFileError([(1, "文件为空")])
    names = [rules.COLUMNS.get(h.strip(), h.strip()) for h in header]
    missing = [c for c in rules.REQUIRED if c not in names]
    if missing:
        raise ImportFileError([(1, f"缺少列：{', '.join(missing)}")])
    errors: list[tuple[int, str]] = []
    rows: list[tuple[int, rules.AssessedRow]] = []
    seen: dict[str, int] = {}
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(names):
            errors.append((line, f"列数应为{len(names)}，实为{len(cells)}"))
            continue
        try:
            row = rules.read_row(dict(zip(names, cells, strict=True)), year)
        except RuleViolation as e:
            errors.append((line, str(e)))
            continue
        if (first := seen.get(row.natural_key)) is not None:
            errors.append((line, f"与第{first}行重复"))
            continue
        seen[row.natural_key] = line
        rows.append((line, row))
    if errors:
        raise ImportFileError(errors)
    return rows


@atomic
def load(session: Session, text: str, year: int, now: datetime) -> ImportResult:
    """Parse, check against the database (each 个人参保编号 known, its 险种类型 the file's, a row already there
    unchanged), then insert: all or nothing."""
    rows = parse(text, year)
    numbers = sorted({r.insured_no for _, r in rows})
    insured: dict[str, tuple[int, str, int, int, str, str, str | None]] = {}
    for chunk in _chunks(numbers):
        for q_id, no, ins, e_id, person_id, office, agency, category in session.execute(
            select(
                QdInsured.id,
                QdInsured.insured_no,
                QdInsured.insurance,
                Enrolment.id,
                Enrolment.person_id,
                Enrolment.tax_office,
                Enrolment.si_agency,
                Enrolment.special_category,
            )
            .join(Enrolment, Enrolment.id == QdInsured.enrolment_id)
            .where(QdInsured.insured_no.in_(chunk))
        ):
            insured[no] = (q_id, str(ins), e_id, person_id, office, agency, category)
    keys = [r.natural_key for _, r in rows]
    existing: dict[str, tuple[int, int | None]] = {}
    for chunk in _chunks(keys):
        for key, fen, base in session.execute(
            select(Receivable.natural_key, Receivable.amount_fen, Receivable.base).where(
                Receivable.natural_key.in_(chunk)
            )
        ):
            existing[key] = (fen, base)
    errors: list[tuple[int, str]] = []
    new: list[dict[str, object]] = []
    priced: set[tuple[int, int, int]] = set()  # (qd_insured_id, year, base) the file prices
    unchanged = 0
    for line, r in rows:
        found = insured.get(r.insured_no)
        if found is None:
            errors.append((line, f"未查询到个人参保编号{r.insured_no}的青岛参保信息"))
            continue
        q_id, insurance, e_id, person_id, office, agency, category = found
        if insurance != r.insurance:
            errors.append((line, f"个人参保编号{r.insured_no}的险种类型为{rules.INSURANCE_LABELS[insurance]}"))
            continue
        if (old := existing.get(r.natural_key)) is not None:
            if old != (r.amount_fen, r.base):
                errors.append((line, "该个人参保编号本所属期已导入且金额或基数不同，不能覆盖"))
            else:
                unchanged += 1
            continue
        if r.base is not None:
            priced.add((q_id, r.month.year, r.base))
        new.append(
            {
                "natural_key": r.natural_key,
                "insured_id": person_id,
                "enrolment_id": e_id,
                "scheme": "qd",
                "insurance": r.insurance,
                "fee_period_start": r.month.first_day,
                "fee_period_end": r.month.first_day,
                "base": r.base,
                "amount_fen": r.amount_fen,
                "charge_type": ChargeType.POLICY_BACKPAY if r.special else ChargeType.NORMAL,
                "notice_no": None,
                "si_serial": f"QD{r.insured_no}{r.month.year:04d}{r.month.month:02d}",
                "tax_office": office,
                "si_agency": agency,
                "special_category": category,
                "provisional": False,
                "status": ReceivableStatus.DUE,
                "created_at": now,
            }
        )
    if errors:
        raise ImportFileError(errors)
    for i in range(0, len(new), CHUNK * 4):
        session.execute(insert(Receivable), new[i : i + CHUNK * 4])
    if len(new) >= ANALYZE_AFTER and session.get_bind().dialect.name == "postgresql":
        # A big load changes the table's statistics at once: without them the next file's key lookups are
        # planned for an empty table (sequential scans: 142 s instead of 4 s for 100 000 rows, bench/qd_import.py).
        session.execute(sql_text("ANALYZE receivable"))
    applied = _apply_bases(session, priced, now)
    record(session, "qd.assessment_imported", "", f"{len(rows)} rows, {len(new)} new, {applied} bases applied")
    session.flush()
    return ImportResult(len(rows), len(new), unchanged, applied)


def _apply_bases(session: Session, priced: set[tuple[int, int, int]], now: datetime) -> int:
    """Mark applied the queued bases that a bill of their year and base now prices (one read per chunk)."""
    ids = sorted({q_id for q_id, _, _ in priced})
    applied = 0
    for i in range(0, len(ids), CHUNK):
        for choice in session.scalars(
            select(QdBaseChoice).where(
                QdBaseChoice.qd_insured_id.in_(ids[i : i + CHUNK]), QdBaseChoice.state == QdBaseState.QUEUED
            )
        ):
            if (choice.qd_insured_id, choice.year, choice.base) in priced:
                choice.state, choice.applied_at = QdBaseState.APPLIED, now
                applied += 1
    return applied
