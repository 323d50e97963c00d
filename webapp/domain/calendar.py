"""Dates the rules depend on: the app's clock (APP_TODAY), months, working days and the
flexible workers' payment calendar (R-FP-4).

Working days come from three sources, in this order:

1. the ``chinese_calendar`` package, for the years it has data for (up to 2026 in 1.11.0);
2. the app's own table ``data/holidays.csv`` (date, kind ``holiday``/``workday`` — a 调休
   working weekend —, name, source, estimated) for later years. 2027 is filled in from the
   statutory days and the lunar dates and is marked *estimated* until the State Council
   publishes its schedule (replace the rows then and set ``estimated`` to 0);
3. for a year covered by neither: weekends plus the fixed-date statutory holidays of
   ``data/fixed_holidays.csv`` (元旦, 劳动节, 国庆节), flagged estimated.

``is_estimated(year)`` tells whether a year's calendar is an estimate.

Decisions (the guide is ambiguous):

- Batch debit day (Q22, Q41: "每月8日（遇法定节假日顺延至下一工作日）"; part 3 (三): "如遇节假日顺延
  至下一个工作日"): the 8th moves to the next *working day* whenever it is not a working day,
  a plain Saturday or Sunday included, because the sentence moves it to a 工作日 and a bank
  batch does not run on a rest day. A 调休 working Saturday is a working day, so the debit
  stays on it (2025-02-08).
- Self-service payment (Q37: "征期内（每月10-25日）7*24h 缴费，节假日可正常缴费") is open from the
  10th 00:00:00 to the 25th 23:59:59 Beijing time, whatever the weekday or holiday. The
  "工作日15点前" limit of part 3 (三) 1 concerns bank counters, not this app.
- A naive datetime is taken as Beijing wall time; an aware one is converted to Beijing time,
  and the functions answer with the same kind (naive in, naive out).
"""

from __future__ import annotations

import calendar as _stdcal
import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar

BEIJING = ZoneInfo("Asia/Shanghai")
DATA = Path(__file__).resolve().parent / "data"

#: Bank batch debit day of the month, before moving it to a working day (seed 000 Q22, Q41).
BATCH_DEBIT_DAY = 8
#: Self-service payment days, both inclusive, holidays included (seed 000 Q22, Q37).
SELF_SERVICE_FIRST_DAY = 10
SELF_SERVICE_LAST_DAY = 25

_HOLIDAY_NAMES_ZH = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}


# --------------------------------------------------------------------------- months


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month (费款所属期), e.g. ``Month(2026, 9)`` printed ``2026-09``."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"month out of range: {self.month}")
        if not 1 <= self.year <= 9999:  # a month every date can name (year 0000 came from a form, and answered 500)
            raise ValueError(f"year out of range: {self.year}")

    @classmethod
    def parse(cls, text: str) -> Month:
        """``"2026-09"`` (or ``"2026-9"``, ``"202609"``) → ``Month(2026, 9)``."""
        s = text.strip()
        if "-" in s:
            y, m = s.split("-", 1)
        elif len(s) == 6 and s.isdigit():
            y, m = s[:4], s[4:]
        else:
            raise ValueError(f"not a month: {text!r}")
        if not (y.isdigit() and m.isdigit() and len(y) == 4):
            raise ValueError(f"not a month: {text!r}")
        return cls(int(y), int(m))

    @classmethod
    def of(cls, d: date) -> Month:
        """The month a date falls in."""
        return cls(d.year, d.month)

    @property
    def first_day(self) -> date:
        """The 1st of the month (how the database stores a fee period)."""
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        """The last day of the month."""
        return date(self.year, self.month, _stdcal.monthrange(self.year, self.month)[1])

    def day(self, n: int) -> date:
        """The n-th day of this month."""
        return date(self.year, self.month, n)

    def label_zh(self) -> str:
        """``2026年9月``."""
        return f"{self.year}年{self.month}月"

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def __add__(self, months: int) -> Month:
        if not isinstance(months, int):
            return NotImplemented
        index = self.year * 12 + (self.month - 1) + months
        return Month(index // 12, index % 12 + 1)

    def __sub__(self, other: int | Month) -> Month | int:
        if isinstance(other, Month):
            return (self.year * 12 + self.month) - (other.year * 12 + other.month)
        if isinstance(other, int):
            return self + (-other)
        return NotImplemented

    def minus(self, months: int) -> Month:
        """This month shifted back (typed helper for ``self - n``)."""
        return self + (-months)

    def months_since(self, other: Month) -> int:
        """How many months ``other`` lies before this month (typed helper for ``self - other``)."""
        return (self.year * 12 + self.month) - (other.year * 12 + other.month)


def add_months(d: date, months: int) -> date:
    """The same day ``months`` later (or earlier), clamped to the month's last day."""
    m = Month.of(d) + months
    return date(m.year, m.month, min(d.day, m.last_day.day))


def format_date_zh(d: date) -> str:
    """``2026年12月10日``."""
    return f"{d.year}年{d.month}月{d.day}日"


# --------------------------------------------------------------------------- clock


def parse_app_today(value: str | None) -> datetime | None:
    """``APP_TODAY``: ``YYYY-MM-DD`` (10:00 that day) or an ISO datetime (naive = Beijing); empty = None."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(10, 0), BEIJING)
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"APP_TODAY must be YYYY-MM-DD or an ISO datetime, got {value!r}") from None
    return at if at.tzinfo else at.replace(tzinfo=BEIJING)


@dataclass
class Clock:
    """The time the app believes it is: the real time moved by ``offset``, so it keeps running (R-PA-6).

    ``APP_TODAY`` sets the offset once (``Clock.starting_at``); every process that reads the same
    setting and anchor agrees on the time, and order expiry, reconciliation and scheduled jobs see
    minutes pass as on any day. ``set``/``advance`` move it (tests, demos); ``freeze`` stops it for a
    test that needs one exact instant.
    """

    offset: timedelta = field(default=timedelta(0))
    frozen: datetime | None = field(default=None)

    @classmethod
    def starting_at(cls, at: datetime | None, anchor: datetime | None = None) -> Clock:
        """A clock that read ``at`` at the real moment ``anchor`` (default: now) and runs on from there."""
        if at is None:
            return cls()
        return cls(offset=at - (anchor or datetime.now(BEIJING)))

    @classmethod
    def from_env(cls, value: str | None, anchor: datetime | None = None) -> Clock:
        """``Clock.starting_at(parse_app_today(value), anchor)``."""
        return cls.starting_at(parse_app_today(value), anchor)

    def now(self) -> datetime:
        """Now, in Beijing time (timezone-aware)."""
        if self.frozen is not None:
            return self.frozen
        return datetime.now(BEIJING) + self.offset

    def today(self) -> date:
        """Today's date in Beijing."""
        return self.now().astimezone(BEIJING).date()

    def set(self, at: datetime | date) -> None:
        """Move the clock to ``at`` and let it run on (a date means 10:00 that day; naive = Beijing)."""
        target = parse_app_today(at.isoformat())
        assert target is not None
        if self.frozen is not None:
            self.frozen = target
        else:
            self.offset = target - datetime.now(BEIJING)

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward by ``delta``."""
        if self.frozen is not None:
            self.frozen += delta
        else:
            self.offset += delta

    def freeze(self, at: datetime | None = None) -> None:
        """Stop the clock at ``at`` (default: now) until ``unfreeze``."""
        self.frozen = at or self.now()

    def unfreeze(self) -> None:
        """Let a frozen clock run on from where it stood."""
        if self.frozen is not None:
            self.offset = self.frozen - datetime.now(BEIJING)
            self.frozen = None


# --------------------------------------------------------------------------- holidays


@dataclass(frozen=True)
class HolidayEntry:
    """One row of the app's holiday table: a day off, or a 调休 working weekend day."""

    day: date
    kind: str  # "holiday" | "workday"
    name: str
    source: str
    estimated: bool


@dataclass(frozen=True)
class FixedHoliday:
    """A statutory holiday on a fixed solar date (used for years nobody has data for)."""

    month: int
    day: int
    name: str
    source: str


def _truthy(text: str | None) -> bool:
    return (text or "").strip().lower() in {"1", "true", "yes", "y"}


def read_holiday_csv(path: Path) -> list[HolidayEntry]:
    """Rows of a holidays CSV (date, kind, name, source, estimated)."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = []
        for r in csv.DictReader(f):
            kind = r["kind"].strip()
            if kind not in {"holiday", "workday"}:
                raise ValueError(f"{path.name}: kind must be holiday or workday, got {kind!r}")
            rows.append(
                HolidayEntry(
                    date.fromisoformat(r["date"].strip()),
                    kind,
                    r["name"].strip(),
                    r.get("source", "").strip(),
                    _truthy(r.get("estimated")),
                )
            )
        return rows


def read_fixed_holiday_csv(path: Path) -> list[FixedHoliday]:
    """Rows of the fixed-date statutory holidays CSV (month, day, name, source)."""
    with open(path, encoding="utf-8", newline="") as f:
        return [
            FixedHoliday(int(r["month"]), int(r["day"]), r["name"].strip(), r.get("source", "").strip())
            for r in csv.DictReader(f)
        ]


class HolidayCalendar:
    """Working days from chinese_calendar, then the app's table, then weekends + fixed holidays."""

    def __init__(
        self, entries: Iterable[HolidayEntry] = (), fixed: Iterable[FixedHoliday] = (), use_library: bool = True
    ) -> None:
        self._entries: dict[date, HolidayEntry] = {e.day: e for e in entries}
        self._table_years: set[int] = {d.year for d in self._entries}
        self._fixed = {(f.month, f.day): f for f in fixed}
        self._use_library = use_library

    @classmethod
    def load(cls, data_dir: Path = DATA) -> HolidayCalendar:
        """The packaged calendar (holidays.csv and fixed_holidays.csv)."""
        return cls(read_holiday_csv(data_dir / "holidays.csv"), read_fixed_holiday_csv(data_dir / "fixed_holidays.csv"))

    def _library_covers(self, year: int) -> bool:
        if not self._use_library:
            return False
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
        except NotImplementedError:
            return False
        return True

    def source(self, year: int) -> str:
        """Where the year's calendar comes from: ``library``, ``table`` or ``fallback``."""
        if self._library_covers(year):
            return "library"
        if year in self._table_years:
            return "table"
        return "fallback"

    def is_estimated(self, year: int) -> bool:
        """True when the year's holidays are not an official schedule (estimated table rows or fallback)."""
        src = self.source(year)
        if src == "library":
            return False
        if src == "table":
            return any(e.estimated for e in self._entries.values() if e.day.year == year)
        return True

    def is_working_day(self, d: date) -> bool:
        """A day banks and tax offices work: not a weekend or public holiday, or a 调休 working day."""
        src = self.source(d.year)
        if src == "library":
            return bool(chinese_calendar.is_workday(d))
        if src == "table":
            entry = self._entries.get(d)
            if entry is not None:
                return entry.kind == "workday"
            return d.weekday() < 5
        return d.weekday() < 5 and (d.month, d.day) not in self._fixed

    def holiday_name(self, d: date) -> str | None:
        """The public holiday's Chinese name when ``d`` is a public holiday (not a plain weekend)."""
        src = self.source(d.year)
        if src == "library":
            on_holiday, name = chinese_calendar.get_holiday_detail(d)
            if on_holiday and name:
                return _HOLIDAY_NAMES_ZH.get(str(name), str(name))
            return None
        if src == "table":
            entry = self._entries.get(d)
            return entry.name if entry is not None and entry.kind == "holiday" else None
        fixed = self._fixed.get((d.month, d.day))
        return fixed.name if fixed is not None else None

    def is_public_holiday(self, d: date) -> bool:
        """True on a statutory public holiday day off (a plain weekend is not one)."""
        return self.holiday_name(d) is not None and not self.is_working_day(d)

    def next_working_day(self, d: date) -> date:
        """``d`` itself when it is a working day, else the first working day after it."""
        for _ in range(60):
            if self.is_working_day(d):
                return d
            d += timedelta(days=1)
        raise RuntimeError("no working day within 60 days")  # pragma: no cover - impossible calendar


@cache
def default_calendar() -> HolidayCalendar:
    """The packaged holiday calendar (loaded once)."""
    return HolidayCalendar.load()


def _cal(cal: HolidayCalendar | None) -> HolidayCalendar:
    return cal if cal is not None else default_calendar()


def is_working_day(d: date, cal: HolidayCalendar | None = None) -> bool:
    """True on a working day (weekends and public holidays are not; 调休 weekends are)."""
    return _cal(cal).is_working_day(d)


def is_estimated(year: int, cal: HolidayCalendar | None = None) -> bool:
    """True when the year's holiday calendar is an estimate, not the published schedule."""
    return _cal(cal).is_estimated(year)


def next_working_day(d: date, cal: HolidayCalendar | None = None) -> date:
    """``d`` when it is a working day, else the next working day."""
    return _cal(cal).next_working_day(d)


# --------------------------------------------------------------------------- payment calendar (R-FP-4)


def batch_debit_date(year: int, month: int, cal: HolidayCalendar | None = None) -> date:
    """The bank batch debit day of a month: the 8th, or the next working day when the 8th is not one."""
    return _cal(cal).next_working_day(date(year, month, BATCH_DEBIT_DAY))


def is_batch_debit_day(d: date, cal: HolidayCalendar | None = None) -> bool:
    """True when ``d`` is its month's batch debit day."""
    return batch_debit_date(d.year, d.month, cal) == d


def _local(at: datetime) -> datetime:
    return at.astimezone(BEIJING) if at.tzinfo is not None else at


def _like(at: datetime, d: date, t: time) -> datetime:
    return datetime.combine(d, t, BEIJING) if at.tzinfo is not None else datetime.combine(d, t)


def self_service_open(at: datetime) -> bool:
    """True from the 10th 00:00 to the 25th 23:59:59 (Beijing time), holidays included."""
    return SELF_SERVICE_FIRST_DAY <= _local(at).day <= SELF_SERVICE_LAST_DAY


def next_self_service_opening(at: datetime) -> datetime:
    """The next 10th 00:00 strictly after ``at`` (while open, that is next month's opening)."""
    local = _local(at)
    m = Month.of(local.date())
    if local.day >= SELF_SERVICE_FIRST_DAY:
        m = m + 1
    return _like(at, m.day(SELF_SERVICE_FIRST_DAY), time(0, 0))


def self_service_closes(at: datetime) -> datetime:
    """When the current (or, outside one, the next) self-service period closes: the 25th 23:59:59."""
    local = _local(at)
    m = Month.of(local.date())
    if local.day > SELF_SERVICE_LAST_DAY:
        m = m + 1
    return _like(at, m.day(SELF_SERVICE_LAST_DAY), time(23, 59, 59))
