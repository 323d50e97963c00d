"""缴费提醒 (R-UX-3): the next due date of each kind of payment, and the iCalendar file (RFC 5545) a phone
adds to its calendar. Pure rules over dates; the services say what the person owes.

- Flexible workers pay themselves from the 10th to the 25th (R-FP-4): the due date is the 25th of this month
  while something is owed and the 25th has not passed, else next month's 25th. A payer with a batch-debit
  agreement is debited on the batch day (the 8th or the next working day): that day is the due date until
  it passes; a month whose debit left something owed is due on the 25th.
- Resident medical and resident pension are yearly: the collection period of the covered year
  (``collection``: ``data/resident_deadlines.csv``, keyed by region, scheme and year; resident medical is
  paid in the December before its year, docs/policy.md §1) while the year is owed, else the next one's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import icalendar

from . import collection
from .calendar import SELF_SERVICE_FIRST_DAY, SELF_SERVICE_LAST_DAY, HolidayCalendar, Month, batch_debit_date
from .calendar import format_date_zh as zh
from .schemes import SCHEMES, SchemeCode

ALARM_BEFORE = timedelta(hours=15)  # the day before an all-day event, at 09:00


@dataclass(frozen=True)
class Reminder:
    """One calendar event: an all-day due date with its wording and an alarm the day before."""

    kind: str
    due: date
    summary: str
    description: str


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
        SchemeCode.FLEXIBLE,
        due,
        f"灵活就业社保费缴费截止（{month.month}月{SELF_SERVICE_LAST_DAY}日）",
        f"{window}，{zh(due)}为本月缴费截止日。请在京通或电子税务局“灵活就业缴费”中缴费。",
    )


def _batch(day: date) -> Reminder:
    return Reminder(
        SchemeCode.FLEXIBLE,
        day,
        f"社保费银行批量扣款日（{day.month}月{day.day}日）",
        f"{zh(day)}银行将从签约账户批量扣缴灵活就业社保费，请提前在签约银行账户存足费款。"
        f"扣款失败的，可在每月{SELF_SERVICE_FIRST_DAY}日至{SELF_SERVICE_LAST_DAY}日自助缴费。",
    )


def resident_due(
    kind: str,
    region: str,
    today: date,
    *,
    owed_years: tuple[int, ...] = (),
    paid_years: tuple[int, ...] = (),
    who: tuple[str, ...] = (),
) -> Reminder:
    """The next resident medical or pension date to pay by (R-UX-3, ``collection``): the oldest year still
    owed and on sale — its collection period's last day, or, once that has passed, the last day the year is
    taken; with nothing owed, the next year not yet paid, by the end of its collection period."""
    label = SCHEMES[kind].reminder_name
    names = f"（{'、'.join(who)}）" if who else ""
    owed = sorted(y for y in owed_years if collection.period(region, kind, y).on_sale(today))
    if owed:
        p = collection.period(region, kind, owed[0])
    else:
        year = collection.collection_year(region, kind, today)
        while year in paid_years or collection.period(region, kind, year).closes < today:
            year += 1
        p = collection.period(region, kind, year)
    due = p.due(today)
    if p.late(today):
        when = f"{p.year}年度集中缴费期已于{zh(p.closes)}结束，仍可缴纳至{zh(due)}"
    elif today < p.opens:
        when = f"{p.year}年度缴费期为{zh(p.opens)}至{zh(due)}，请于{zh(due)}前缴纳"
    else:
        when = f"{p.year}年度费用请于{zh(due)}前缴纳"
    assumed = "（缴费期限为本应用的假设，以医保、税务部门通知为准）" if p.approximate else ""
    return Reminder(
        kind,
        due,
        f"{label}{p.year}年度缴费截止",
        f"{label}{when}{names}。请在京通或电子税务局“{label}”中缴费。{assumed}",
    )


# --------------------------------------------------------------------------- iCalendar (RFC 5545)


def to_ics(reminder: Reminder, *, uid: str, now: datetime, url: str = "") -> bytes:
    """The reminder as a VCALENDAR with one all-day VEVENT and a VALARM before it (R-UX-3), written by
    ``icalendar`` (escaping, 75-octet folding that never splits a character, CRLF)."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//shebao//缴费提醒//ZH")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", reminder.due)
    event.add("dtend", reminder.due + timedelta(days=1))
    event.add("summary", reminder.summary)
    event.add("description", reminder.description)
    if url:
        event.add("url", url)
    event.add("transp", "TRANSPARENT")
    alarm = icalendar.Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", reminder.summary)
    alarm.add("trigger", -ALARM_BEFORE)
    event.add_component(alarm)
    cal.add_component(event)
    return cal.to_ical()
