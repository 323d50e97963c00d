"""Policy tables keyed by region and year, read from the CSV files in ``data/``."""

from __future__ import annotations

import csv
from decimal import Decimal
from functools import cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"

RM_CATEGORIES: dict[str, str] = {
    "elderly": "老年人",
    "student_child": "学生儿童",
    "working_age": "劳动年龄内居民",
}


class NoPolicyError(LookupError):
    """No published numbers for that region and year; the message is for the user."""


@cache
def _resident_medical() -> dict[tuple[str, int, str], Decimal]:
    with open(DATA / "resident_medical.csv", encoding="utf-8") as f:
        return {(r["region"], int(r["year"]), r["category"]): Decimal(r["premium"])
                for r in csv.DictReader(f)}


def resident_medical_premium(region: str, year: int, category: str) -> Decimal:
    """The yearly resident medical premium for a category (R-RM-2)."""
    try:
        return _resident_medical()[(region, year, category)]
    except KeyError:
        raise NoPolicyError(f"暂无{year}年度城乡居民医疗保险缴费标准") from None
