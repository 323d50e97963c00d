"""缴费提醒 (R-UX-3): the next due date of each kind of payment, and the iCalendar file (RFC 5545) a phone
adds to its calendar. Pure rules over dates; the services say what the person owes.

- Flexible workers pay themselves from the 10th to the 25th (R-FP-4): the due date is the 25th of this month
  while something is owed and the 25th has not passed, else next month's 25th. A payer with a batch-debit
  agreement is debited on the batch day (the 8th or the next working day): that day is the due date until
  it passes; a month whose debit left something owed is due on the 25th.
- Resident medical and resident pension are yearly: the collection deadline of the contribution year
  (``data/resident_deadlines.csv``, keyed by region, scheme and year, a row without a year being the
  region's default) while the year is owed and its deadline has not passed, else next year's deadline.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from .calendar import SELF_SERVICE_FIRST_DAY, SELF_SERVICE_LAST_DAY, HolidayCalendar, Month, batch_debit_date
from .calendar import format_date_zh as zh

DATA = Path(__file__).resolve().parent / "data"
KINDS = ("flex", "rm", "rp")
ALARM_BEFORE = timedelta(hours=15)  # the day before an all-day event, at 09:00


@dataclass(frozen=True)
class Reminder:
    """One calendar event: an all-day due date with its wording and an alarm the day before."""

    kind: str
    due: date
    summary: str
    description: str


@dataclass(frozen=True)
class DeadlineRow:
    """One row of ``resident_deadlines.csv``: the month-day a contribution year closes; year None = default."""

    region: str
    scheme: str
    year: int | None
    closes: tuple[int, int]
    approximate: bool
    source: str


@lru_cache(maxsize=4)
def deadline_rows(data_dir: Path = DATA) -> tuple[DeadlineRow, ...]:
    """The table of resident collection deadlines."""
    with open(data_dir / "resident_deadlines.csv", encoding="utf-8", newline="") as f:
        rows = []
        for r in csv.DictReader(f):
            month, day = (int(x) for x in r["closes"].split("-"))
            rows.append(
                DeadlineRow(
                    r["region"],
                    r["scheme"],
                    int(r["year"]) if r["year"] else None,
                    (month, day),
                    r["approximate"] == "1",
                    r["source"],
                )
            )
    return tuple(rows)


def resident_deadline(region: str, scheme: str, year: int) -> date:
    """The last day to pay a resident scheme's contribution year (the year's row, else the default row)."""
    rows = [r for r in deadline_rows() if r.region == region and r.scheme == scheme]
    row = next((r for r in rows if r.year == year), None) or next((r for r in rows if r.year is None), None)
    if row is None:
        raise LookupError(f"no resident deadline for {region}/{scheme}")
    return date(year, *row.closes)


def flexible_due(today: date, *, owes_now: bool, batch: bool, cal: HolidayCalendar | None = None) -> Reminder:
    """The flexible worker's next due date (R-FP-4, R-UX-3)."""
    this = Month.of(today)
    window = f"每月{SELF_SERVICE_FIRST_DAY}日至{SELF_SERVICE_LAST_DAY}日可自助缴费"
    if batch:
        batch_day = batch_debit_date(this.year, this.month, cal)
        if today <= batch_day:
            return _batch(batch_day)
        if not (owes_now and today.day <= SELF_SERVICE_LAST_DAY):
            nxt = this + 1
            return _batch(batch_debit_date(nxt.year, nxt.month, cal))
    month = this if owes_now and today.day <= SELF_SERVICE_LAST_DAY else this + 1
    due = month.day(SELF_SERVICE_LAST_DAY)
    return Reminder(
        "flex",
        due,
        f"灵活就业社保费缴费截止（{month.month}月{SELF_SERVICE_LAST_DAY}日）",
        f"{window}，{zh(due)}为本月缴费截止日。请在京通或电子税务局“灵活就业缴费”中缴费。",
    )


def _batch(day: date) -> Reminder:
    return Reminder(
        "flex",
        day,
        f"社保费银行批量扣款日（{day.month}月{day.day}日）",
        f"{zh(day)}银行将从签约账户批量扣缴灵活就业社保费，请提前在签约银行账户存足费款。"
        f"扣款失败的，可在每月{SELF_SERVICE_FIRST_DAY}日至{SELF_SERVICE_LAST_DAY}日自助缴费。",
    )


RESIDENT_LABELS = {"rm": "城乡居民医疗保险", "rp": "城乡居民养老保险"}


def resident_due(kind: str, region: str, today: date, *, owes_year: bool, who: tuple[str, ...] = ()) -> Reminder:
    """The next resident medical or pension deadline (R-UX-3): this year's while it is owed and open."""
    label = RESIDENT_LABELS[kind]
    due = resident_deadline(region, kind, today.year)
    year = today.year
    if not owes_year or today > due:
        year = today.year + 1
        due = resident_deadline(region, kind, year)
    names = f"（{'、'.join(who)}）" if who else ""
    return Reminder(
        kind,
        due,
        f"{label}{year}年度缴费截止",
        f"{label}{year}年度费用请于{zh(due)}前缴纳{names}。请在京通或电子税务局“{label}”中缴费。",
    )


# --------------------------------------------------------------------------- iCalendar (RFC 5545)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def fold(line: str) -> str:
    """A content line folded at 75 octets (RFC 5545 §3.1), never inside a UTF-8 character."""
    out, current, size = [], "", 0
    for ch in line:
        n = len(ch.encode("utf-8"))
        limit = 75 if not out else 74  # a continuation line starts with one space
        if size + n > limit:
            out.append(current)
            current, size = "", 0
        current += ch
        size += n
    out.append(current)
    return "\r\n ".join(out)


def to_ics(reminder: Reminder, *, uid: str, now: datetime, url: str = "") -> bytes:
    """The reminder as a VCALENDAR with one all-day VEVENT and a VALARM the day before at 09:00 (R-UX-3)."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//shebao//缴费提醒//ZH",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{stamp}",
        f"DTSTART;VALUE=DATE:{reminder.due:%Y%m%d}",
        f"DTEND;VALUE=DATE:{reminder.due + timedelta(days=1):%Y%m%d}",
        f"SUMMARY:{_escape(reminder.summary)}",
        f"DESCRIPTION:{_escape(reminder.description)}",
        *([f"URL:{url}"] if url else []),
        "TRANSP:TRANSPARENT",
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        f"DESCRIPTION:{_escape(reminder.summary)}",
        f"TRIGGER:-PT{int(ALARM_BEFORE.total_seconds() // 3600)}H",
        "END:VALARM",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return ("".join(fold(line) + "\r\n" for line in lines)).encode("utf-8")
