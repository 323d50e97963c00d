"""缴费提醒 (R-UX-3): the hall and the receivable pages link to the next due date as an .ics, and the file
names the date the rules give for that person."""

from datetime import date

import icalendar
from sqlalchemy import select

from tests.factories import TODAY, at, make_agreement, make_flex_worker
from webapp.models import Receivable

from ..conftest import text


def _event(r):
    assert r.status_code == 200, text(r)[:300]
    assert r.mimetype == "text/calendar" and "attachment" in r.headers["Content-Disposition"]
    assert r.get_data().endswith(b"\r\n")
    events = list(icalendar.Calendar.from_ical(r.get_data()).walk("VEVENT"))
    assert len(events) == 1 and list(events[0].walk("VALARM"))
    return events[0]


def test_R_UX_3_flexible_worker_owing_this_month_is_reminded_of_the_25th(phone_user, flex):
    b = phone_user(flex["flex"])
    for path in ("/", "/flex/pay", "/flex/due"):
        assert 'href="/reminders/flex.ics"' in text(b.get(path)), path
    ev = _event(b.get("/reminders/flex.ics"))
    assert ev.decoded("DTSTART") == date(2026, 11, 25)  # TODAY is 2026-11-22, inside 10th–25th
    assert "灵活就业社保费缴费截止" in str(ev["SUMMARY"])
    assert "添加缴费提醒到手机日历" in text(b.get("/flex/pay"))  # the date is worked out when the .ics is asked for


def test_R_UX_3_flexible_worker_with_nothing_owed_is_reminded_of_next_month(app, phone_user, flex):
    with app.extensions["db_sessionmaker"]() as s:
        for r in s.scalars(select(Receivable).where(Receivable.insured_id == flex["flex"].id)):
            r.status = "paid"
        s.commit()
    ev = _event(phone_user(flex["flex"]).get("/reminders/flex.ics"))
    assert ev.decoded("DTSTART") == date(2026, 12, 25)


def test_R_UX_3_R_FP_4_a_batch_debit_payer_is_reminded_of_the_batch_day(app, phone_user):
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        holder = make_flex_worker(s, "批扣", unpaid_months=0)
        make_agreement(s, holder, effective_on=date(2026, 10, 1))
        s.commit()
    app.extensions["clock"].set(at(date(2026, 11, 3)))
    b = phone_user(holder, "alipay")
    assert 'href="/reminders/flex.ics"' in text(b.get("/"))
    ev = _event(b.get("/reminders/flex.ics"))
    assert ev.decoded("DTSTART") == date(2026, 11, 9)  # the 8th is a Sunday: the next working day
    assert "批量扣款日" in str(ev["SUMMARY"])
    app.extensions["clock"].set(at(date(2026, 11, 12)))  # debited, nothing owed: next month's batch day
    assert _event(b.get("/reminders/flex.ics")).decoded("DTSTART") == date(2026, 12, 8)


def test_R_UX_3_resident_medical_payer_gets_the_years_deadline_naming_who_owes(phone_user, family):
    b = phone_user(family.payer)
    assert 'href="/reminders/rm.ics"' in text(b.get("/rm/pay"))
    assert 'href="/reminders/rm.ics"' in text(b.get("/"))
    ev = _event(b.get("/reminders/rm.ics"))
    # docs/policy.md §1: the family still owes this year, past its collection period: taken to 31 December
    assert ev.decoded("DTSTART") == date(TODAY.year, 12, 31)
    assert str(ev["SUMMARY"]) == f"城乡居民医疗保险{TODAY.year}年度缴费截止"
    assert "王福生（父亲）" in str(ev["DESCRIPTION"])
    assert str(ev["URL"]).endswith("/rm/pay")


def test_R_UX_3_resident_pension(phone_user, pension):
    b = phone_user(pension["set"], "alipay")
    assert 'href="/reminders/rp.ics"' in text(b.get("/rp/pay"))
    assert _event(b.get("/reminders/rp.ics")).decoded("DTSTART") == date(TODAY.year, 12, 25)
    paid = phone_user(pension["paid"], "alipay")
    assert _event(paid.get("/reminders/rp.ics")).decoded("DTSTART") == date(TODAY.year + 1, 12, 25)


def test_R_UX_3_a_reminder_that_does_not_apply_leads_back_to_the_hall(browser, phone_user, family):
    b = phone_user(family.payer)
    r = b.get("/reminders/flex.ics")  # 王建国 is no flexible worker
    assert r.status_code == 302 and r.location == "/"
    assert b.get("/reminders/other.ics").status_code == 404
    assert browser.get("/reminders/rm.ics").status_code == 302  # login first
