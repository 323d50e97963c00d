"""Flexible workers' rules R-FB-1..6 and R-FP-1..7 (seed 000 part 2 and Q&A, seed 001)."""

from datetime import date, datetime
from decimal import Decimal

import pytest

from webapp.domain.calendar import BEIJING, Month
from webapp.domain.flexible import (
    CYCLES,
    MSG_BATCH_DAY,
    MSG_EMPTY_SELECTION,
    MSG_MEDICAL_TOGETHER,
    MSG_NOTICE_TOGETHER,
    FlexReceivable,
    PaidItem,
    RuleViolation,
    allowed_cycles,
    base_change_window,
    batch_debit_items,
    can_pay_now,
    carry_over_base,
    classify,
    current_period,
    declaration_needed,
    effective_base,
    lapse_warning,
    monthly_amount,
    monthly_amounts,
    overdue_periods,
    retirement_date,
    topup_amount,
    topup_items,
    validate_base,
    validate_cycle,
    validate_normal_selection,
    validate_special_selection,
    window_periods,
)
from webapp.domain.policy import NoPolicyError, PolicyTable, flex_policy

D = Decimal
P2023 = flex_policy("beijing", date(2023, 9, 1))


# --------------------------------------------------------------------------- R-FB-1


@pytest.mark.parametrize(
    ("base", "pension", "unemployment"),
    [
        (6326, "1265.20", "63.26"),
        (33891, "6778.20", "338.91"),
        (7000, "1400.00", "70.00"),
        (8000, "1600.00", "80.00"),
        (10000, "2000.00", "100.00"),
        (15000, "3000.00", "150.00"),
    ],
)
def test_R_FB_1_guide_amounts(base, pension, unemployment):
    amounts = monthly_amounts(base, P2023)
    assert amounts == {"pension": D(pension), "unemployment": D(unemployment), "medical": D("553.56")}


def test_R_FB_1_base_6326_gives_1265_20_and_63_26():
    assert monthly_amount(6326, P2023, "pension") == D("1265.20")
    assert monthly_amount(6326, P2023, "unemployment") == D("63.26")


def test_R_FB_1_subsidized_pays_fixed_thirds():
    assert monthly_amounts(None, P2023, subsidized=True) == {
        "pension": D("421.73"),
        "unemployment": D("21.09"),
        "medical": D("184.52"),
    }


def test_R_FB_1_valid_bases():
    assert validate_base("7000", "7000", P2023) == 7000
    assert validate_base(" 6326 ", "6326", P2023) == 6326
    assert validate_base("33891", None, P2023) == 33891  # not enrolled in unemployment
    assert validate_base("７０００", "7000", P2023) == 7000


@pytest.mark.parametrize("text", ["6325", "33892", "7000.5", "七千", "-7000", "0"])
def test_R_FB_1_rejections_name_the_range(text):
    with pytest.raises(RuleViolation) as e:
        validate_base(text, text, P2023)
    assert str(e.value) == "缴费基数须为6326至33891之间的整数"


def test_R_FB_1_empty_base_is_refused():
    with pytest.raises(RuleViolation, match="请填写缴费基数"):
        validate_base("", "", P2023)


def test_R_FB_1_pension_and_unemployment_must_match():
    with pytest.raises(RuleViolation) as e:
        validate_base("7000", "8000", P2023)
    assert str(e.value) == "养老保险与失业保险缴费基数须一致"


def test_R_FB_1_amount_outside_the_range_is_a_programming_error():
    with pytest.raises(ValueError):
        monthly_amount(6000, P2023, "pension")


# --------------------------------------------------------------------------- R-FB-2


def test_R_FB_2_subsidized_persons_do_not_declare():
    assert declaration_needed(False) and not declaration_needed(True)
    with pytest.raises(RuleViolation, match="无需申报缴费基数"):
        validate_base("7000", "7000", P2023, subsidized=True)
    state = base_change_window(date(2026, 6, 20), None, False, subsidized=True)
    assert not state.can_change and "无需申报缴费基数" in state.message_zh


# --------------------------------------------------------------------------- R-FB-3


@pytest.mark.parametrize(
    ("today", "can"),
    [
        (date(2026, 6, 13), False),
        (date(2026, 6, 14), True),
        (date(2026, 7, 25), True),
        (date(2026, 7, 26), False),
    ],
)
def test_R_FB_3_annual_window(today, can):
    state = base_change_window(today, date(2019, 5, 1), True)
    assert state.can_change is can
    if can:
        assert state.reason == "annual" and state.target_year == 2026
        assert "2026年6月14日至7月25日" in state.message_zh


def test_R_FB_3_before_the_window_says_when():
    state = base_change_window(date(2026, 6, 13), date(2019, 5, 1), True)
    assert (state.next_opens, state.next_closes) == (date(2026, 6, 14), date(2026, 7, 25))
    assert "缴费基数可于2026年6月14日至7月25日窗口期内申报下一缴费年度基数" in state.message_zh


def test_R_FB_3_after_the_window_points_to_next_year():
    state = base_change_window(date(2026, 7, 26), date(2019, 5, 1), True)
    assert not state.can_change and state.next_reason == "annual"
    assert "缴费基数可于2027年6月14日至7月25日窗口期内申报下一缴费年度基数" in state.message_zh
    assert state.approximate and "以通知为准" in state.message_zh


def test_R_FB_3_the_2023_window_is_exact():
    state = base_change_window(date(2023, 7, 1), None, False)
    assert state.can_change and not state.approximate and state.target_year == 2023


@pytest.mark.parametrize(
    ("today", "can"),
    [
        (date(2026, 4, 9), False),
        (date(2026, 4, 10), True),
        (date(2026, 4, 25), True),
        (date(2026, 4, 26), False),
        (date(2026, 3, 20), False),
    ],
)
def test_R_FB_3_new_enrollee_declares_once_the_month_after_enrolment(today, can):
    state = base_change_window(today, date(2026, 3, 5), False)
    assert state.can_change is can
    if can:
        assert state.reason == "new_enrollee" and state.target_year == 2025
        assert (state.opens, state.closes) == (date(2026, 4, 10), date(2026, 4, 25))


def test_R_FB_3_new_enrollee_before_the_window_is_told_the_dates():
    state = base_change_window(date(2026, 4, 9), date(2026, 3, 5), False)
    assert state.next_reason == "new_enrollee"
    assert state.message_zh == "新参保人员可于2026年4月10日至4月25日申报一次缴费基数"


def test_R_FB_3_new_enrollee_only_once():
    state = base_change_window(date(2026, 4, 20), date(2026, 3, 5), True)
    assert not state.can_change and state.next_reason == "annual" and state.next_opens == date(2026, 6, 14)


def test_R_FB_3_region_without_window_data_says_so():
    import dataclasses

    from webapp.domain.policy import PolicyTable

    t = PolicyTable.load()
    table = dataclasses.replace(t, windows=tuple(w for w in t.windows if w.region != "qingdao"))
    state = base_change_window(date(2026, 6, 20), None, False, region="qingdao", table=table)
    assert not state.can_change and "暂无青岛市缴费基数申报窗口期信息" in state.message_zh


def test_R_FB_3_qingdao_base_may_be_chosen_at_any_time():
    """Seed 002 §二 缴费基数选择: no window; a base within 3980–19899 may be chosen any day."""
    for day in (date(2026, 2, 3), date(2026, 9, 30), date(2026, 12, 31)):
        state = base_change_window(day, date(2020, 1, 1), True, region="qingdao")
        assert state.can_change and state.target_year == 2026 and "随时" in state.message_zh
        assert "一经确定" not in state.message_zh


def test_R_FB_7_no_fixed_once_wording_for_someone_who_never_declared():
    state = base_change_window(date(2026, 11, 20), date(2025, 3, 5), False)
    assert not state.can_change and "一经确定" not in state.message_zh and "窗口期" in state.message_zh
    declared = base_change_window(date(2026, 11, 20), date(2025, 3, 5), True)
    assert "一经确定" in declared.message_zh


# --------------------------------------------------------------------------- R-FB-4


def test_R_FB_4_carry_over_raised_to_the_new_minimum():
    p2024 = flex_policy("beijing", date(2024, 7, 1))
    assert carry_over_base(6326, p2024) == 6821
    assert carry_over_base(10000, p2024) == 10000


def test_R_FB_4_declared_base_below_a_risen_minimum_becomes_the_minimum():
    p2025 = flex_policy("beijing", date(2025, 7, 1))
    assert effective_base(7000, p2025) == 7162


def test_R_FB_4_base_above_a_fallen_maximum_is_capped():
    assert effective_base(40000, P2023) == 33891


# --------------------------------------------------------------------------- R-FB-5


def test_R_FB_5_reform_table_examples():
    assert retirement_date(date(1964, 12, 15), "M") == date(2024, 12, 15)  # before the reform: 60
    assert retirement_date(date(1965, 1, 15), "M") == date(2025, 2, 15)  # 60 years 1 month
    assert retirement_date(date(1965, 5, 1), "M") == date(2025, 7, 1)  # 60 years 2 months
    assert retirement_date(date(1980, 1, 1), "M") == date(2043, 1, 1)  # 63
    assert retirement_date(date(1970, 1, 10), "F") == date(2025, 2, 10)  # 55 years 1 month
    assert retirement_date(date(1985, 6, 1), "F") == date(2043, 6, 1)  # 58
    assert retirement_date(date(1975, 3, 1), "F", female_original_age=50) == date(2025, 5, 1)  # 50y2m
    assert retirement_date(date(1990, 3, 1), "女", female_original_age=50) == date(2045, 3, 1)  # 55


def test_R_FB_5_medical_is_always_monthly():
    assert allowed_cycles(date(1990, 1, 1), "M", date(2026, 6, 20), insurance="medical") == ("monthly",)


def test_R_FB_5_far_from_retirement_any_cycle():
    assert allowed_cycles(date(1990, 1, 1), "M", date(2026, 6, 20)) == CYCLES


def test_R_FB_5_within_12_months_of_retirement_only_monthly():
    # Born 1966-05-15, male: 60 years 5 months → retires 2026-10-15.
    assert retirement_date(date(1966, 5, 15), "M") == date(2026, 10, 15)
    assert allowed_cycles(date(1966, 5, 15), "M", date(2025, 10, 15)) == CYCLES  # exactly 12 months left
    assert allowed_cycles(date(1966, 5, 15), "M", date(2025, 10, 16)) == ("monthly",)
    with pytest.raises(RuleViolation, match="距法定退休年龄不足12个月的，缴费周期应为按月缴费"):
        validate_cycle("yearly", date(1966, 5, 15), "M", date(2026, 6, 20))
    assert validate_cycle("monthly", date(1966, 5, 15), "M", date(2026, 6, 20)) == "monthly"


# --------------------------------------------------------------------------- R-FB-6


def _table_with_2026():
    return PolicyTable.load().with_flex(
        {
            "region": "beijing",
            "contribution_year": "2026",
            "base_min": "7600",
            "base_max": "36500",
            "pension_rate": "0.20",
            "unemployment_rate": "0.01",
            "medical_rate": "0.07",
            "derived": "medical_monthly;subsidized_pension;subsidized_unemployment;subsidized_medical",
            "source": "test row",
        }
    )


def test_R_FB_6_provisional_year_uses_last_years_numbers():
    p = flex_policy("beijing", date(2026, 8, 1))
    assert p.provisional and p.applied_year == 2025
    assert monthly_amounts(7500, p) == {"pension": D("1500.00"), "unemployment": D("75.00"), "medical": D("584.92")}


def test_R_FB_6_topup_once_the_2026_row_arrives():
    provisional = flex_policy("beijing", date(2026, 8, 1))
    final = _table_with_2026().flex_policy("beijing", date(2026, 8, 1))
    assert not final.provisional
    paid = []
    for m in (Month(2026, 6), Month(2026, 7), Month(2026, 8), Month(2026, 9)):
        for ins, amount in monthly_amounts(7500, provisional).items():
            paid.append(PaidItem(m, ins, amount, 7500 if ins != "medical" else None, provisional=m >= Month(2026, 7)))
    items = topup_items(paid, final)
    assert [(str(t.fee_period), t.insurance, t.difference) for t in items] == [
        (str(m), ins, diff)
        for m in ("2026-07", "2026-08", "2026-09")
        for ins, diff in (("pension", D("20.00")), ("unemployment", D("1.00")), ("medical", D("11.27")))
    ]
    assert items[0].base == 7600 and items[0].due == D("1520.00")


def test_R_FB_6_topup_amount_and_no_topup_when_base_already_above():
    final = _table_with_2026().flex_policy("beijing", date(2026, 8, 1))
    assert topup_amount(D("1500.00"), final, 7500, "pension") == D("20.00")
    assert topup_amount(D("1800.00"), final, 9000, "pension") == D("0.00")
    assert topup_items([PaidItem(Month(2026, 7), "pension", D("1800.00"), 9000)], final) == []
    assert topup_amount(D("477.47"), final, None, "pension", subsidized=True) == D("29.20")


def test_R_FB_6_topup_needs_the_real_row():
    with pytest.raises(ValueError):
        topup_amount(D("1500.00"), flex_policy("beijing", date(2026, 8, 1)), 7500, "pension")


# --------------------------------------------------------------------------- R-FP-1


def test_R_FP_1_rolling_window():
    today = date(2026, 11, 23)
    assert current_period(today) == Month(2026, 10)
    assert overdue_periods(today) == (Month(2026, 9), Month(2026, 8))
    assert window_periods(date(2027, 1, 5)) == (Month(2026, 12), Month(2026, 11), Month(2026, 10))
    assert classify(Month(2026, 10), today) == "current"
    assert classify(date(2026, 8, 1), today) == "overdue"
    assert classify(Month(2026, 7), today) is None
    assert classify(Month(2026, 11), today) is None


# --------------------------------------------------------------------------- R-FP-2


def _normal():
    items, n = [], 0
    for ins, amount in (("pension", D("1400.00")), ("unemployment", D("70.00")), ("medical", D("553.56"))):
        for m, kind in ((Month(2026, 10), "current"), (Month(2026, 9), "overdue"), (Month(2026, 8), "overdue")):
            n += 1
            items.append(FlexReceivable(n, ins, m, amount, kind))
    return items  # ids: pension 1-3, unemployment 4-6, medical 7-9


def test_R_FP_2_pension_alone_may_be_paid():
    assert [r.id for r in validate_normal_selection([1], _normal())] == [1]
    assert [r.id for r in validate_normal_selection([2, 5], _normal())] == [2, 5]


def test_R_FP_2_medical_with_all_its_past_periods():
    assert {r.id for r in validate_normal_selection([7, 8, 9, 1], _normal())} == {1, 7, 8, 9}


@pytest.mark.parametrize("ids", [[7], [7, 8], [8, 9], [1, 7]])
def test_R_FP_2_medical_current_without_its_past_is_refused(ids):
    with pytest.raises(RuleViolation) as e:
        validate_normal_selection(ids, _normal())
    assert str(e.value) == MSG_MEDICAL_TOGETHER == "职工基本医疗保险的本期应缴费与往期未缴费须一次性全部缴纳"


def test_R_FP_2_empty_selection_is_refused():
    with pytest.raises(RuleViolation) as e:
        validate_normal_selection([], _normal())
    assert str(e.value) == MSG_EMPTY_SELECTION == "请选择需要缴费的信息"


def test_R_FP_2_unknown_or_special_items_are_refused():
    with pytest.raises(RuleViolation, match="刷新"):
        validate_normal_selection([99], _normal())
    special = [*_normal(), FlexReceivable(50, "pension", Month(2023, 11), D("110.00"), "policy_backpay", "N1")]
    with pytest.raises(RuleViolation, match="特殊核定缴费"):
        validate_normal_selection([50], special)


# --------------------------------------------------------------------------- R-FP-3


def _special():
    return [
        FlexReceivable(11, "pension", Month(2023, 11), D("110.00"), "policy_backpay", "20231212045824"),
        FlexReceivable(12, "unemployment", Month(2023, 11), D("210.00"), "policy_backpay", "20231212045824"),
        FlexReceivable(13, "medical", Month(2023, 11), D("310.00"), "policy_backpay", "20231212045824"),
        FlexReceivable(14, "pension", Month(2022, 3), D("900.00"), "missed_enrolment", "20240101000001"),
    ]


def test_R_FP_3_half_of_a_notice_is_refused():
    with pytest.raises(RuleViolation) as e:
        validate_special_selection([11, 12], _special())
    assert str(e.value).startswith(MSG_NOTICE_TOGETHER)
    assert "20231212045824" in str(e.value)


def test_R_FP_3_whole_notices_are_accepted():
    assert {r.id for r in validate_special_selection([11, 12, 13], _special())} == {11, 12, 13}
    assert [r.id for r in validate_special_selection([14], _special())] == [14]


def test_R_FP_3_empty_and_normal_items_are_refused():
    with pytest.raises(RuleViolation, match=MSG_EMPTY_SELECTION):
        validate_special_selection([], _special())
    with pytest.raises(RuleViolation, match="正常申报缴费"):
        validate_special_selection([1], [*_special(), *_normal()])


# --------------------------------------------------------------------------- R-FP-4


def test_R_FP_4_outside_the_10th_to_25th_is_closed_with_the_next_opening():
    state = can_pay_now(datetime(2026, 11, 26, 10, tzinfo=BEIJING), has_batch_agreement=False)
    assert not state.open and state.reason == "closed"
    assert state.message_zh == "自助缴费时间为每月10日至25日，下次开放时间：2026年12月10日"
    assert state.next_opening == datetime(2026, 12, 10, tzinfo=BEIJING)


def test_R_FP_4_open_days():
    assert can_pay_now(datetime(2026, 11, 25, 23, 59), False).open
    assert not can_pay_now(datetime(2026, 11, 26, 0, 0), False).open
    assert not can_pay_now(datetime(2026, 11, 9, 23, 59), False).open
    assert can_pay_now(datetime(2026, 11, 10, 0, 0), False).open


def test_R_FP_4_batch_day_inside_the_self_service_period_blocks_agreement_payers():
    """2025-11-08 is a Saturday: the batch runs Monday the 10th, the first self-service day."""
    at = datetime(2025, 11, 10, 9, 0, tzinfo=BEIJING)
    state = can_pay_now(at, has_batch_agreement=True)
    assert not state.open and state.reason == "batch_day"
    assert state.message_zh.startswith(MSG_BATCH_DAY)
    assert "2025年11月11日" in state.message_zh
    assert can_pay_now(at, has_batch_agreement=False).open
    assert can_pay_now(datetime(2025, 11, 11, 0, 0, tzinfo=BEIJING), has_batch_agreement=True).open


def test_R_FP_4_batch_day_before_the_10th_is_just_closed():
    state = can_pay_now(datetime(2025, 10, 9, 12, 0), has_batch_agreement=True)
    assert not state.open and state.reason == "closed"


# --------------------------------------------------------------------------- R-FP-5


def test_R_FP_5_batch_takes_medical_together_and_pension_unemployment_current_only():
    plan = batch_debit_items(_normal(), D("5000.00"))
    assert sorted(r.id for r in plan.debited) == [1, 4, 7, 8, 9]
    assert sorted(r.id for r in plan.not_included) == [2, 3, 5, 6]
    assert plan.total == D("3130.68") and plan.remaining_balance == D("1869.32")


def test_R_FP_5_medical_fails_whole_when_the_balance_is_short():
    plan = batch_debit_items(_normal(), D("1600.00"))
    assert sorted(r.id for r in plan.debited) == [1, 4]
    assert sorted(r.id for r, _ in plan.failed) == [7, 8, 9]
    assert all("余额不足" in reason for _, reason in plan.failed)
    assert plan.remaining_balance == D("130.00")


def test_R_FP_5_after_medical_the_rest_goes_as_far_as_the_balance():
    plan = batch_debit_items(_normal(), D("1700.00"))
    assert sorted(r.id for r in plan.debited) == [7, 8, 9]
    assert sorted(r.id for r, _ in plan.failed) == [1, 4]


# --------------------------------------------------------------------------- R-FP-7


def test_R_FP_7_two_unpaid_months_warn_with_next_months_deadline():
    msg = lapse_warning([Month(2026, 9), Month(2026, 10)], date(2026, 11, 15))
    assert msg == "职工基本医疗保险已连续2个月未缴费，如2026年12月25日前仍未缴纳将断缴，断缴后需重新办理参保登记"


def test_R_FP_7_three_unpaid_months_warn_with_this_months_deadline():
    msg = lapse_warning([Month(2026, 8), Month(2026, 9), Month(2026, 10)], date(2026, 11, 15))
    assert msg is not None and "已连续3个月未缴费，如2026年11月25日前仍未缴纳将断缴" in msg


def test_R_FP_7_lapsed_once_the_oldest_leaves_the_window():
    unpaid = [Month(2026, 8), Month(2026, 9), Month(2026, 10)]
    assert "将按断缴处理" in lapse_warning(unpaid, date(2026, 11, 26))
    assert "将按断缴处理" in lapse_warning([Month(2026, 7), *unpaid], date(2026, 11, 15))


def test_R_FP_7_no_warning_for_one_month_or_none():
    assert lapse_warning([Month(2026, 10)], date(2026, 11, 15)) is None
    assert lapse_warning([], date(2026, 11, 15)) is None
    assert lapse_warning([Month(2026, 9)], date(2026, 11, 15)) is None


# --------------------------------------------------------------------------- policy gaps reach the rules


def test_qingdao_amounts_say_plainly_what_is_unknown():
    p = flex_policy("qingdao", date(2026, 3, 1))
    assert validate_base("5000", None, p) == 5000
    with pytest.raises(NoPolicyError, match="青岛市"):
        monthly_amounts(5000, p)
