"""银联云闪付's menus (seed 002 云闪付, R-QD-8): 社保（养老）自助缴费 and 医保（医疗）自助缴费 (this year: the base
set, changed and voided — 基数作废 — in the same page, 是否允许用于批扣), 社保（医保）费补缴 (earlier years: pension
or medical, then 缴费所属期), 缴费明细查询 in each, the auto-refund promise; the bad input issue 19 lists."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.conftest import Browser, text
from tests.qd_factories import assess, bill_months, make_qd_worker, numbers_of
from tests.views.flows import latest_order
from webapp.domain.calendar import Month
from webapp.models import AuditEvent, Declaration, QdBaseChoice, QdInsured
from webapp.payments.sim import controls

PROMISE = "如有已扣款缴费未成功的情况，费用将自动退款"


@pytest.fixture
def people(app: Flask) -> dict[str, object]:
    """张青 owes October and November at base 5000; 李岛 has no base; 王海 owes 2024 and 2025 items."""
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        flex = make_qd_worker(s, "张青")
        bill_months(s, flex, [Month(2026, 10), Month(2026, 11)], base=5000)
        no_base = make_qd_worker(s, "李岛")
        arrears = make_qd_worker(s, "王海")
        nos = numbers_of(s, arrears)
        assess(
            s,
            [
                (nos["pension"], "养老", "", "2024-05", "640.00"),
                (nos["medical"], "医疗", "", "2024-05", "300.00"),
                (nos["medical"], "医疗", "", "2025-03", "310.00"),
            ],
        )
        s.commit()
    return {"flex": flex, "no_base": no_base, "arrears": arrears}


def one(app: Flask, stmt):  # type: ignore[no-untyped-def]
    with app.extensions["db_sessionmaker"]() as s:
        return s.scalar(stmt)


def open_menu(app: Flask, person, menu: str, **extra: str) -> tuple[Browser, object]:  # type: ignore[no-untyped-def]
    """云闪付 → 城市服务 → 社保缴费 → a menu → 输入姓名、证件类型、证件号码，选择缴费所属期 → 下一步."""
    b = Browser(app, "Mozilla/5.0 (iPhone) (com.unionpay.chsp)")
    home = text(b.get("/qd/unionpay?ch=qd-unionpay"))
    assert all(w in home for w in ("社保（养老）自助缴费", "医保（医疗）自助缴费", "社保（医保）费补缴"))
    b.get(f"/qd/unionpay/{menu}")
    form = {"name": person.name, "id_type": "resident_id", "id_number": person.id_number, "year": "2026", **extra}
    r = b.post(f"/qd/unionpay/{menu}", form)
    if r.status_code == 303:
        b.get(r.location)  # the finding starts a new session: its page carries the new form token
    return b, r


def test_R_QD_8_home_shows_the_three_menus_and_the_refund_promise(app: Flask) -> None:
    """R-QD-8: 首页共有三个菜单; 缴费明细查询 in each; 如有已扣款缴费未成功的情况，费用将自动退款."""
    page = text(Browser(app).get("/qd/unionpay?ch=qd-unionpay"))
    for w in ("社保（养老）自助缴费", "医保（医疗）自助缴费", "社保（医保）费补缴", "缴费明细查询", PROMISE):
        assert w in page
    assert "京通" not in page


def test_R_QD_8_self_service_pension_pays_this_years_bills_to_success(app: Flask, people, providers) -> None:  # type: ignore[no-untyped-def]
    """R-QD-8: 社保（养老）自助缴费 → the base (5000) → 应缴费信息 → 确认缴费 → 订单金额 → 银联 → 缴费成功;
    缴费明细查询."""
    b, r = open_menu(app, people["flex"], "pension")
    assert r.status_code == 303 and r.location.endswith("/qd/unionpay/pension/pay"), text(r)
    page = text(b.get(r.location))
    assert "企业职工基本养老保险" in page and "5000" in page and "1,600.00" in page and "确认缴费" in page
    assert "基数作废" in page and "是否允许用于批扣" in page and PROMISE in page
    ids = re.findall(r'name="receivable_id" value="(\d+)"', page)
    r = b.post("/qd/unionpay/pension/pay", {"action": "pay", "receivable_id": ids})
    assert r.status_code == 303 and "/qd/order/" in r.location
    assert one(app, select(Declaration.channel).order_by(Declaration.id.desc())) == "qd-unionpay"
    back = text(b.get("/qd/unionpay/pension/pay"))  # back to the menu before paying: the order is offered again
    assert "继续缴费" in back and f'href="{r.location}"' in back and "暂无需缴费" not in back, back
    page = text(b.get(r.location))
    assert "订单金额" in page and "1,600.00" in page and "银联" in page
    assert "收银台" in text(b.follow(b.post(r.location, {"method": "unionpay"})))
    order = latest_order(b)
    controls.pay(providers, "unionpay", order)
    done = text(b.follow(b.get(f"/qd/return/unionpay/{order}")))
    assert "缴费成功" in done
    assert 'href="/qd/unionpay">完成' in done  # back to 云闪付's own menus, not the public accounts' modules
    records = text(b.get("/qd/unionpay/pension/records"))
    assert "2026-10" in records and "800.00" in records and PROMISE in records
    assert "350.00" not in records  # the pension menu's details: pension only
    assert people["flex"].id_number not in records


def test_R_QD_8_base_set_changed_and_voided_in_the_same_page_with_batch_debit(app: Flask, people) -> None:  # type: ignore[no-untyped-def]
    """R-QD-8: 医保（医疗）自助缴费: 自助输入缴费基数 + 是否允许用于批扣; change it; 基数作废; choose again; audited."""
    b, r = open_menu(app, people["no_base"], "medical")
    assert r.status_code == 303
    page = text(b.get(r.location))
    assert "尚未设置缴费基数" in page and "基数作废" not in page
    medical = one(
        app, select(QdInsured.id).where(QdInsured.person_id == people["no_base"].id, QdInsured.insurance == "medical")
    )
    r = b.post("/qd/unionpay/medical/pay", {"action": "base", "base": "6000", "batch": "yes"})
    assert r.status_code == 200 and "缴费基数6000元已提交" in text(r) and "基数作废" in text(r)
    choice = select(QdBaseChoice.base, QdBaseChoice.batch_debit, QdBaseChoice.state)
    with app.extensions["db_sessionmaker"]() as s:
        assert s.execute(choice.where(QdBaseChoice.qd_insured_id == medical)).one() == (6000, True, "queued")
    assert "待社保部门核定后生成应缴费信息" in text(r)
    r = b.post("/qd/unionpay/medical/pay", {"action": "base", "base": "7000", "batch": "no"})  # 修改
    with app.extensions["db_sessionmaker"]() as s:
        assert s.execute(choice.where(QdBaseChoice.qd_insured_id == medical)).one() == (7000, False, "queued")
    r = b.post("/qd/unionpay/medical/pay", {"action": "void"})
    assert r.status_code == 200 and "缴费基数已作废，可重新选择缴费基数" in text(r)
    assert one(app, select(func.count()).select_from(QdBaseChoice)) == 0
    assert one(app, select(func.count()).select_from(AuditEvent).where(AuditEvent.kind == "qd.base_voided")) == 1
    r = b.post("/qd/unionpay/medical/pay", {"action": "base", "base": "5000", "batch": "no"})  # 重新选择
    assert r.status_code == 200 and one(app, select(QdBaseChoice.base)) == 5000


def test_R_QD_8_a_base_the_bureau_applied_cannot_be_voided(app: Flask, people) -> None:  # type: ignore[no-untyped-def]
    """R-QD-8 decision: once the 核定 file brought bills at the base it is the bureau's; 基数作废 says so."""
    with app.extensions["db_sessionmaker"]() as s:
        flex = people["flex"]
        medical = s.scalar(select(QdInsured).where(QdInsured.person_id == flex.id, QdInsured.insurance == "medical"))
        s.add(QdBaseChoice(qd_insured_id=medical.id, year=2026, base=5000, state="applied", channel="qd-wechat"))
        s.commit()
    b, r = open_menu(app, people["flex"], "medical")
    r = b.post("/qd/unionpay/medical/pay", {"action": "void"})
    assert r.status_code == 422 and "不能作废" in text(r)
    assert one(app, select(func.count()).select_from(QdBaseChoice)) == 1


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"base": "3979", "batch": "yes"}, "缴费基数金额请在3980元-19899元之间选择"),
        ({"base": "abc", "batch": "no"}, "缴费基数金额应为整数"),
        ({"base": "", "batch": "yes"}, "请输入缴费基数金额"),
        ({"base": "6000", "batch": ""}, "请选择缴费基数是否允许用于批扣"),
    ],
)
def test_R_QD_8_bad_base_input_is_said_kept_and_nothing_written(app: Flask, people, form, message) -> None:  # type: ignore[no-untyped-def]
    b, _ = open_menu(app, people["no_base"], "pension")
    r = b.post("/qd/unionpay/pension/pay", {"action": "base", **form})
    assert r.status_code == 422 and message in text(r)
    if form["base"]:
        assert f'value="{form["base"]}"' in text(r)
    assert one(app, select(func.count()).select_from(QdBaseChoice)) == 0


def test_R_QD_8_backpay_earlier_year_medical_then_period_then_pay(app: Flask, people, providers) -> None:  # type: ignore[no-untyped-def]
    """R-QD-8: 社保（医保）费补缴: 灵活就业人员基本医疗保险, 缴费所属期 2024 → 应缴费信息 (2024 only) → 确认支付
    → 银联."""
    b, r = open_menu(app, people["arrears"], "backpay", insurance="medical", year="2024")
    assert r.status_code == 303 and r.location.endswith("/qd/unionpay/backpay/medical/2024"), text(r)
    page = text(b.get(r.location))
    assert "灵活就业人员基本医疗保险" in page and "2024-05" in page and "300.00" in page
    assert "2025-03" not in page and "640.00" not in page
    ids = re.findall(r'name="receivable_id" value="(\d+)"', page)
    r = b.post("/qd/unionpay/backpay/medical/2024", {"receivable_id": ids})
    assert r.status_code == 303 and "/qd/order/" in r.location
    assert one(app, select(Declaration.kind).order_by(Declaration.id.desc())) == "special"
    assert "收银台" in text(b.follow(b.post(r.location, {"method": "unionpay"})))
    order = latest_order(b)
    controls.pay(providers, "unionpay", order)
    assert "缴费成功" in text(b.follow(b.get(f"/qd/return/unionpay/{order}")))
    records = text(b.get("/qd/unionpay/backpay/records"))
    assert "2024-05" in records and "（补缴）" in records and PROMISE in records


def test_R_QD_8_an_order_left_unpaid_is_offered_again_in_the_menu(app: Flask, people) -> None:  # type: ignore[no-untyped-def]
    """R-QD-8: 确认支付, then back to the menu without paying: the bills are held by that order, so the menu shows
    待支付 with 继续缴费 (not "无需补缴"), and only under the menu and year the bills belong to."""
    b, r = open_menu(app, people["arrears"], "backpay", insurance="medical", year="2024")
    ids = re.findall(r'name="receivable_id" value="(\d+)"', text(b.get(r.location)))
    r = b.post("/qd/unionpay/backpay/medical/2024", {"receivable_id": ids})
    assert r.status_code == 303 and "/qd/order/" in r.location
    page = text(b.get("/qd/unionpay/backpay/medical/2024"))
    assert "待支付" in page and "继续缴费" in page and f'href="{r.location}"' in page, page
    assert "无需补缴" not in page
    other = text(b.get("/qd/unionpay/backpay/medical/2025"))
    assert "继续缴费" not in other  # 2025's bills are not in that order


def test_R_QD_8_backpay_bad_input(app: Flask, people) -> None:  # type: ignore[no-untyped-def]
    """R-QD-8: no insurance chosen, this year as 补缴's period, a year with nothing owed, a wrong name: said, kept."""
    b, r = open_menu(app, people["arrears"], "backpay", year="2024")
    assert r.status_code == 422 and "请选择灵活就业人员基本医疗保险或灵活就业人员基本养老保险" in text(r)
    assert f'value="{people["arrears"].id_number}"' in text(r)
    r = b.post(
        "/qd/unionpay/backpay",
        {"name": "王海", "id_type": "resident_id", "id_number": people["arrears"].id_number, "year": "2026"},
    )
    assert r.status_code == 422 and "请选择缴费所属期" in text(r)
    b, r = open_menu(app, people["arrears"], "backpay", insurance="pension", year="2025")
    page = text(b.get(r.location))
    assert "该缴费所属期无需补缴的费用" in page
    b, r = open_menu(app, people["arrears"], "backpay", insurance="pension", year="2024", name="王湖")
    assert r.status_code == 422 and "未查询到参保信息" in text(r) and 'value="王湖"' in text(r)


def test_R_QD_8_pages_after_the_menu_need_the_finding(app: Flask) -> None:
    """R-QD-8: 自助缴费, 补缴 and 缴费明细查询 without the menu's name + ID go back to the menu's first step."""
    b = Browser(app)
    for url in ("/qd/unionpay/pension/pay", "/qd/unionpay/backpay/medical/2024", "/qd/unionpay/medical/records"):
        r = b.get(url)
        assert r.status_code == 302 and "/qd/unionpay/" in r.location
    assert b.get("/qd/unionpay/nope").status_code == 404


@pytest.mark.parametrize(
    ("who", "menu", "extra", "path"),
    [
        ("flex", "pension", {}, "/qd/unionpay/pension/pay"),
        ("flex", "medical", {}, "/qd/unionpay/medical/records"),
        ("arrears", "backpay", {"insurance": "medical", "year": "2024"}, "/qd/unionpay/backpay/medical/2024"),
    ],
)
def test_R_QD_8_pages_stay_within_the_statement_budget(app: Flask, people, who, menu, extra, path) -> None:  # type: ignore[no-untyped-def]
    """Issue 12's budget holds for 云闪付's pages: at most 4 SQL statements per GET."""
    from tests.views.test_query_budget import SERVICE_BUDGET, statements

    b, _ = open_menu(app, people[who], menu, **extra)
    seen = statements(b, path)
    assert len(seen) <= SERVICE_BUDGET, seen
