"""缴费提醒 (R-UX-3): the next due date of each scheme, and the .ics a calendar app reads (RFC 5545)."""

from datetime import date, datetime

import icalendar
import pytest

from webapp.domain.calendar import BEIJING
from webapp.domain.reminders import Reminder, flexible_due, fold, resident_deadline, resident_due, to_ics


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
    "today, owes, due",
    [
        (date(2026, 11, 22), True, date(2026, 12, 25)),
        (date(2026, 11, 22), False, date(2027, 12, 25)),  # this year paid: next year's deadline
        (date(2026, 12, 26), True, date(2027, 12, 25)),  # this year's deadline has passed
    ],
)
def test_R_UX_3_resident_deadline_comes_from_the_table(today, owes, due):
    assert resident_deadline("beijing", "rm", 2026) == date(2026, 12, 25)
    r = resident_due("rm", "beijing", today, owes_year=owes, who=("本人", "王福生（父亲）"))
    assert r.due == due and f"城乡居民医疗保险{due.year}年度缴费截止" == r.summary
    assert "王福生（父亲）" in r.description
    assert resident_due("rp", "beijing", today, owes_year=owes).summary.startswith("城乡居民养老保险")


def test_R_UX_3_fold_keeps_lines_within_75_octets_and_never_splits_a_character():
    line = "DESCRIPTION:" + "城乡居民医疗保险费请于截止日前缴纳，" * 10
    folded = fold(line)
    parts = folded.split("\r\n")
    assert len(parts) > 1 and all(len(p.encode("utf-8")) <= 75 for p in parts)
    assert all(p.startswith(" ") for p in parts[1:])
    assert "".join(p[1:] if i else p for i, p in enumerate(parts)) == line


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
