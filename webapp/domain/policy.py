"""Policy tables keyed by region and year, read from the CSV files in ``data/``.

Every number a rule quotes for a year is a row here, never a literal in a code path. Each CSV
has a ``source`` column (where the number comes from) and, where numbers may be computed, a
``derived`` column (which fields are computed from the others rather than quoted).

Files:

- ``regions.csv`` — region code, Chinese name, the month a contribution year starts.
- ``flex_policy.csv`` — flexible workers (灵活就业) by region and contribution year (缴费年度; in
  Beijing 1 July – 30 June, named by its starting year: 2023 = 2023-07..2024-06).
- ``flex_windows.csv`` — the base declaration window (窗口期) by region and year; a row with an
  empty year is the region's default ("about 14 June – 25 July", seed 000 Q5).
- ``resident_medical.csv`` / ``resident_medical_categories.csv`` — 城乡居民医疗 premiums per
  calendar year and category, and the age bands the app uses to suggest a category.
- ``resident_pension.csv`` — 城乡居民养老 yearly range and the app's grade step.

Derived flexible-worker numbers (``derived`` lists the field names, ``;``-separated): the
medical amount is ``round(0.7 × max ÷ 3)`` whole yuan × the medical rate (checked on 2023:
7908 × 7 % = 553.56), and a subsidized person pays ⅓ of the minimum-standard amount, rounded
half-up (1265.20 ÷ 3 = 421.73). A derived cell left empty is computed on load; a filled one is
checked against the derivation and the load fails loudly when they disagree.

Decisions:

- R-FB-6: when the contribution year of a date has no row and the row of the year just before
  is the newest one, that row applies with ``provisional=True`` (暂按上年度标准). Older gaps and
  dates before the first row raise ``NoPolicyError`` with a plain Chinese message.
- Qingdao: seed 002 gives the base range 3980–19899 and nothing else — no year, rates or medical
  amounts. The row is stored *undated* (empty year): it answers for any date with
  ``undated=True``, and anything unknown (rates, medical, subsidized amounts) raises
  ``NoPolicyError`` when asked for. Its contribution year is assumed to be the calendar year.
- Beijing 2024 and 2025 reuse the 2023 rates (seed 000 Q29–Q31); 2025 is marked unconfirmed
  (``confirmed=0``), as SPEC §14 treats it as provisional.
- Resident medical category (when the bureau's category is not stored): age in completed years
  on 1 January of the covered year — under 18 学生儿童, 18–59 劳动年龄内居民, 60 and over 老年人,
  men and women alike. The guides do not define the bands; callers may store the category.
- Resident pension grades: Beijing lets a payer choose between the minimum and the maximum
  (1000–9000 yuan for 2026, as quoted publicly); the app offers grades every 1000 yuan (the ``step``
  column, an app decision marked in ``derived``: no source gives the grades in between). When the
  step does not divide the range, the maximum is offered as the last grade.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any

from .calendar import Month
from .money import round_money

DATA = Path(__file__).resolve().parent / "data"

PENSION = "pension"
UNEMPLOYMENT = "unemployment"
MEDICAL = "medical"
#: Flexible workers' insurance codes, in display order.
FLEX_INSURANCES: tuple[str, ...] = (PENSION, UNEMPLOYMENT, MEDICAL)
INSURANCE_LABELS: dict[str, str] = {
    PENSION: "职工基本养老保险",
    UNEMPLOYMENT: "失业保险",
    MEDICAL: "职工基本医疗保险",
}

RM_CATEGORIES: dict[str, str] = {
    "elderly": "老年人",
    "student_child": "学生儿童",
    "working_age": "劳动年龄内居民",
}

# The derivation checked on Beijing 2023 (SPEC §14): the medical fixed base is 70 % of the
# average wage, and the base maximum is 3 × the average wage; subsidized persons pay 1/3.
_MEDICAL_BASE_SHARE = Decimal("0.7")
_MAX_OVER_AVERAGE = Decimal(3)
_SUBSIDIZED_SHARE_DIVISOR = Decimal(3)

_FLEX_DERIVABLE = frozenset({"medical_monthly", "subsidized_pension", "subsidized_unemployment", "subsidized_medical"})


class NoPolicyError(LookupError):
    """No published numbers for that region and year; ``str(e)`` is the message for the user."""


# --------------------------------------------------------------------------- derivations


def derive_medical_monthly(base_max: int, medical_rate: Decimal) -> Decimal:
    """Flexible medical per month: round(0.7 × max ÷ 3) to whole yuan × the medical rate."""
    fixed_base = (_MEDICAL_BASE_SHARE * Decimal(base_max) / _MAX_OVER_AVERAGE).quantize(
        Decimal(1), rounding=ROUND_HALF_UP
    )
    return round_money(fixed_base * medical_rate)


def derive_subsidized(minimum_amount: Decimal) -> Decimal:
    """A subsidized person's share: ⅓ of the minimum-standard amount, rounded half-up."""
    return round_money(minimum_amount / _SUBSIDIZED_SHARE_DIVISOR)


# --------------------------------------------------------------------------- rows


def _opt_decimal(text: str | None) -> Decimal | None:
    text = (text or "").strip()
    return Decimal(text) if text else None


def _opt_int(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text else None


def _flag(text: str | None, default: bool = False) -> bool:
    text = (text or "").strip().lower()
    if not text:
        return default
    return text in {"1", "true", "yes", "y"}


def _names(text: str | None) -> frozenset[str]:
    return frozenset(p.strip() for p in (text or "").replace(",", ";").split(";") if p.strip())


@dataclass(frozen=True)
class Region:
    """A policy region: code, Chinese name, and the month its contribution year starts."""

    code: str
    name_zh: str
    year_start_month: int
    source: str = ""


@dataclass(frozen=True)
class FlexRow:
    """One row of ``flex_policy.csv``: a region's flexible-worker numbers for one contribution year."""

    region: str
    contribution_year: int | None
    base_min: int
    base_max: int
    pension_rate: Decimal | None = None
    unemployment_rate: Decimal | None = None
    medical_rate: Decimal | None = None
    medical_monthly: Decimal | None = None
    subsidized_pension: Decimal | None = None
    subsidized_unemployment: Decimal | None = None
    subsidized_medical: Decimal | None = None
    confirmed: bool = True
    derived: frozenset[str] = frozenset()
    source: str = ""

    def __post_init__(self) -> None:
        if self.base_min <= 0 or self.base_max < self.base_min:
            raise ValueError(f"flex row {self.region}/{self.contribution_year}: bad base range")
        unknown = self.derived - _FLEX_DERIVABLE
        if unknown:
            raise ValueError(f"flex row {self.region}/{self.contribution_year}: cannot derive {sorted(unknown)}")

    @classmethod
    def from_record(cls, rec: Mapping[str, str]) -> FlexRow:
        """A row from a CSV record (strings); derived fields are computed when empty, checked when filled."""
        row = cls(
            region=rec["region"].strip(),
            contribution_year=_opt_int(rec.get("contribution_year")),
            base_min=int(rec["base_min"]),
            base_max=int(rec["base_max"]),
            pension_rate=_opt_decimal(rec.get("pension_rate")),
            unemployment_rate=_opt_decimal(rec.get("unemployment_rate")),
            medical_rate=_opt_decimal(rec.get("medical_rate")),
            medical_monthly=_opt_decimal(rec.get("medical_monthly")),
            subsidized_pension=_opt_decimal(rec.get("subsidized_pension")),
            subsidized_unemployment=_opt_decimal(rec.get("subsidized_unemployment")),
            subsidized_medical=_opt_decimal(rec.get("subsidized_medical")),
            confirmed=_flag(rec.get("confirmed"), default=True),
            derived=_names(rec.get("derived")),
            source=(rec.get("source") or "").strip(),
        )
        return row.with_derivations()

    def derivations(self) -> dict[str, Decimal]:
        """What the derivation gives for each derived field this row's inputs allow."""
        out: dict[str, Decimal] = {}
        medical = self.medical_monthly
        if "medical_monthly" in self.derived and self.medical_rate is not None:
            medical = derive_medical_monthly(self.base_max, self.medical_rate)
            out["medical_monthly"] = medical
        if "subsidized_pension" in self.derived and self.pension_rate is not None:
            out["subsidized_pension"] = derive_subsidized(round_money(self.base_min * self.pension_rate))
        if "subsidized_unemployment" in self.derived and self.unemployment_rate is not None:
            out["subsidized_unemployment"] = derive_subsidized(round_money(self.base_min * self.unemployment_rate))
        if "subsidized_medical" in self.derived and medical is not None:
            out["subsidized_medical"] = derive_subsidized(medical)
        return out

    def with_derivations(self) -> FlexRow:
        """Fill empty derived fields; raise ``ValueError`` when a filled one disagrees with its derivation."""
        changes: dict[str, Any] = {}  # field name → value, for dataclasses.replace
        for name, value in self.derivations().items():
            stored = getattr(self, name)
            if stored is None:
                changes[name] = value
            elif stored != value:
                raise ValueError(
                    f"flex row {self.region}/{self.contribution_year}: {name} is {stored}, its derivation gives {value}"
                )
        missing = {n for n in self.derived if getattr(self, n) is None and n not in changes}
        if missing:
            raise ValueError(f"flex row {self.region}/{self.contribution_year}: cannot derive {sorted(missing)}")
        return replace(self, **changes) if changes else self


@dataclass(frozen=True)
class WindowRow:
    """One row of ``flex_windows.csv``: the base declaration window (month-day pairs); year None = default."""

    region: str
    year: int | None
    opens: tuple[int, int]
    closes: tuple[int, int]
    approximate: bool
    source: str = ""

    @classmethod
    def from_record(cls, rec: Mapping[str, str]) -> WindowRow:
        """A window row from a CSV record (``opens``/``closes`` as ``MM-DD``)."""

        def md(text: str) -> tuple[int, int]:
            m, d = text.strip().split("-")
            return int(m), int(d)

        return cls(
            rec["region"].strip(),
            _opt_int(rec.get("year")),
            md(rec["opens"]),
            md(rec["closes"]),
            _flag(rec.get("approximate")),
            (rec.get("source") or "").strip(),
        )


@dataclass(frozen=True)
class BaseWindow:
    """The annual base declaration window (窗口期) of one year, declaring for contribution year ``year``."""

    region: str
    year: int
    opens: date
    closes: date
    approximate: bool
    source: str = ""

    def contains(self, d: date) -> bool:
        """True when ``d`` falls inside the window (both ends included)."""
        return self.opens <= d <= self.closes


@dataclass(frozen=True)
class ResidentMedicalRow:
    """One row of ``resident_medical.csv``: a yearly premium for a category."""

    region: str
    year: int
    category: str
    premium: Decimal
    derived: bool = False
    source: str = ""

    @classmethod
    def from_record(cls, rec: Mapping[str, str]) -> ResidentMedicalRow:
        """A row from a CSV record."""
        return cls(
            rec["region"].strip(),
            int(rec["year"]),
            rec["category"].strip(),
            Decimal(rec["premium"]),
            _flag(rec.get("derived")),
            (rec.get("source") or "").strip(),
        )


@dataclass(frozen=True)
class ResidentMedicalCategory:
    """An age band the app uses to suggest a resident medical category (``age_to`` None = no upper bound)."""

    region: str
    category: str
    label_zh: str
    age_from: int
    age_to: int | None
    source: str = ""

    @classmethod
    def from_record(cls, rec: Mapping[str, str]) -> ResidentMedicalCategory:
        """A row from a CSV record."""
        return cls(
            rec["region"].strip(),
            rec["category"].strip(),
            rec["label_zh"].strip(),
            int(rec["age_from"]),
            _opt_int(rec.get("age_to")),
            (rec.get("source") or "").strip(),
        )


@dataclass(frozen=True)
class ResidentPensionRow:
    """One row of ``resident_pension.csv``: the yearly amount range and the app's grade step."""

    region: str
    year: int
    minimum: int
    maximum: int
    step: int
    derived: frozenset[str] = frozenset()
    source: str = ""

    def __post_init__(self) -> None:
        where = f"resident pension row {self.region}/{self.year}"
        if self.minimum <= 0 or self.maximum < self.minimum or self.step <= 0:
            raise ValueError(f"{where}: bad range or step")
        if self.derived - {"step"}:
            raise ValueError(f"{where}: only the step may be marked derived, not {sorted(self.derived - {'step'})}")

    @classmethod
    def from_record(cls, rec: Mapping[str, str]) -> ResidentPensionRow:
        """A row from a CSV record."""
        return cls(
            rec["region"].strip(),
            int(rec["year"]),
            int(rec["min"]),
            int(rec["max"]),
            int(rec["step"]),
            _names(rec.get("derived")),
            (rec.get("source") or "").strip(),
        )


# --------------------------------------------------------------------------- the flexible-worker policy


@dataclass(frozen=True)
class FlexPolicy:
    """The flexible-worker numbers that apply on a date, with how sure we are of them."""

    region: str
    region_name: str
    contribution_year: int
    applied_year: int | None
    year_start_month: int
    base_min: int
    base_max: int
    pension_rate: Decimal | None
    unemployment_rate: Decimal | None
    medical_rate: Decimal | None
    medical_monthly: Decimal | None
    subsidized_pension: Decimal | None
    subsidized_unemployment: Decimal | None
    subsidized_medical: Decimal | None
    provisional: bool = False
    confirmed: bool = True
    derived: frozenset[str] = field(default_factory=frozenset)
    source: str = ""

    @property
    def undated(self) -> bool:
        """True when the numbers come from a source that names no year (Qingdao, seed 002)."""
        return self.applied_year is None

    @property
    def subsidized(self) -> dict[str, Decimal | None]:
        """The fixed monthly amounts a subsidized person pays, by insurance (None = unknown)."""
        return {
            PENSION: self.subsidized_pension,
            UNEMPLOYMENT: self.subsidized_unemployment,
            MEDICAL: self.subsidized_medical,
        }

    @property
    def known_insurances(self) -> tuple[str, ...]:
        """The insurances whose (non-subsidized) amounts this policy can compute."""
        have = {PENSION: self.pension_rate, UNEMPLOYMENT: self.unemployment_rate, MEDICAL: self.medical_monthly}
        return tuple(i for i in FLEX_INSURANCES if have[i] is not None)

    def _unknown(self, what: str) -> NoPolicyError:
        year = f"{self.contribution_year}缴费年度" if not self.undated else ""
        return NoPolicyError(f"暂无{self.region_name}{year}{what}的缴费标准")

    def rate(self, insurance: str) -> Decimal:
        """The rate of pension or unemployment; ``NoPolicyError`` when the source does not give it."""
        rates = {PENSION: self.pension_rate, UNEMPLOYMENT: self.unemployment_rate}
        if insurance not in rates:
            raise ValueError(f"no base rate for {insurance!r}")
        value = rates[insurance]
        if value is None:
            raise self._unknown(INSURANCE_LABELS[insurance])
        return value

    def medical_amount(self) -> Decimal:
        """The fixed monthly medical amount; ``NoPolicyError`` when unknown."""
        if self.medical_monthly is None:
            raise self._unknown(INSURANCE_LABELS[MEDICAL])
        return self.medical_monthly

    def subsidized_amount(self, insurance: str) -> Decimal:
        """A subsidized person's fixed monthly amount for one insurance; ``NoPolicyError`` when unknown."""
        value = self.subsidized[insurance]
        if value is None:
            raise self._unknown(f"享受补贴人员{INSURANCE_LABELS[insurance]}")
        return value

    def year_label_zh(self, year: int | None = None) -> str:
        """``2023缴费年度（2023年7月至2024年6月）``."""
        y = self.contribution_year if year is None else year
        first = Month(y, self.year_start_month)
        last = first + 11
        return f"{y}缴费年度（{first.label_zh()}至{last.label_zh()}）"

    @property
    def range_text_zh(self) -> str:
        """``6326至33891``."""
        return f"{self.base_min}至{self.base_max}"

    @property
    def notices_zh(self) -> tuple[str, ...]:
        """Plain sentences the page shows about how sure these numbers are (R-FB-6)."""
        out = []
        if self.provisional:
            out.append(
                f"{self.contribution_year}缴费年度缴费标准尚未公布，暂按上年度（{self.applied_year}缴费年度）"
                "标准计算；新标准公布后，已缴费月份的差额将生成补差应缴费"
            )
        if "medical_monthly" in self.derived and self.medical_monthly is not None:
            out.append(
                f"{self.applied_year}缴费年度职工基本医疗保险月缴费额{self.medical_monthly}元为推算值"
                "（缴费基数上限×70%÷3×7%，未见官方公布），请以官方公告为准"
            )
        if self.undated:
            out.append(f"{self.region_name}缴费基数范围取自税务部门操作手册，手册未注明年度，请以官方公告为准")
        elif not self.confirmed:
            out.append(f"{self.applied_year}缴费年度缴费标准来自公开资料，请以官方公告为准")
        return tuple(out)


# --------------------------------------------------------------------------- the table


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _age_on(birth_date: date, on: date) -> int:
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


@dataclass(frozen=True)
class PolicyTable:
    """All policy rows; immutable. ``PolicyTable.load()`` reads the packaged CSVs."""

    regions: tuple[Region, ...] = ()
    flex: tuple[FlexRow, ...] = ()
    windows: tuple[WindowRow, ...] = ()
    resident_medical: tuple[ResidentMedicalRow, ...] = ()
    rm_categories: tuple[ResidentMedicalCategory, ...] = ()
    resident_pension: tuple[ResidentPensionRow, ...] = ()

    def __post_init__(self) -> None:
        keys = [(r.region, r.contribution_year) for r in self.flex]
        if len(keys) != len(set(keys)):
            raise ValueError("flex policy rows repeat a (region, contribution year)")
        years = [(r.region, r.year) for r in self.resident_pension]
        if len(years) != len(set(years)):
            raise ValueError("resident pension rows repeat a (region, year)")

    @classmethod
    def load(cls, data_dir: Path | None = None) -> PolicyTable:
        """The packaged policy table (cached); another directory reads that one instead."""
        if data_dir is None:
            return _packaged()
        return cls(
            regions=tuple(
                Region(
                    r["region"].strip(),
                    r["name_zh"].strip(),
                    int(r["year_start_month"]),
                    (r.get("source") or "").strip(),
                )
                for r in _read_csv(data_dir / "regions.csv")
            ),
            flex=tuple(FlexRow.from_record(r) for r in _read_csv(data_dir / "flex_policy.csv")),
            windows=tuple(WindowRow.from_record(r) for r in _read_csv(data_dir / "flex_windows.csv")),
            resident_medical=tuple(
                ResidentMedicalRow.from_record(r) for r in _read_csv(data_dir / "resident_medical.csv")
            ),
            rm_categories=tuple(
                ResidentMedicalCategory.from_record(r) for r in _read_csv(data_dir / "resident_medical_categories.csv")
            ),
            resident_pension=tuple(
                ResidentPensionRow.from_record(r) for r in _read_csv(data_dir / "resident_pension.csv")
            ),
        )

    @classmethod
    def from_rows(
        cls,
        flex: Iterable[FlexRow | Mapping[str, str]] | None = None,
        windows: Iterable[WindowRow | Mapping[str, str]] | None = None,
        base: PolicyTable | None = None,
    ) -> PolicyTable:
        """A table built from rows (tests): the given parts replace those of ``base`` (default: packaged)."""
        table = base if base is not None else cls.load()
        if flex is not None:
            table = replace(table, flex=tuple(r if isinstance(r, FlexRow) else FlexRow.from_record(r) for r in flex))
        if windows is not None:
            table = replace(
                table, windows=tuple(r if isinstance(r, WindowRow) else WindowRow.from_record(r) for r in windows)
            )
        return table

    def with_flex(self, *rows: FlexRow | Mapping[str, str]) -> PolicyTable:
        """A copy with these flexible-worker rows added (replacing any row of the same region and year)."""
        new = [r if isinstance(r, FlexRow) else FlexRow.from_record(r) for r in rows]
        keys = {(r.region, r.contribution_year) for r in new}
        kept = tuple(r for r in self.flex if (r.region, r.contribution_year) not in keys)
        return replace(self, flex=kept + tuple(new))

    def with_resident_pension(self, *rows: ResidentPensionRow | Mapping[str, str]) -> PolicyTable:
        """A copy with these resident pension rows added (replacing any row of the same region and year)."""
        new = [r if isinstance(r, ResidentPensionRow) else ResidentPensionRow.from_record(r) for r in rows]
        keys = {(r.region, r.year) for r in new}
        kept = tuple(r for r in self.resident_pension if (r.region, r.year) not in keys)
        return replace(self, resident_pension=kept + tuple(new))

    def with_resident_medical(self, *rows: ResidentMedicalRow | Mapping[str, str]) -> PolicyTable:
        """A copy with these resident medical rows added (replacing any row of the same region, year, category)."""
        new = [r if isinstance(r, ResidentMedicalRow) else ResidentMedicalRow.from_record(r) for r in rows]
        keys = {(r.region, r.year, r.category) for r in new}
        kept = tuple(r for r in self.resident_medical if (r.region, r.year, r.category) not in keys)
        return replace(self, resident_medical=kept + tuple(new))

    def resident_medical_priced(self, region: str, year: int) -> bool:
        """Does the table hold the year's resident medical premiums (its notice is out)?"""
        return any((r.region, r.year) == (region, year) for r in self.resident_medical)

    def without_flex(self, region: str, contribution_year: int | None) -> PolicyTable:
        """A copy without the flexible-worker row of that region and year."""
        return replace(
            self, flex=tuple(r for r in self.flex if (r.region, r.contribution_year) != (region, contribution_year))
        )

    # -- regions and years

    def region(self, code: str) -> Region:
        """The region; ``NoPolicyError`` for one the table does not know."""
        for r in self.regions:
            if r.code == code:
                return r
        raise NoPolicyError(f"暂无该地区（{code}）的缴费标准")

    def region_name(self, code: str) -> str:
        """The region's Chinese name, or the code itself when unknown."""
        try:
            return self.region(code).name_zh
        except NoPolicyError:
            return code

    def contribution_year(self, region: str, on: date | Month) -> int:
        """The contribution year (缴费年度) a date or fee period belongs to, named by its starting year."""
        start = self.region(region).year_start_month
        m = on if isinstance(on, Month) else Month.of(on)
        return m.year if m.month >= start else m.year - 1

    def contribution_year_months(self, region: str, year: int) -> tuple[Month, Month]:
        """The first and last fee period of a contribution year."""
        first = Month(year, self.region(region).year_start_month)
        return first, first + 11

    def flex_years(self, region: str) -> list[int]:
        """The contribution years that have a flexible-worker row (undated rows excluded)."""
        return sorted(r.contribution_year for r in self.flex if r.region == region and r.contribution_year is not None)

    # -- flexible workers

    def flex_policy(self, region: str, on: date | Month) -> FlexPolicy:
        """The flexible-worker policy on a date (R-FB-6: last year's numbers, flagged, when the year has none)."""
        reg = self.region(region)
        rows = [r for r in self.flex if r.region == region]
        if not rows:
            raise NoPolicyError(f"暂无{reg.name_zh}灵活就业人员的缴费标准")
        year = self.contribution_year(region, on)
        dated = {r.contribution_year: r for r in rows if r.contribution_year is not None}
        undated = next((r for r in rows if r.contribution_year is None), None)
        provisional = False
        if year in dated:
            row = dated[year]
        elif dated and year - 1 in dated and year > max(dated):
            row, provisional = dated[year - 1], True
        elif undated is not None:
            row = undated
        else:
            raise NoPolicyError(f"暂无{reg.name_zh}{year}缴费年度的缴费标准")
        return FlexPolicy(
            region=region,
            region_name=reg.name_zh,
            contribution_year=year,
            applied_year=row.contribution_year,
            year_start_month=reg.year_start_month,
            base_min=row.base_min,
            base_max=row.base_max,
            pension_rate=row.pension_rate,
            unemployment_rate=row.unemployment_rate,
            medical_rate=row.medical_rate,
            medical_monthly=row.medical_monthly,
            subsidized_pension=row.subsidized_pension,
            subsidized_unemployment=row.subsidized_unemployment,
            subsidized_medical=row.subsidized_medical,
            provisional=provisional,
            confirmed=row.confirmed,
            derived=row.derived,
            source=row.source,
        )

    def base_window(self, region: str, year: int) -> BaseWindow | None:
        """The annual declaration window held in ``year`` (for contribution year ``year``), None when unknown."""
        rows = [w for w in self.windows if w.region == region]
        row = next((w for w in rows if w.year == year), None) or next((w for w in rows if w.year is None), None)
        if row is None:
            return None
        return BaseWindow(region, year, date(year, *row.opens), date(year, *row.closes), row.approximate, row.source)

    # -- resident medical

    def resident_medical_premium(self, region: str, year: int, category: str) -> Decimal:
        """The yearly resident medical premium for a category (R-RM-2)."""
        if category not in RM_CATEGORIES:
            raise ValueError(f"unknown resident medical category {category!r}")
        for r in self.resident_medical:
            if (r.region, r.year, r.category) == (region, year, category):
                return r.premium
        raise NoPolicyError(f"暂无{self.region_name(region)}{year}年度城乡居民医疗保险缴费标准")

    def resident_medical_category(self, region: str, birth_date: date, year: int) -> str:
        """The category the app suggests from the age on 1 January of the covered year."""
        age = max(0, _age_on(birth_date, date(year, 1, 1)))
        for c in self.rm_categories:
            if c.region == region and c.age_from <= age and (c.age_to is None or age <= c.age_to):
                return c.category
        raise NoPolicyError(f"暂无{self.region_name(region)}城乡居民医疗保险参保人员类别标准")

    # -- resident pension

    def resident_pension_row(self, region: str, year: int) -> ResidentPensionRow:
        """The resident pension range of a year; ``NoPolicyError`` when the year has none."""
        for r in self.resident_pension:
            if (r.region, r.year) == (region, year):
                return r
        raise NoPolicyError(f"暂无{self.region_name(region)}{year}年度城乡居民养老保险缴费标准")

    def resident_pension_grades(self, region: str, year: int) -> tuple[Decimal, ...]:
        """The yearly grades (缴费档次) offered: minimum to maximum by the step."""
        r = self.resident_pension_row(region, year)
        grades = list(range(r.minimum, r.maximum + 1, r.step))
        if grades[-1] != r.maximum:
            grades.append(r.maximum)
        return tuple(Decimal(g).quantize(Decimal("0.01")) for g in grades)


@cache
def _packaged() -> PolicyTable:
    return PolicyTable.load(DATA)


def _t(table: PolicyTable | None) -> PolicyTable:
    return table if table is not None else PolicyTable.load()


# --------------------------------------------------------------------------- module-level helpers


def flex_policy(region: str, on: date | Month, table: PolicyTable | None = None) -> FlexPolicy:
    """The flexible-worker policy of a region on a date; ``NoPolicyError`` when there is none."""
    return _t(table).flex_policy(region, on)


def contribution_year(on: date | Month, region: str = "beijing", table: PolicyTable | None = None) -> int:
    """The contribution year (缴费年度) of a date or month, named by its starting year."""
    return _t(table).contribution_year(region, on)


def base_window(region: str, year: int, table: PolicyTable | None = None) -> BaseWindow | None:
    """The annual base declaration window of a year, or None when the region has no window data."""
    return _t(table).base_window(region, year)


def resident_medical_premium(region: str, year: int, category: str, table: PolicyTable | None = None) -> Decimal:
    """The yearly resident medical premium for a category (R-RM-2); ``NoPolicyError`` for an unknown year."""
    return _t(table).resident_medical_premium(region, year, category)


def resident_medical_priced(region: str, year: int, table: PolicyTable | None = None) -> bool:
    """Does the table hold the year's resident medical premiums?"""
    return _t(table).resident_medical_priced(region, year)


def resident_medical_category(
    birth_date: date, year: int, region: str = "beijing", table: PolicyTable | None = None
) -> str:
    """The resident medical category suggested by age on 1 January of ``year`` (see module docstring)."""
    return _t(table).resident_medical_category(region, birth_date, year)


def resident_pension_grades(region: str, year: int, table: PolicyTable | None = None) -> tuple[Decimal, ...]:
    """The resident pension grades of a year (R-RP-1); ``NoPolicyError`` for an unknown year."""
    return _t(table).resident_pension_grades(region, year)
