"""`make bench-import`: the import pipeline (``services.imports``) loading a special-items file of 100 000 rows,
on SQLite and on PostgreSQL, printed as rows/s beside the goal (≥ 20 000 rows/s).

Each database is the bench's own: a fresh SQLite file in a temporary directory, and the PostgreSQL database
``bench_import`` (dropped and made again; PG_ADMIN_URL names the server, empty to skip PostgreSQL). Both are
migrated, given ``WORKERS`` flexible workers (``demo.population``), then one file of ``ROWS`` special items
(``ROWS / WORKERS`` months each) is imported and committed: parse, check every row, look the people up, bulk
insert. The time counted is that of ``run_import`` and the commit; the same file imported again (nothing new)
is printed beside it, and so are the importing process's CPU seconds and the machine's load average (on a shared
machine the wall time says as much about the neighbours as about the import). Exits 1 below the goal.

    make bench-import                       # ROWS=100000 WORKERS=10000
    PG_ADMIN_URL= make bench-import         # SQLite only
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from webapp import demo  # noqa: E402
from webapp.db import make_engine  # noqa: E402
from webapp.domain.identity import register_key  # noqa: E402
from webapp.migrate import upgrade  # noqa: E402
from webapp.models import Receivable  # noqa: E402
from webapp.services import flexible  # noqa: E402
from webapp.services.imports import SPECIAL_COLUMNS, run_import  # noqa: E402

ROWS = int(os.environ.get("ROWS", "100000"))
WORKERS = int(os.environ.get("WORKERS", "10000"))
GOAL = 20_000  # rows/s
PG_ADMIN_URL = os.environ.get("PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DB = "bench_import"
TODAY = date(2026, 11, 12)


def fresh_pg(admin_url: str) -> str:
    """Drop and create the bench's own database; returns its URL."""
    engine = sa.create_engine(
        admin_url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with engine.connect() as c:
        c.execute(sa.text(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
        c.execute(sa.text(f"CREATE DATABASE {DB}"))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{DB}"


def special_file(numbers: list[str], rows: int) -> str:
    """``rows`` special items spread over the workers, one month each (2025-01 …), notice numbers unique."""
    lines = [",".join(SPECIAL_COLUMNS)]
    per = -(-rows // len(numbers))
    for i in range(rows):
        number, k = numbers[i // per], i % per
        month = f"{2015 + k // 12}-{k % 12 + 1:02d}"
        lines.append(f"resident_id,{number},pension,{month},{100 + i % 900}.50,policy_backpay,B{i:07d}")
    return "\n".join(lines) + "\n"


def run(label: str, url: str) -> float:
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as s:
        people = demo.population(s, residents=0, flex_workers=WORKERS, today=TODAY, key=register_key("bench"))
        s.commit()
    text = special_file([str(p["id_number"]) for p in people], ROWS)
    times, cpu = [], []
    for attempt in ("first", "again"):
        with Session(engine) as s:
            started, started_cpu = time.perf_counter(), time.process_time()
            report = run_import(s, flexible.SPECIAL_ITEMS, text)
            s.commit()
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        if not report.ok:
            print(f"{label}: refused: {report.messages(limit=5)}")
            sys.exit(1)
        expected = (ROWS, 0) if attempt == "first" else (0, ROWS)
        assert (report.created, report.skipped) == expected, (report.created, report.skipped)
    with Session(engine) as s:
        loaded = s.scalar(
            sa.select(sa.func.count()).select_from(Receivable).where(Receivable.natural_key.like("flex-special:B%"))
        )
    engine.dispose()
    assert loaded == ROWS, loaded
    rate = ROWS / times[0]
    load = os.getloadavg()[0]
    print(
        f"{label:<11} {ROWS:>7} rows  {times[0]:6.2f} s  {rate:>9,.0f} rows/s  (goal ≥ {GOAL:,})  "
        f"{'ok' if rate >= GOAL else 'BELOW GOAL'}  "
        f"this process's CPU {cpu[0]:.2f} s ({ROWS / cpu[0]:,.0f} rows/CPU-s)  "
        f"again (all already there): {times[1]:.2f} s  [load average {load:.1f} on {os.cpu_count()} cores]"
    )
    return rate


def main() -> None:
    rates = []
    with tempfile.TemporaryDirectory() as d:
        rates.append(run("SQLite", f"sqlite:///{d}/bench.sqlite3"))
    if PG_ADMIN_URL:
        rates.append(run("PostgreSQL", fresh_pg(PG_ADMIN_URL)))
    sys.exit(0 if min(rates) >= GOAL else 1)


if __name__ == "__main__":
    main()
