"""Rules the guides state differently, as docs/policy.md §9 reconciles them: seed 001 用户须知 2–4 (a
non-monthly payer pays by the period's last month; three unpaid months, or the period's last month, count as
自行中断缴费; a suspension refunds the paid months) against seed 000 Q24 (the first collection month, at the
window, by agreement payment) and Q26 (养老、失业保险实行累计制 … 均不作断缴处理)."""

from __future__ import annotations

from datetime import date

from tests.factories import at, make_flex_worker
from webapp.domain.calendar import Month
from webapp.domain.flexible import cycle_rules_zh, window_only_message

from ..conftest import text


def test_Q24_over_用户须知_2_the_first_collection_month_is_the_one_named_and_a_passed_one_says_so():
    assert "须于2026年8月（首个征期月）" in window_only_message(Month(2026, 7), "quarterly", 7, date(2026, 8, 10))
    late = window_only_message(Month(2026, 7), "quarterly", 7, date(2026, 10, 12))
    assert "应于2026年8月（首个征期月）缴纳，该月已过，请尽快到社保大厅税务窗口或办税服务厅" in late


def test_Q24_Q26_用户须知_4_the_cycle_choice_says_what_it_means():
    rules = cycle_rules_zh()
    assert "按季度于8月、11月、次年2月、次年5月" in rules and "按半年于8月、次年2月" in rules and "按年于8月" in rules
    assert "不参加银行批量扣款" in rules  # R-FB-8, docs/policy.md §2
    assert "累计制" in rules and "不作断缴处理" in rules and "人社部门退还" in rules


def test_Q26_pension_and_unemployment_left_unpaid_are_never_called_断缴(app, phone_user):
    """Three months of pension and unemployment unpaid, medical paid: no 断缴 warning (seed 001 用户须知 3 would
    call it 自行中断缴费; Q26, the tax bureau's later word on the same months, says it is not)."""
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        p = make_flex_worker(s, "累计制", unpaid={"pension": (-3, -2, -1), "unemployment": (-3, -2, -1)})
        s.commit()
    b = phone_user(p, "alipay")
    for path in ("/flex/pay/select", "/flex/due"):
        page = text(b.get(path))
        assert "断缴" not in page and "中断缴费" not in page, path


def test_R_FP_7_medical_unpaid_still_warns_断缴(app, phone_user):
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        p = make_flex_worker(s, "医疗未缴", unpaid={"medical": (-2, -1)})
        s.commit()
    assert "将断缴" in text(phone_user(p, "alipay").get("/flex/pay/select"))


def test_the_base_page_says_what_a_cycle_means_where_it_is_chosen(app, phone_user):
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        p = make_flex_worker(s, "选周期", base=None, enrolled_on=date(2026, 5, 20), today=date(2026, 6, 20))
        s.commit()
    app.extensions["clock"].set(at(date(2026, 6, 20)))
    page = text(phone_user(p, "alipay").get("/flex/base"))
    assert 'id="cycle-rules"' in page and "不作断缴处理" in page and "首个征期月" in page


# --------------------------------------------------------------------------- numbers without a source (§10)


def test_numbers_without_a_source_are_called_assumptions_on_the_pension_amount_page(phone_user, pension):
    """The grades every 1000 yuan and resident pension's batch day have no source: the page says so."""
    page = text(phone_user(pension["set"], "alipay").get("/rp/amount"))
    assert 'id="assumptions"' in page and "依据与说明" in page
    assert "2026年度缴费金额可在1000元至9000元之间选择；本页每1000元一档为本应用的假设" in page
    assert "城乡居民养老保险沿用该日为本应用的假设" in page and "2026年12月25日，该日期为本应用的假设" in page


def test_a_category_from_the_age_bands_is_said_to_be_inferred(app, phone_user):
    """R-RM-2: the bands are the app's (no source gives them); a category the bureau stored reads plainly."""
    from tests.factories import make_resident

    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        inferred = make_resident(s, "按龄推定", category=None, birth=date(1950, 1, 1))
        stored = make_resident(s, "医保核定", category="elderly", birth=date(1950, 2, 1))
        s.commit()
    page = text(phone_user(inferred).get(f"/rm/pay/select?insured={inferred.id}"))
    assert "老年人（按年龄推定，以医保部门核定为准）" in page and "¥460.00" in page
    page = text(phone_user(stored).get(f"/rm/pay/select?insured={stored.id}"))
    assert "<dd>老年人</dd>" in page
