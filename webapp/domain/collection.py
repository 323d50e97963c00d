"""Which year of a resident scheme is on sale when (城乡居民医疗 R-RM-2, 城乡居民养老 R-RP-1; docs/policy.md §1).

Resident medical covers a calendar year and is paid *before* it: the 京通 guide's 已申报查询 shows a
declaration of 2022-12-26 15:30:48 for 费款所属期 2023-01 至 2023-12 (seed 004). Each region and scheme has a
row in ``data/resident_deadlines.csv`` (a row without a year is the region's default) giving, relative to
the covered year N:

- ``opens``: the first day of the collection period (集中缴费期) of year N;
- ``closes``: its last day — paying by then covers the year from 1 January;
- ``late_until``: the last day the year's receivable is still taken afterwards (中途参保 / 补缴).

A date is written ``<offset>:<MM-DD>``: ``-1:09-01`` is 1 September of the year before the covered one.
Pure: dates in, dates out.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class _Day:
    offset: int  # years relative to the covered year
    month: int
    day: int

    @classmethod
    def parse(cls, text: str) -> _Day:
        offset, md = text.split(":")
        month, day = (int(x) for x in md.split("-"))
        return cls(int(offset), month, day)

    def of(self, year: int) -> date:
        return date(year + self.offset, self.month, self.day)


@dataclass(frozen=True)
class CollectionRow:
    """One row of ``resident_deadlines.csv``."""

    region: str
    scheme: str
    year: int | None
    opens: _Day
    closes: _Day
    late_until: _Day
    approximate: bool
    source: str


@dataclass(frozen=True)
class CollectionPeriod:
    """The dates of one covered year: 集中缴费期 ``opens``..``closes``, then taken until ``late_until``."""

    scheme: str
    year: int
    opens: date
    closes: date
    late_until: date
    approximate: bool
    source: str

    def on_sale(self, today: date) -> bool:
        """May the year's receivable be paid today?"""
        return self.opens <= today <= self.late_until

    def late(self, today: date) -> bool:
        """Past the collection period, still taken (中途参保 / 补缴)."""
        return self.closes < today <= self.late_until

    def due(self, today: date) -> date:
        """The date the payer should pay by: the period's last day, or, once it has passed, the last day
        the year is taken."""
        return self.closes if today <= self.closes else self.late_until


@lru_cache(maxsize=4)
def rows(data_dir: Path = DATA) -> tuple[CollectionRow, ...]:
    """The table of resident collection periods."""
    with open(data_dir / "resident_deadlines.csv", encoding="utf-8", newline="") as f:
        return tuple(
            CollectionRow(
                r["region"],
                r["scheme"],
                int(r["year"]) if r["year"] else None,
                _Day.parse(r["opens"]),
                _Day.parse(r["closes"]),
                _Day.parse(r["late_until"]),
                r["approximate"] == "1",
                r["source"],
            )
            for r in csv.DictReader(f)
        )


def period(region: str, scheme: str, year: int) -> CollectionPeriod:
    """The collection period of a covered year (the year's row, else the region's default row)."""
    mine = [r for r in rows() if r.region == region and r.scheme == scheme]
    row = next((r for r in mine if r.year == year), None) or next((r for r in mine if r.year is None), None)
    if row is None:
        raise LookupError(f"no collection period for {region}/{scheme}")
    return CollectionPeriod(
        scheme, year, row.opens.of(year), row.closes.of(year), row.late_until.of(year), row.approximate, row.source
    )


def years_on_sale(region: str, scheme: str, today: date) -> list[int]:
    """The covered years whose receivables may be paid today, oldest first (at most this year and next)."""
    return [y for y in (today.year - 1, today.year, today.year + 1) if period(region, scheme, y).on_sale(today)]


def collection_year(region: str, scheme: str, today: date) -> int:
    """The newest covered year whose collection period has opened: the year the pages present."""
    return max(y for y in (today.year, today.year + 1) if period(region, scheme, y).opens <= today)
