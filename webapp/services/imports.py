"""One pipeline for every file the bureau sends (special items of each scheme, and any file to come).

A file is described by an :class:`ImportSpec`: the columns it must have, a pure ``parse`` turning one row into a
typed value (or a :class:`RowError` in Chinese), a ``key`` that finds a row repeated in the file, a ``prepare`` that
looks up in a few queries what every row refers to (people, enrolments) and returns the check of one row, and a
``load`` that writes them. :func:`run_import` parses and checks EVERY row, reports the bad ones by line, and loads
all or nothing: in one savepoint of the caller's transaction, as one bulk insert.

    report = run_import(session, flexible.SPECIAL_ITEMS, text)
    if not report.ok: ...  # report.errors: [(line, message)]; nothing was written

The special items of both schemes share :func:`special_items_spec`; a scheme gives its period format, its
natural key and its insurances.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Generic, TextIO, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from ..domain.errors import RuleViolation
from ..domain.identity import ID_TYPES, IdentityError, normalize_id_number
from ..domain.inputs import fold_fullwidth
from ..domain.schemes import SchemeCode
from ..domain.statuses import SPECIAL_CHARGE_TYPES, ReceivableStatus
from ..models import Enrolment, Person, Receivable, utcnow

P = TypeVar("P")  # a parsed row
L = TypeVar("L")  # what a checked row loads as

# Queries with many keys go in chunks (SQLite's limit on bound parameters, PostgreSQL's plan size).
CHUNK = 900


class RowError(ValueError):
    """Why one row of a file is refused, in Chinese."""


class ImportFileError(ValueError):
    """A file with bad rows; ``errors`` lists ``(line, message)``. Nothing was loaded."""

    def __init__(self, errors: list[tuple[int, str]]) -> None:
        super().__init__("; ".join(f"第{line}行：{msg}" for line, msg in errors))
        self.errors = errors


@dataclass(frozen=True)
class Loaded:
    """What a loader wrote: rows created, rows already there (a file loaded twice changes nothing). A loader that
    applies rows one by one may also refuse some (``errors``: then nothing it wrote stays) or flag some
    (``warnings``), each as ``(index in the rows it was given, message)``; the report gives them by line."""

    created: int
    skipped: int = 0
    errors: tuple[tuple[int, str], ...] = ()
    warnings: tuple[tuple[int, str], ...] = ()


class _Refused(Exception):
    def __init__(self, loaded: Loaded) -> None:
        self.loaded = loaded


@dataclass(frozen=True)
class ImportSpec(Generic[P, L]):
    """What one kind of file is and how its rows load.

    ``parse`` sees one row's fields (stripped strings, ``""`` when absent) and touches no database; ``prepare``
    gets every parsed row at once (look things up in bulk there) and returns the check of one row, which gives
    what ``load`` writes; ``load`` gets every checked row and writes them (bulk)."""

    name: str
    columns: tuple[str, ...]
    parse: Callable[[Mapping[str, str]], P]
    load: Callable[[Session, list[L]], Loaded]
    prepare: Callable[[Session, Sequence[P]], Callable[[P], L]] | None = None
    key: Callable[[P], Hashable] | None = None


@dataclass
class ImportReport:
    """What :func:`run_import` did. With errors, nothing was loaded."""

    name: str
    rows: int = 0
    created: int = 0
    skipped: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def messages(self, limit: int | None = None) -> list[str]:
        """The errors as 第N行：… lines (the first ``limit``, then how many more)."""
        shown = self.errors if limit is None else self.errors[:limit]
        lines = [f"第{line}行：{msg}" for line, msg in shown]
        if len(shown) < len(self.errors):
            lines.append(f"另有{len(self.errors) - len(shown)}行有误")
        return lines

    def raise_for_errors(self) -> ImportReport:
        """Raise :class:`ImportFileError` when a row was refused; the report otherwise."""
        if self.errors:
            raise ImportFileError(self.errors)
        return self


def _text(source: str | bytes | Path | TextIO) -> str:
    if isinstance(source, Path):
        return source.read_text(encoding="utf-8-sig")
    if isinstance(source, bytes):
        return source.decode("utf-8-sig")
    text = source if isinstance(source, str) else source.read()
    return text.removeprefix("\ufeff")


def run_import(session: Session, spec: ImportSpec[P, L], source: str | bytes | Path | TextIO) -> ImportReport:
    """Parse and check every row of ``source`` (CSV with a header line), report each bad row by its line, and
    load all rows or none: the load runs in a savepoint of the caller's transaction (the caller commits)."""
    report = ImportReport(spec.name)
    try:
        text = _text(source)
    except UnicodeDecodeError:
        report.errors.append((1, "文件应为UTF-8编码的CSV"))
        return report
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader, [])]
    except csv.Error:
        header = []
    missing = [c for c in spec.columns if c not in header]
    if missing:
        report.errors.append((1, f"缺少列：{', '.join(missing)}"))
        return report
    where = [(c, header.index(c)) for c in spec.columns]
    parsed: list[tuple[int, P]] = []
    seen: dict[Hashable, int] = {}
    while True:
        try:
            raw = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            report.errors.append((reader.line_num, f"CSV格式不正确：{e}"))
            break
        if not raw:
            continue  # a blank line
        line = reader.line_num
        report.rows += 1
        width = len(raw)
        fields = {c: raw[i].strip() if i < width else "" for c, i in where}
        try:
            row = spec.parse(fields)
        except (RowError, RuleViolation, IdentityError) as e:
            report.errors.append((line, str(e)))
            continue
        if spec.key is not None:
            k = spec.key(row)
            if k in seen:
                report.errors.append((line, f"与第{seen[k]}行重复"))
                continue
            seen[k] = line
        parsed.append((line, row))
    check: Callable[[P], Any] = spec.prepare(session, [r for _, r in parsed]) if spec.prepare else (lambda r: r)
    checked: list[L] = []
    lines: list[int] = []
    for line, row in parsed:
        try:
            checked.append(check(row))
            lines.append(line)
        except (RowError, RuleViolation, IdentityError) as e:
            report.errors.append((line, str(e)))
    if report.errors:
        report.errors.sort()
        return report
    try:
        with session.begin_nested():
            loaded = spec.load(session, checked)
            if loaded.errors:
                raise _Refused(loaded)  # leaving the savepoint by an exception rolls back what the load wrote
    except _Refused as refused:
        report.errors = [(lines[i], message) for i, message in refused.loaded.errors]
        return report
    report.created, report.skipped = loaded.created, loaded.skipped
    report.warnings = [(lines[i], message) for i, message in loaded.warnings]
    return report


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def insert_new(model: Any, key: str = "natural_key") -> Callable[[Session, list[dict[str, Any]]], Loaded]:
    """A loader: bulk-insert the rows (column → value dicts, every row the same columns) whose ``key`` the table
    does not hold yet. PostgreSQL gets one ``COPY`` (an ``INSERT`` per row is most of the time at 100 000 rows);
    other databases one Core ``executemany``."""
    table: sa.Table = model.__table__

    def load(session: Session, rows: list[dict[str, Any]]) -> Loaded:
        conn = session.connection()
        keys = [r[key] for r in rows]
        existing = _existing(conn, table.c[key], keys)
        new = [r for r in rows if r[key] not in existing]
        if new and conn.dialect.name == "postgresql":
            _copy(conn, table, new)
        elif new:
            conn.execute(sa.insert(table), new)  # Core executemany: no ORM bookkeeping per row
        return Loaded(len(new), len(rows) - len(new))

    return load


def _existing(conn: sa.Connection, column: sa.ColumnElement[Any], keys: list[Any]) -> set[Any]:
    """The keys the table already holds: PostgreSQL by arrays of 10 000 (``= ANY``), others in chunks of ``IN``."""
    found: set[Any] = set()
    if conn.dialect.name == "postgresql":
        for part in chunks(keys, 10_000):
            array = sa.bindparam("keys", list(part), type_=postgresql.ARRAY(column.type))
            found.update(conn.scalars(sa.select(column).where(column == sa.any_(array))))
        return found
    for part in chunks(keys):
        found.update(conn.scalars(sa.select(column).where(column.in_(part))))
    return found


def _copy(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """``COPY table (columns) FROM STDIN`` through psycopg, each value through its column type's bind processor
    (enums to their values, UTC datetimes), in the connection's transaction."""
    columns = list(rows[0])
    processors = [table.c[c].type.bind_processor(conn.dialect) for c in columns]
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]  # psycopg's, on PostgreSQL
    names = ", ".join(conn.dialect.identifier_preparer.quote(c) for c in columns)
    with cursor.copy(f"COPY {conn.dialect.identifier_preparer.format_table(table)} ({names}) FROM STDIN") as copy:
        for r in rows:
            copy.write_row([p(r[c]) if p else r[c] for c, p in zip(columns, processors, strict=True)])


# ------------------------------------------------------------------------------- fields every file shares


def id_type_of(text: str) -> str:
    if text not in ID_TYPES:
        raise RowError(f"证件类型不正确：{text}")
    return text


def id_number_of(text: str) -> str:
    """A document number as stored (full-width folded, spaces dropped, upper case), not yet validated: a number
    the database holds was validated when it was registered, and one it does not hold is validated then, for
    the reason to report (``normalize_id_number`` checks the county and birth date, slow for 100 000 rows)."""
    return "".join(fold_fullwidth(text).split()).upper()


def amount_fen_of(text: str) -> int:
    """An amount in yuan, greater than 0 with at most two decimals, as fen."""
    try:
        amount = Decimal(text)
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")) or amount >= 10**9:
        raise RowError("金额应为大于0、最多两位小数的数")
    return int(amount * 100)


def notice_no_of(text: str) -> str:
    """征集通知流水号: ASCII letters and digits, at most 40 (``"征集01".isalnum()`` is True: not enough)."""
    if not (text.isascii() and text.isalnum()) or len(text) > 40:
        raise RowError("征集通知流水号不正确")
    return text


# ------------------------------------------------------------------------------------ special items


SPECIAL_COLUMNS = ("id_type", "id_number", "insurance", "fee_period", "amount", "charge_type", "notice_no")
SPECIAL_TYPES = tuple(sorted(SPECIAL_CHARGE_TYPES))


@dataclass(frozen=True)
class SpecialItem:
    """One row of a special-items file (特殊核定 / 人社核定), parsed."""

    id_type: str
    id_number: str
    insurance: str
    period: str  # as the scheme writes it in the natural key: 2026-03, 2024
    start: date
    end: date
    amount_fen: int
    charge_type: str
    notice_no: str


def special_items_spec(
    *,
    name: str,
    scheme: SchemeCode,
    insurances: Collection[str],
    period: Callable[[str], tuple[str, date, date]],
    natural_key: Callable[[SpecialItem], str],
    not_enrolled: str,
    enrolled_insurances: Callable[[Enrolment], Collection[str]] | None = None,
) -> ImportSpec[SpecialItem, dict[str, Any]]:
    """The special-items file of one scheme: ``period`` turns the ``fee_period`` text into (key text, first and
    last fee month) or raises :class:`RowError`; ``natural_key`` makes the import idempotent."""
    allowed = tuple(insurances)

    def parse(f: Mapping[str, str]) -> SpecialItem:
        id_type = id_type_of(f["id_type"])
        number = id_number_of(f["id_number"])
        insurance = f["insurance"]
        if insurance not in allowed:
            raise RowError(f"险种不正确：{insurance}（应为{'/'.join(allowed)}）")
        text, start, end = period(f["fee_period"])
        amount_fen = amount_fen_of(f["amount"])
        charge_type = f["charge_type"]
        if charge_type not in SPECIAL_TYPES:
            raise RowError(f"缴费类型不正确：{charge_type}（应为{'/'.join(SPECIAL_TYPES)}）")
        notice_no = notice_no_of(f["notice_no"])
        return SpecialItem(id_type, number, insurance, text, start, end, amount_fen, charge_type, notice_no)

    def prepare(session: Session, rows: Sequence[SpecialItem]) -> Callable[[SpecialItem], dict[str, Any]]:
        now = utcnow()
        wanted = sorted({(r.id_type, r.id_number) for r in rows})
        found: dict[tuple[str, str], Enrolment] = {}
        for part in chunks([n for _, n in wanted]):
            q = (
                sa.select(Person.id_type, Person.id_number, Enrolment)
                .join(Enrolment, Enrolment.person_id == Person.id)
                .where(Person.id_number.in_(part), Enrolment.scheme == scheme)
            )
            for id_type, number, e in session.execute(q):
                found[(id_type, number)] = e

        def check(r: SpecialItem) -> dict[str, Any]:
            e = found.get((r.id_type, r.id_number))
            if e is None:
                normalize_id_number(r.id_type, r.id_number)  # a malformed number: IdentityError says why
                raise RowError(not_enrolled)
            if enrolled_insurances is not None and r.insurance not in enrolled_insurances(e):
                raise RowError(f"险种不正确：{r.insurance}（该人员未参保此险种）")
            return {
                "natural_key": natural_key(r),
                "insured_id": e.person_id,
                "enrolment_id": e.id,
                "scheme": scheme,
                "insurance": r.insurance,
                "fee_period_start": r.start,
                "fee_period_end": r.end,
                "base": None,
                "amount_fen": r.amount_fen,
                "charge_type": r.charge_type,
                "notice_no": r.notice_no,
                "si_serial": r.notice_no,
                "tax_office": e.tax_office,
                "si_agency": e.si_agency,
                "special_category": e.special_category,
                "status": ReceivableStatus.DUE,
                "provisional": False,
                "created_at": now,
            }

        return check

    return ImportSpec(
        name=name, columns=SPECIAL_COLUMNS, parse=parse, prepare=prepare, key=natural_key, load=insert_new(Receivable)
    )
