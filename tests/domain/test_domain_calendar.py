"""R-FP-4 calendar: working days, the batch debit day, the self-service period, the app clock."""

from datetime import UTC, date, datetime, timedelta

import chinese_calendar
import pytest

from webapp.domain.calendar import (
    BEIJING,
    Clock,
    HolidayCalendar,
    HolidayEntry,
    Month,
    add_months,
    batch_debit_date,
    default_calendar,
    is_batch_debit_day,
    is_estimated,
    is_working_day,
    next_self_service_opening,
    self_service_closes,
    self_service_open,
)


def test_month_value_type():
    m = Month.parse("2026-09")
    assert str(m) == "2026-09" and m == Month(2026, 9)
    assert str(m + 4) == "2027-01" and str(m - 9) == "2025-12"
    assert Month(2027, 1) - Month(2026, 9) == 4
    assert Month.parse("202609") == m and Month.of(date(2026, 9, 30)) == m
    assert m.first_day == date(2026, 9, 1) and Month(2028, 2).last_day == date(2028, 2, 29)
    assert sorted([Month(2026, 10), Month(2025, 12)])[0] == Month(2025, 12)
    for bad in ("2026-13", "26-09", "2026/09", ""):
        with pytest.raises(ValueError):
            Month.parse(bad)


def test_add_months_clamps_the_day():
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 3, 15), -12) == date(2025, 3, 15)


def test_R_FP_4_working_days_from_chinese_calendar():
    assert not is_working_day(date(2025, 10, 8))  # 国庆节 2025
    assert is_working_day(date(2025, 2, 8))  # Saturday, 调休上班
    assert not is_working_day(date(2026, 2, 17))  # 春节 2026
    assert is_working_day(date(2026, 11, 23))
    assert not is_estimated(2026)


def test_R_FP_4_batch_day_moves_off_a_public_holiday():
    """2025-10-08 falls in the National Day holiday: the debit runs on the next working day."""
    assert default_calendar().is_public_holiday(date(2025, 10, 8))
    assert batch_debit_date(2025, 10) == date(2025, 10, 9)


def test_R_FP_4_batch_day_stays_on_a_tiaoxiu_working_saturday():
    assert batch_debit_date(2025, 2) == date(2025, 2, 8)


def test_R_FP_4_batch_day_moves_off_a_plain_weekend_decision():
    """Decision: '顺延至下一工作日' also moves a Saturday/Sunday 8th (see calendar module docstring)."""
    assert batch_debit_date(2025, 11) == date(2025, 11, 10)  # Saturday → Monday, the first self-service day
    assert batch_debit_date(2026, 11) == date(2026, 11, 9)  # Sunday → Monday
    assert batch_debit_date(2026, 12) == date(2026, 12, 8)
    assert is_batch_debit_day(date(2025, 11, 10)) and not is_batch_debit_day(date(2025, 11, 8))


def test_R_FP_4_2027_comes_from_the_apps_own_table():
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 2, 8))
    cal = default_calendar()
    assert cal.source(2027) == "table" and is_estimated(2027)
    assert not is_working_day(date(2027, 2, 8))  # 春节 (初三), estimated
    assert cal.holiday_name(date(2027, 10, 1)) == "国庆节"
    assert batch_debit_date(2027, 2) == date(2027, 2, 9)
    assert batch_debit_date(2027, 5) == date(2027, 5, 10)  # Saturday 8th → Monday
    assert all(isinstance(batch_debit_date(2027, m), date) for m in range(1, 13))


def test_R_FP_4_year_covered_by_nobody_uses_weekends_and_fixed_holidays():
    cal = default_calendar()
    assert cal.source(2031) == "fallback" and is_estimated(2031)
    assert not is_working_day(date(2031, 1, 1))  # 元旦, a Wednesday
    assert not is_working_day(date(2031, 10, 2))
    assert is_working_day(date(2031, 10, 6))
    assert batch_debit_date(2031, 3) == date(2031, 3, 10)  # Saturday 8th


def test_R_FP_4_a_holiday_table_can_be_injected():
    cal = HolidayCalendar(
        [
            HolidayEntry(date(2030, 6, 8), "workday", "test", "test", False),
            HolidayEntry(date(2030, 7, 8), "holiday", "test", "test", False),
        ],
        use_library=False,
    )
    assert cal.source(2030) == "table" and not cal.is_estimated(2030)
    assert batch_debit_date(2030, 6, cal) == date(2030, 6, 8)  # a Saturday made a working day
    assert batch_debit_date(2030, 7, cal) == date(2030, 7, 9)


@pytest.mark.parametrize(
    ("at", "is_open"),
    [
        (datetime(2026, 11, 25, 23, 59), True),
        (datetime(2026, 11, 25, 23, 59, 59), True),
        (datetime(2026, 11, 26, 0, 0), False),
        (datetime(2026, 11, 9, 23, 59, 59), False),
        (datetime(2026, 11, 10, 0, 0), True),
        (datetime(2026, 2, 17, 3, 0), True),  # 春节: holidays included
        (datetime(2026, 11, 1, 12, 0), False),
    ],
)
def test_R_FP_4_self_service_runs_the_10th_to_the_25th(at, is_open):
    assert self_service_open(at) is is_open
    assert self_service_open(at.replace(tzinfo=BEIJING)) is is_open


def test_R_FP_4_aware_times_are_read_in_beijing():
    assert not self_service_open(datetime(2026, 11, 25, 16, 30, tzinfo=UTC))  # 26th 00:30 Beijing
    assert self_service_open(datetime(2026, 11, 9, 16, 0, tzinfo=UTC))  # 10th 00:00 Beijing


def test_R_FP_4_next_opening_and_closing():
    assert next_self_service_opening(datetime(2026, 11, 26, 9)) == datetime(2026, 12, 10)
    assert next_self_service_opening(datetime(2026, 11, 5, 9)) == datetime(2026, 11, 10)
    assert next_self_service_opening(datetime(2026, 12, 26)) == datetime(2027, 1, 10)
    assert next_self_service_opening(datetime(2026, 11, 15, tzinfo=BEIJING)) == datetime(2026, 12, 10, tzinfo=BEIJING)
    assert self_service_closes(datetime(2026, 11, 15, 8)) == datetime(2026, 11, 25, 23, 59, 59)
    assert self_service_closes(datetime(2026, 11, 5)) == datetime(2026, 11, 25, 23, 59, 59)
    assert self_service_closes(datetime(2026, 12, 28)) == datetime(2027, 1, 25, 23, 59, 59)


def test_R_PA_6_APP_TODAY_moves_the_date_and_time_keeps_running():
    assert Clock.from_env(None).offset == timedelta(0) and Clock.from_env("").offset == timedelta(0)
    anchor = datetime.now(BEIJING) - timedelta(hours=1)  # the real moment the setting was read
    c = Clock.from_env("2026-11-23", anchor=anchor)
    assert c.offset == datetime(2026, 11, 23, 10, 0, tzinfo=BEIJING) - anchor
    assert c.today() == date(2026, 11, 23) and c.now().hour == 11  # 10:00 on the day, an hour on
    c = Clock.from_env("2026-11-25T23:59:00", anchor=datetime.now(BEIJING))
    first = c.now()
    assert abs(first - datetime(2026, 11, 25, 23, 59, tzinfo=BEIJING)) < timedelta(seconds=5)
    assert c.now() >= first  # running, not frozen
    c = Clock.from_env("2026-11-25T16:30:00+00:00")
    assert c.today() == date(2026, 11, 26)
    with pytest.raises(ValueError, match="APP_TODAY"):
        Clock.from_env("23/11/2026")


def test_R_PA_6_two_processes_reading_the_same_setting_and_anchor_agree():
    anchor = datetime.now(BEIJING) - timedelta(hours=3)
    a, b = Clock.from_env("2026-11-22", anchor=anchor), Clock.from_env("2026-11-22", anchor=anchor)
    assert abs(a.now() - b.now()) < timedelta(seconds=1)
    assert abs(a.now() - datetime(2026, 11, 22, 13, 0, tzinfo=BEIJING)) < timedelta(seconds=5)  # 3 hours on


def test_clock_can_be_moved_and_frozen_for_tests():
    c = Clock()
    assert abs(c.now() - datetime.now(BEIJING)) < timedelta(minutes=1)
    c.set(date(2026, 6, 13))
    assert c.today() == date(2026, 6, 13)
    c.advance(timedelta(days=1))
    assert c.today() == date(2026, 6, 14)
    c.freeze(datetime(2026, 11, 10, 0, 0, tzinfo=BEIJING))
    assert c.now() == datetime(2026, 11, 10, tzinfo=BEIJING)
    c.advance(timedelta(minutes=5))
    assert c.now() == datetime(2026, 11, 10, 0, 5, tzinfo=BEIJING)
    c.unfreeze()
    assert c.now() >= datetime(2026, 11, 10, 0, 5, tzinfo=BEIJING)
