"""Qingdao's 核定 import (R-QD-5): how many rows a second ``services.qd_import.load`` takes, parse, checks and the
one-transaction load together, for a file of ``--rows`` (100 000) rows.

The database holds ``rows / 20`` Qingdao workers, each with a pension and a medical 个人参保编号 (written by bulk
INSERTs, not timed); the file gives each number ten months of this year. Timed: the whole ``load`` and its
commit, then a second load of the same file (every row already there, unchanged: what a resent file costs) and a
file with one bad row at the end (refused, nothing written). SQLite in a temporary folder by default;
``--database-url postgresql://…`` (an empty, migratable database) for PostgreSQL. Prints rows/s.

    .venv/bin/python bench/qd_import.py [--rows 100000] [--database-url postgresql://…]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

from webapp import create_app  # noqa: E402
from webapp.domain.calendar import BEIJING  # noqa: E402
from webapp.migrate import upgrade  # noqa: E402

TODAY = date(2026, 11, 22)
MONTHS = 10
HEADER = "个人参保编号,险种类型,缴费基数,费款所属期,金额"


def build(url: str, tmp: Path, workers: int):  # type: ignore[no-untyped-def]
    """An app on a migrated database with ``workers`` Qingdao enrolments (two 个人参保编号 each)."""
    from webapp.models import Enrolment, Person, QdInsured

    upgrade(url)
    app = create_app(
        {"TESTING": True, "INSTANCE_PATH": str(tmp), "DATABASE_URL": url, "SECRET_KEY": "bench", "APP_TODAY": TODAY}
    )
    with app.extensions["db_sessionmaker"]() as s:
        first = (s.scalar(select(func.max(Person.id))) or 0) + 1
        s.execute(
            insert(Person),
            [
                {"id": first + i, "name": f"青岛{i}", "id_type": "resident_id", "id_number": f"QDBENCH{i:010d}"}
                for i in range(workers)
            ],
        )
        e_first = (s.scalar(select(func.max(Enrolment.id))) or 0) + 1
        s.execute(
            insert(Enrolment),
            [
                {
                    "id": e_first + i,
                    "person_id": first + i,
                    "scheme": "qd",
                    "region": "qingdao",
                    "tax_office": "国家税务总局青岛市市南区税务局",
                    "si_agency": "青岛市社会保险事业中心",
                    "enrolled_on": date(2024, 1, 1),
                    "insurances": "medical,pension",
                }
                for i in range(workers)
            ],
        )
        s.execute(
            insert(QdInsured),
            [
                {"insured_no": f"3702{i:08d}{k}", "enrolment_id": e_first + i, "person_id": first + i, "insurance": ins}
                for i in range(workers)
                for k, ins in ((1, "pension"), (2, "medical"))
            ],
        )
        s.commit()
    return app


def assessment(workers: int) -> str:
    """The bureau's file: each number, ten months of this year (amounts as a bureau would send them)."""
    lines = [HEADER]
    for i in range(workers):
        for k, ins, fen in ((1, "pension", "1200.00"), (2, "medical", "540.00")):
            lines += [f"3702{i:08d}{k},{ins},6000,2026-{m:02d},{fen}" for m in range(1, MONTHS + 1)]
    return "\n".join(lines) + "\n"


def timed(app, text: str) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    from webapp.services import qd_import

    now = datetime(2026, 11, 22, 10, tzinfo=BEIJING)
    with app.extensions["db_sessionmaker"]() as s:
        t0 = time.perf_counter()
        try:
            result: object = qd_import.load(s, text, TODAY.year, now)
            s.commit()
        except qd_import.ImportFileError as e:
            s.rollback()
            result = e
        return time.perf_counter() - t0, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""))
    args = ap.parse_args()
    workers = max(1, args.rows // (2 * MONTHS))
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
        app = build(url, Path(tmp), workers)
        text = assessment(workers)
        rows = workers * 2 * MONTHS
        kind = url.split(":", 1)[0]
        first, result = timed(app, text)
        print(f"{kind}: 核定 import of {rows} rows: {first:.2f} s = {rows / first:,.0f} rows/s ({result})")
        again, result = timed(app, text)
        print(f"{kind}: the same file again (all unchanged): {again:.2f} s = {rows / again:,.0f} rows/s ({result})")
        bad = text + "370299999999,养老,6000,2026-11,1.00\n"
        refused, result = timed(app, bad)
        lines = getattr(result, "errors", [])
        print(f"{kind}: with one bad row: refused in {refused:.2f} s, errors {lines[:1]} (nothing written)")
        app.extensions["db_engine"].dispose()


if __name__ == "__main__":
    main()
