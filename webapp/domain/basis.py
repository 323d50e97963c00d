"""依据: where a flexible worker's numbers come from, in words a payer reads (issue 20.17). The bill pages say
only which year's numbers they use; the 依据 page lists each number with how sure it is (published, from public
material, or derived by the stated formula) and the source, from ``data/flex_policy_basis.csv`` (keyed by region
and contribution year, like the numbers themselves). Pure: policy in, plain data out.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from .policy import FlexPolicy

DATA = Path(__file__).resolve().parent / "data" / "flex_policy_basis.csv"
PUBLISHED, PUBLIC, DERIVED = "已公布", "公开资料", "推算"


@dataclass(frozen=True)
class BasisRow:
    """One number of the year: what it is, its value as shown, and how sure it is."""

    label: str
    value: str
    status: str


@dataclass(frozen=True)
class FlexBasis:
    """The 依据 of one contribution year's flexible-worker numbers."""

    heading: str
    provisional: str | None
    rows: tuple[BasisRow, ...]
    notes: tuple[str, ...]
    source: str


@lru_cache(maxsize=1)
def _sources() -> dict[tuple[str, int | None], str]:
    with open(DATA, encoding="utf-8", newline="") as f:
        return {
            (r["region"].strip(), int(r["contribution_year"]) if r["contribution_year"].strip() else None): r[
                "basis_zh"
            ].strip()
            for r in csv.DictReader(f)
        }


def _percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"


def flex_basis(policy: FlexPolicy) -> FlexBasis:
    """The 依据 page of a contribution year: its numbers (those of the year applied, when provisional)."""
    applied = policy.applied_year
    unconfirmed = PUBLISHED if policy.confirmed else PUBLIC

    def status(field: str) -> str:
        return DERIVED if field in policy.derived else unconfirmed

    rows = [
        BasisRow("缴费基数下限", f"{policy.base_min}元", unconfirmed),
        BasisRow("缴费基数上限", f"{policy.base_max}元", unconfirmed),
    ]
    for label, rate in (("职工基本养老保险费率", policy.pension_rate), ("失业保险费率", policy.unemployment_rate)):
        if rate is not None:
            rows.append(BasisRow(label, _percent(rate), unconfirmed))
    if policy.medical_monthly is not None:
        rows.append(BasisRow("职工基本医疗保险月缴费额", f"{policy.medical_monthly}元", status("medical_monthly")))
    for label, field, value in (
        ("享受补贴人员 养老保险", "subsidized_pension", policy.subsidized_pension),
        ("享受补贴人员 失业保险", "subsidized_unemployment", policy.subsidized_unemployment),
        ("享受补贴人员 医疗保险", "subsidized_medical", policy.subsidized_medical),
    ):
        if value is not None:
            rows.append(BasisRow(label, f"{value}元/月", status(field)))
    provisional = (
        f"{policy.contribution_year}缴费年度缴费标准尚未公布，暂按上年度（{applied}缴费年度）标准计算；"
        "新标准公布后，已缴费月份的差额将生成补差应缴费。"
        if policy.provisional
        else None
    )
    heading = policy.year_label_zh() if not policy.undated else f"{policy.region_name}（手册未注明年度）"
    return FlexBasis(
        heading=heading,
        provisional=provisional,
        rows=tuple(rows),
        # notices_zh says the provisional sentence first; this page says it above the table instead
        notes=policy.notices_zh[1:] if policy.provisional else policy.notices_zh,
        source=_sources().get((policy.region, applied), ""),
    )


def line_zh(policies: list[FlexPolicy]) -> str:
    """The one line a bill page says about its numbers: which year's, and 暂按上年度 where a year is provisional."""
    parts = []
    for p in policies:
        if p.provisional:
            parts.append(
                f"{p.contribution_year}缴费年度标准尚未公布，暂按上年度（{p.applied_year}缴费年度）标准计算，公布后补收差额"
            )
        elif p.undated:
            parts.append(f"按{p.region_name}缴费标准计算")
        else:
            parts.append(f"按{p.contribution_year}缴费年度标准计算")
    return "；".join(parts)
