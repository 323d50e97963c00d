"""Qingdao's pages (seed 002, R-QD-*): the entry by name + ID, 缴费 to 完成 through the shared checkout, 缴费记录,
缴费档次或基数选择 and 特殊缴费, and the bad input issue 19 lists."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.conftest import Browser, text
from tests.qd_factories import assess, bill_months, make_qd_worker, numbers_of
from tests.views.flows import latest_order
from webapp.domain.calendar import Month
from webapp.models import Declaration, QdBaseChoice, QdInsured, SettledPayment
from webapp.payments.sim import controls


@pytest.fixture
def qd(app: Flask) -> dict[str, object]:
    """qd-flex (owes this year's months), qd-no-base (nothing chosen), qd-arrears (earlier years' items)."""
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        flex = make_qd_worker(s, "张青")
        bill_months(s, flex, [Month(2026, 10), Month(2026, 11)], base=5000)
        no_base = make_qd_worker(s, "李岛")
        arrears = make_qd_worker(s, "王海")
        nos = numbers_of(s, arrears)
        assess(
            s, [(nos["pension"], "养老", "", "2024-05", "640.00"), (nos["medical"], "医疗", "", "2024-05", "300.00")]
        )
        s.commit()
    return {"flex": flex, "no_base": no_base, "arrears": arrears}


def one(app: Flask, stmt):  # type: ignore[no-untyped-def]
    """One value read in a short session of its own (a test's open session would hold SQLite's write lock)."""
    with app.extensions["db_sessionmaker"]() as s:
        return s.scalar(stmt)


def number_id(app: Flask, person, insurance: str) -> int:  # type: ignore[no-untyped-def]
    return one(app, select(QdInsured.id).where(QdInsured.person_id == person.id, QdInsured.insurance == insurance))


def enter(app: Flask, person, channel: str = "qd-wechat") -> Browser:  # type: ignore[no-untyped-def]
    b = Browser(app, "Mozilla/5.0 (iPhone) MicroMessenger/8.0.50" if channel in ("qd-wechat", "qd-city") else "")
    assert b.get(f"/qd?ch={channel}").status_code == 200
    r = b.post("/qd", {"name": person.name, "id_type": "resident_id", "id_number": person.id_number})
    assert r.status_code == 303, text(r)
    assert "/qd/modules" in r.location
    b.get(r.location)
    return b


def test_R_QD_1_a_qingdao_code_opens_the_qingdao_pages_in_the_handbooks_words(app: Flask) -> None:
    """R-QD-1: the hall with a Qingdao channel goes to Qingdao's entry; the page says the module and never 京通."""
    b = Browser(app)
    r = b.get("/?ch=qd-city")
    assert r.status_code == 302 and r.location.endswith("/qd")
    page = text(b.get("/qd"))
    assert "青岛税务社会保险缴费" in page and "微信“城市服务”" in page and "京通" not in page
    assert "请输入参保人的姓名、证件类型、证件号码" in page and "下一步" in page
    page = text(Browser(app).get("/qd"))  # no Qingdao code: the five entries
    assert all(w in page for w in ("“青岛税务”微信公众号", "支付宝“市民中心”", "税税通APP", "银联云闪付"))


def test_R_QD_2_entry_by_name_and_id_without_face_check_shows_masked_modules(app: Flask, qd) -> None:  # type: ignore[no-untyped-def]
    """R-QD-2: no face check; the modules 缴费, 缴费档次或基数选择, 特殊缴费; name and ID masked."""
    b = enter(app, qd["flex"])
    page = text(b.get("/qd/modules"))
    for w in ("缴费", "缴费档次或基数选择", "特殊缴费"):
        assert w in page
    assert qd["flex"].id_number not in page and qd["flex"].name not in page
    assert "人脸" not in page


def test_R_QD_2_a_name_that_is_not_the_ids_holder_and_an_id_not_enrolled_read_the_same(
    app: Flask, qd, stranger
) -> None:  # type: ignore[no-untyped-def]
    """R-QD-2: the register decides; a wrong name and an unenrolled ID get one message, typed values kept."""
    b = Browser(app)
    b.get("/qd?ch=qd-wechat")
    wrong = b.post("/qd", {"name": "张三丰", "id_type": "resident_id", "id_number": qd["flex"].id_number})
    unenrolled = b.post("/qd", {"name": stranger.name, "id_type": "resident_id", "id_number": stranger.id_number})
    assert wrong.status_code == unenrolled.status_code == 422
    assert "未查询到参保信息" in text(wrong) and "未查询到参保信息" in text(unenrolled)
    assert 'value="张三丰"' in text(wrong) and qd["flex"].id_number in text(wrong)
    assert b.get("/qd/modules").status_code == 302  # nothing found: nothing opened


def test_R_QD_2_bad_id_number_is_said_and_kept(app: Flask) -> None:
    b = Browser(app)
    b.get("/qd?ch=qd-alipay")
    r = b.post("/qd", {"name": "张青", "id_type": "resident_id", "id_number": "37020219850505001"})
    assert r.status_code == 422 and "37020219850505001" in text(r)


def test_R_QD_2_lookups_are_limited_per_id_from_any_address(app: Flask, qd) -> None:  # type: ignore[no-untyped-def]
    """R-QD-2: enumeration fails: wrong names for one ID from many addresses stop being judged."""
    app.config["RATELIMIT_QD_PER_ID"] = "3 per 10 minutes"
    statuses = []
    for i in range(5):
        b = Browser(app)
        b.get("/qd?ch=qd-wechat")
        statuses.append(
            b.post("/qd", {"name": f"猜{i}", "id_type": "resident_id", "id_number": qd["flex"].id_number}).status_code
        )
    assert statuses[:3] == [422, 422, 422] and statuses[3:] == [429, 429]


def test_R_QD_3_pay_walks_to_success_through_the_shared_checkout(app: Flask, qd, providers) -> None:  # type: ignore[no-untyped-def]
    """R-QD-3: 选择个人参保编号 (险种类型, 缴费基数), 立即缴费; 核对缴费金额, 立即缴费; 核对“订单金额”, 确定; cashier;
    缴费成功, 完成; 缴费记录 lists it (dates, insurance, amounts)."""
    b = enter(app, qd["flex"])
    page = text(b.get("/qd/pay"))
    assert "企业职工基本养老保险" in page and "缴费基数：5000" in page and "立即缴费" in page
    with app.extensions["db_sessionmaker"]() as s:
        numbers = numbers_of(s, qd["flex"])
    assert numbers["pension"] not in page and numbers["pension"][-4:] in page  # 个人参保编号 masked
    pension = number_id(app, qd["flex"], "pension")
    page = text(b.get(f"/qd/pay/{pension}"))
    assert "1,600.00" in page and "2026-10" in page and "2026-11" in page
    ids = re.findall(r'name="receivable_id" value="(\d+)"', page)
    r = b.post(f"/qd/pay/{pension}", {"receivable_id": ids})
    assert r.status_code == 303 and "/qd/order/" in r.location
    page = text(b.get(r.location))
    assert "订单金额" in page and "1,600.00" in page and "确定" in page
    r = b.post(r.location, {"method": "wechat"})
    assert r.status_code == 303
    assert "收银台" in text(b.follow(r))  # 第七步: 输入交易密码 at the provider's cashier
    order = latest_order(b)
    controls.pay(providers, "wechat", order)
    page = text(b.follow(b.get(f"/qd/return/wechat/{order}")))
    assert "缴费成功" in page and "完成" in page, page
    assert one(app, select(func.count()).select_from(SettledPayment)) == 2
    records = text(b.get("/qd/records"))
    assert "2026-11" in records and "800.00" in records and "企业职工基本养老保险" in records
    assert qd["flex"].id_number not in records


def test_R_QD_4_base_choice_in_range_queues_for_the_bureau_and_the_pay_page_says_no_bill_yet(
    app: Flask, qd, providers
) -> None:  # type: ignore[no-untyped-def]
    """R-QD-4: 选择个人参保编号, 确定, 输入缴费基数金额; then 缴费 or 退出; with no bill yet the page says so."""
    b = enter(app, qd["no_base"], "qd-alipay")
    page = text(b.get("/qd/pay"))
    assert "尚未选择缴费基数" in page
    pension = number_id(app, qd["no_base"], "pension")
    page = text(b.get(f"/qd/base/{pension}"))
    assert "缴费基数金额请在3980元-19899元之间选择" in page
    r = b.post(f"/qd/base/{pension}", {"base": "6000"})
    assert r.status_code == 200 and "基数确认成功" in text(r) and "缴费" in text(r) and "退出" in text(r)
    assert one(app, select(QdBaseChoice.state).where(QdBaseChoice.qd_insured_id == pension)) == "queued"
    assert "待社保部门核定后生成应缴费信息" in text(b.get("/qd/pay"))
    # 退出 after 基数确认成功 ends the look-up, as on the modules page (the person must be entered again)
    assert 'action="/qd/leave"' in text(r)
    b.post("/qd/leave")
    assert b.get("/qd/pay").status_code in (302, 303)


@pytest.mark.parametrize("typed", ["3979", "19900", "abc", "", "6000.5", "-5000"])
def test_R_QD_4_a_base_outside_the_range_is_refused_kept_and_nothing_written(app: Flask, qd, typed: str) -> None:  # type: ignore[no-untyped-def]
    b = enter(app, qd["no_base"])
    pension = number_id(app, qd["no_base"], "pension")
    r = b.post(f"/qd/base/{pension}", {"base": typed})
    assert r.status_code == 422
    assert f'value="{typed}"' in text(r)
    assert "缴费基数" in text(r)
    assert one(app, select(func.count()).select_from(QdBaseChoice)) == 0


def test_R_QD_6_special_payment_lists_earlier_years_without_base_and_pays(app: Flask, qd, providers) -> None:  # type: ignore[no-untyped-def]
    """R-QD-6: 特殊缴费: 选择个人参保编号, 核对“险种类型”, 立即缴费, 缴费金额, 立即缴费, 完成."""
    b = enter(app, qd["arrears"], "qd-unionpay")
    page = text(b.get("/qd/special"))
    assert "职工基本医疗保险" in page and "缴费基数" not in page
    medical = number_id(app, qd["arrears"], "medical")
    page = text(b.get(f"/qd/special/{medical}"))
    assert "300.00" in page and "2024-05" in page
    ids = re.findall(r'name="receivable_id" value="(\d+)"', page)
    r = b.post(f"/qd/special/{medical}", {"receivable_id": ids})
    assert r.status_code == 303
    assert one(app, select(Declaration.kind).order_by(Declaration.id.desc())) == "special"
    assert one(app, select(Declaration.channel).order_by(Declaration.id.desc())) == "qd-unionpay"
    r = b.post(r.location, {"method": "unionpay"})
    assert "收银台" in text(b.follow(r))
    order = latest_order(b)
    controls.pay(providers, "unionpay", order)
    assert "缴费成功" in text(b.follow(b.get(f"/qd/return/unionpay/{order}")))


def test_R_QD_2_someone_elses_numbers_and_orders_are_not_found(app: Flask, qd, providers) -> None:  # type: ignore[no-untyped-def]
    b = enter(app, qd["no_base"])
    other = number_id(app, qd["flex"], "pension")
    assert b.get(f"/qd/pay/{other}").status_code == 404
    assert b.get(f"/qd/base/{other}").status_code == 404
    assert b.post(f"/qd/base/{other}", {"base": "5000"}).status_code == 404


def test_R_QD_2_shuishuitong_asks_for_its_real_name_login_first(app: Flask, qd) -> None:  # type: ignore[no-untyped-def]
    """R-QD-2: 税税通 (qd-sst) reuses the app's real-name login (face check) before the name + ID entry."""
    b = Browser(app)
    r = b.get("/qd?ch=qd-sst")
    assert r.status_code == 302 and r.location.startswith("/login?next=")
    b.login(qd["no_base"].name, qd["no_base"].id_number, "/qd")
    page = text(b.get("/qd"))
    assert "灵活就业、居民社保费缴纳" in page and "税税通APP" in page
    r = b.post("/qd", {"name": qd["flex"].name, "id_type": "resident_id", "id_number": qd["flex"].id_number})
    assert r.status_code == 303 and "/qd/modules" in r.location
    page = text(b.get("/qd/order/999999"))
    assert "404" in page or "不存在" in page or "找不到" in page


def test_R_QD_1_methods_follow_the_channel(app: Flask, qd) -> None:  # type: ignore[no-untyped-def]
    """R-QD-1: WeChat entries 微信支付, Alipay 支付宝, 云闪付 银联; 税税通 the three (docs/qingdao.md)."""
    from webapp.domain.channels import methods_for

    assert methods_for("qd-wechat", "qd") == methods_for("qd-city", "qd") == ["wechat"]
    assert methods_for("qd-alipay", "qd") == ["alipay"] and methods_for("qd-unionpay", "qd") == ["unionpay"]
    assert methods_for("qd-sst", "qd") == ["wechat", "alipay", "unionpay"]
    b = enter(app, qd["flex"], "qd-alipay")
    pension = number_id(app, qd["flex"], "pension")
    ids = re.findall(r'name="receivable_id" value="(\d+)"', text(b.get(f"/qd/pay/{pension}")))
    order_url = b.post(f"/qd/pay/{pension}", {"receivable_id": ids}).location
    page = text(b.get(order_url))
    assert "支付宝" in page and "微信支付" not in page
    r = b.post(order_url, {"method": "wechat"})  # not this channel's: refused, nothing started
    assert r.status_code == 422 and "请选择本渠道支持的支付方式" in text(r)


def test_R_QD_3_a_declared_order_can_be_cancelled_and_paid_again(app: Flask, qd) -> None:  # type: ignore[no-untyped-def]
    b = enter(app, qd["flex"])
    pension = number_id(app, qd["flex"], "pension")
    ids = re.findall(r'name="receivable_id" value="(\d+)"', text(b.get(f"/qd/pay/{pension}")))
    order_url = b.post(f"/qd/pay/{pension}", {"receivable_id": ids}).location
    assert "继续缴费" in text(b.get("/qd/pay"))
    again = b.post(f"/qd/pay/{pension}", {"receivable_id": ids})
    assert again.status_code == 422 and "已申报" in text(again)
    r = b.post(order_url, {"void": "1"})
    assert r.status_code == 303
    page = text(b.get(r.location))
    assert "作废" in page  # the flash says what happened (services.declarations.void's words)
    assert "立即缴费" in text(b.get("/qd/pay")) and "继续缴费" not in text(b.get("/qd/pay"))
    assert not re.search(r">[^<]*伪造的消息", text(b.get("/qd/pay?done=伪造的消息")))  # no text from a URL


def test_R_QD_2_shuishuitong_without_login_posting_the_form_goes_to_login(app: Flask, qd) -> None:  # type: ignore[no-untyped-def]
    b = Browser(app)
    b.get("/qd?ch=qd-wechat")
    b.get("/qd?ch=qd-sst")
    r = b.post("/qd", {"name": qd["flex"].name, "id_type": "resident_id", "id_number": qd["flex"].id_number})
    assert r.status_code == 303 and r.location.startswith("/login?next=")


def test_R_QD_8_money_taken_for_a_fee_that_settled_nothing_goes_back_and_the_records_say_so(
    app: Flask, qd, providers
) -> None:  # type: ignore[no-untyped-def]
    """如有已扣款缴费未成功的情况，费用将自动退款 (R-PA-5 everywhere): the provider took the money (its notification
    lost) for a declaration voided meanwhile; the reconcile job refunds it within one run and 缴费记录 says 已退款."""
    from datetime import timedelta

    from webapp import jobs
    from webapp.models import Receivable

    b = enter(app, qd["flex"], "qd-unionpay")
    pension = number_id(app, qd["flex"], "pension")
    ids = re.findall(r'name="receivable_id" value="(\d+)"', text(b.get(f"/qd/pay/{pension}")))
    order_url = b.post(f"/qd/pay/{pension}", {"receivable_id": ids}).location
    b.follow(b.post(order_url, {"method": "unionpay"}))
    order = latest_order(b)
    controls.set(providers, "unionpay", notify="drop")
    assert controls.pay(providers, "unionpay", order)
    with app.extensions["db_sessionmaker"]() as s:  # voided behind the app's back while the order was open
        decl = s.scalar(select(Declaration).order_by(Declaration.id.desc()))
        decl.status = "void"
        s.execute(
            Receivable.__table__.update()
            .where(Receivable.declaration_id == decl.id)
            .values(status="due", declaration_id=None)
        )
        s.commit()
    app.extensions["clock"].advance(timedelta(seconds=61))
    assert jobs.reconcile(app) == 1
    records = text(b.get("/qd/records"))
    assert "缴费未成功" in records and "已退款 2026-11-22" in records and "¥1,600.00" in records
    assert one(app, select(func.count()).select_from(SettledPayment)) == 0


def test_R_QD_2_a_finding_lasts_thirty_minutes_then_the_entry_asks_again(app: Flask, qd) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    b = enter(app, qd["flex"])
    interface = app.session_interface
    real_now = interface.now  # type: ignore[attr-defined]
    try:
        interface.now = lambda: real_now() + timedelta(minutes=31)  # type: ignore[attr-defined]
        r = b.get("/qd/pay")
        assert r.status_code == 302 and r.location.endswith("/qd?expired=1")
        assert "查询已过期" in text(b.get(r.location))
        r = b.get("/qd/pay", headers={"HX-Request": "true"})
        assert r.headers.get("HX-Redirect", "").endswith("/qd?expired=1")
    finally:
        interface.now = real_now  # type: ignore[attr-defined]


def test_R_QD_2_leaving_ends_the_finding(app: Flask, qd) -> None:  # type: ignore[no-untyped-def]
    b = enter(app, qd["flex"])
    assert b.post("/qd/leave").status_code == 303
    assert b.get("/qd/pay").status_code == 302


@pytest.mark.parametrize(
    "path",
    ["/qd/modules", "/qd/pay", "/qd/special", "/qd/base", "/qd/records", "/qd/pay/{pension}", "/qd/base/{pension}"],
)
def test_R_QD_3_qingdao_pages_stay_within_the_statement_budget(app: Flask, qd, path: str) -> None:  # type: ignore[no-untyped-def]
    """Issue 12's budget holds for Qingdao's pages: at most 4 SQL statements per GET."""
    from tests.views.test_query_budget import SERVICE_BUDGET, statements

    b = enter(app, qd["flex"])
    seen = statements(b, path.format(pension=number_id(app, qd["flex"], "pension")))
    assert len(seen) <= SERVICE_BUDGET, seen


def test_R_QD_1_shuishuitongs_login_never_says_jingtong(app: Flask) -> None:
    """R-QD-1: the pages say the channel's own names, never 京通 — the real-name login 税税通 reuses included."""
    b = Browser(app)
    b.get("/qd?ch=qd-sst")
    page = text(b.get("/login?next=/qd"))
    assert "税税通" in page and "京通" not in page
    assert "京通" in text(Browser(app).get("/login?ch=etax-web"))  # Beijing's as before


@pytest.mark.parametrize(
    ("channel", "says", "never"),
    [
        ("qd-sst", "我同意税税通使用", "京通"),
        ("qd-wechat", "我同意“青岛税务”微信公众号使用", "税税通"),
        ("qd-unionpay", "我同意银联云闪付使用", "税税通"),
    ],
)
def test_R_QD_1_the_login_consent_names_the_app_the_visit_came_from(
    app: Flask, channel: str, says: str, never: str
) -> None:
    """R-QD-1: real-name login (税税通's own, or 我的 in another Qingdao entry) names that entry's app in its
    consent, never another app's."""
    b = Browser(app)
    b.get(f"/qd?ch={channel}")
    page = text(b.get("/login"))
    assert says in page, page
    assert never not in page.split("weui-agree__text", 1)[1].split("</span>", 1)[0]
