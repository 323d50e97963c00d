"""缴费提醒 (R-UX-3): the next due date of each scheme, and the .ics a calendar app reads (RFC 5545)."""

from datetime import date, datetime

import icalendar
import pytest

from webapp.domain import collection
from webapp.domain.calendar import BEIJING
from webapp.domain.reminders import Reminder, flexible_due, resident_due, to_ics


@pytest.mark.parametrize(
    "today, owes, due",
    [
        (date(2026, 11, 22), True, date(2026, 11, 25)),  # inside the window, owing: this month's 25th
        (date(2026, 11, 3), True, date(2026, 11, 25)),  # before the window opens: still this month's 25th
        (date(2026, 11, 25), True, date(2026, 11, 25)),  # the last day itself
        (date(2026, 11, 26), True, date(2026, 12, 25)),  # after the 25th: next month's
        (date(2026, 11, 12), False, date(2026, 12, 25)),  # this month paid: next month's
        (date(2026, 12, 28), False, date(2027, 1, 25)),  # across the year
    ],
)
def test_R_UX_3_R_FP_4_flexible_due_is_the_25th_of_the_month_owed(today, owes, due):
    r = flexible_due(today, owes_now=owes, batch=False)
    assert r.due == due and r.kind == "flex"
    assert "缴费截止" in r.summary and "每月10日至25日" in r.description


@pytest.mark.parametrize(
    "today, owes, due",
    [
        (date(2026, 11, 2), True, date(2026, 11, 9)),  # 8 Nov 2026 is a Sunday: the batch day moves to Monday 9th
        (date(2026, 11, 9), True, date(2026, 11, 9)),  # the batch day itself
        (date(2026, 11, 12), True, date(2026, 11, 25)),  # the debit left something owed: pay by the 25th
        (date(2026, 11, 12), False, date(2026, 12, 8)),  # debited: next month's batch day
        (date(2026, 11, 27), True, date(2026, 12, 8)),
    ],
)
def test_R_UX_3_R_FP_4_with_a_batch_agreement_the_batch_day_is_due(today, owes, due):
    r = flexible_due(today, owes_now=owes, batch=True)
    assert r.due == due
    if due.day in (8, 9):
        assert "批量扣款日" in r.summary and "存足" in r.description


@pytest.mark.parametrize(
    "today, owed, paid, year, due",
    [
        # resident medical is paid in the December before its year (seed 004: 申报时间 2022-12-26 for 2023)
        (date(2026, 11, 22), (2027,), (2026,), 2027, date(2026, 12, 31)),
        (date(2026, 11, 22), (), (2026,), 2027, date(2026, 12, 31)),  # not out yet: still the date to pay by
        (date(2026, 11, 22), (), (2026, 2027), 2028, date(2027, 12, 31)),
        (date(2026, 11, 22), (2026, 2027), (), 2026, date(2026, 12, 31)),  # the oldest owed first: late, to its end
        (date(2026, 3, 2), (2026,), (), 2026, date(2026, 12, 31)),  # 中途参保: taken until the year's end
        (date(2026, 3, 2), (), (2026,), 2027, date(2026, 12, 31)),
        (date(2026, 3, 2), (2025,), (), 2027, date(2026, 12, 31)),  # 2025 is no longer on sale
    ],
)
def test_R_UX_3_R_RM_2_resident_medical_is_due_before_its_year(today, owed, paid, year, due):
    """docs/policy.md §1: year N's collection period ends 31 December of N−1; a year still owed after it is
    taken until its own 31 December."""
    r = resident_due("rm", "beijing", today, owed_years=owed, paid_years=paid, who=("本人", "王福生（父亲）"))
    assert r.due == due and r.summary == f"城乡居民医疗保险{year}年度缴费截止"
    assert "王福生（父亲）" in r.description and "本应用的假设" in r.description


def test_R_RM_2_which_year_is_on_sale_when():
    """docs/policy.md §1, from the table: 2027 from 1 September 2026; 2026 until 31 December 2026."""
    p = collection.period("beijing", "rm", 2027)
    assert (p.opens, p.closes, p.late_until) == (date(2026, 9, 1), date(2026, 12, 31), date(2027, 12, 31))
    assert collection.years_on_sale("beijing", "rm", date(2026, 8, 31)) == [2026]
    assert collection.years_on_sale("beijing", "rm", date(2026, 9, 1)) == [2026, 2027]
    assert collection.years_on_sale("beijing", "rm", date(2027, 1, 1)) == [2027]
    assert collection.collection_year("beijing", "rm", date(2026, 11, 22)) == 2027
    assert collection.collection_year("beijing", "rp", date(2026, 11, 22)) == 2026


def test_R_UX_3_resident_pension_is_due_in_its_own_year():
    assert resident_due("rp", "beijing", date(2026, 11, 22), owed_years=(2026,)).due == date(2026, 12, 25)
    r = resident_due("rp", "beijing", date(2026, 11, 22), paid_years=(2026,))
    assert r.due == date(2027, 12, 25) and r.summary.startswith("城乡居民养老保险2027年度")
    assert resident_due("rp", "beijing", date(2026, 12, 26), owed_years=(2026,)).due == date(2027, 12, 25)


def test_R_UX_3_long_lines_are_folded_within_75_octets_and_never_split_a_character():
    r = Reminder("rm", date(2026, 12, 25), "缴费截止", "城乡居民医疗保险费请于截止日前缴纳，" * 10)
    text = to_ics(r, uid="x@y", now=datetime(2026, 11, 22, tzinfo=BEIJING)).decode("utf-8")  # raises if split
    lines = text.split("\r\n")
    assert all(len(line.encode("utf-8")) <= 75 for line in lines)
    start = next(i for i, line in enumerate(lines) if line.startswith("DESCRIPTION:城乡"))
    assert lines[start + 1].startswith(" ")
    unfolded = text.replace("\r\n ", "")
    assert ("DESCRIPTION:" + "城乡居民医疗保险费请于截止日前缴纳，" * 10) in unfolded


def test_R_UX_3_the_ics_is_rfc_5545_and_parses():
    r = Reminder(
        "rm",
        date(2026, 12, 25),
        "城乡居民医疗保险2026年度缴费截止",
        "城乡居民医疗保险2026年度费用请于2026年12月25日前缴纳（本人、王福生（父亲）、李秀英（母亲）、王小雨（子女））；请在京通中缴费。",
    )
    body = to_ics(
        r,
        uid="rm-20261225-1@example.cn",
        now=datetime(2026, 11, 22, 10, 0, tzinfo=BEIJING),
        url="http://example.cn/rm/pay",
    )
    text = body.decode("utf-8")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    assert all(len(line.encode("utf-8")) <= 75 for line in text.split("\r\n"))
    cal = icalendar.Calendar.from_ical(body)
    assert cal["VERSION"] == "2.0" and cal.get("PRODID")
    events = list(cal.walk("VEVENT"))
    assert len(events) == 1
    ev = events[0]
    assert str(ev["UID"]) == "rm-20261225-1@example.cn"
    assert ev.decoded("DTSTAMP") == datetime(2026, 11, 22, 2, 0, tzinfo=ev.decoded("DTSTAMP").tzinfo)
    assert ev.decoded("DTSTART") == date(2026, 12, 25) and ev.decoded("DTEND") == date(2026, 12, 26)
    assert str(ev["SUMMARY"]) == "城乡居民医疗保险2026年度缴费截止"
    assert "李秀英（母亲）" in str(ev["DESCRIPTION"]) and "；" in str(ev["DESCRIPTION"])
    alarms = list(ev.walk("VALARM"))
    assert len(alarms) == 1 and str(alarms[0]["ACTION"]) == "DISPLAY"
    assert alarms[0].decoded("TRIGGER").total_seconds() == -15 * 3600


def test_R_UX_3_text_values_are_escaped():
    r = Reminder("flex", date(2026, 11, 25), "缴费截止; 25日, 请\\注意", "第一行\n第二行, 含; 分号")
    body = to_ics(r, uid="x@y", now=datetime(2026, 11, 22, tzinfo=BEIJING))
    assert b"SUMMARY:\xe7\xbc\xb4\xe8\xb4\xb9\xe6\x88\xaa\xe6\xad\xa2\\; 25" in body
    ev = next(iter(icalendar.Calendar.from_ical(body).walk("VEVENT")))
    assert str(ev["SUMMARY"]) == "缴费截止; 25日, 请\\注意"
    assert str(ev["DESCRIPTION"]) == "第一行\n第二行, 含; 分号"
