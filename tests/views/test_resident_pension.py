"""城乡居民养老: 缴费金额设置 and 作废, 城乡居民养老保险办理 (正常缴费 / 特殊缴费), 申报记录查询, 已缴费查询,
and the bureau's data from the command line (R-RP-1 … R-RP-4)."""

import re
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from webapp.domain.calendar import BEIJING
from webapp.models import Declaration, PaymentOrder, PensionAmount, Receivable, SettledPayment
from webapp.payments.sim import controls

from ..conftest import Browser, text
from .flows import order_state, start_order


def _count(app, model, *where):
    with app.extensions["db_sessionmaker"]() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def _year_receivable(app, person):
    with app.extensions["db_sessionmaker"]() as s:
        return s.scalar(select(Receivable).where(Receivable.natural_key == f"rp:{person.id}:rp_pension:2026"))


def _amounts(app, person):
    with app.extensions["db_sessionmaker"]() as s:
        return list(
            s.scalars(select(PensionAmount).where(PensionAmount.person_id == person.id).order_by(PensionAmount.id))
        )


def _ids(page: str) -> list[str]:
    return re.findall(r'name="receivable" value="(\d+)"', page)


@pytest.fixture
def as_payer(phone_user, pension):
    def login(role: str, channel: str = "alipay") -> Browser:
        return phone_user(pension[role], channel)

    return login


def _declare_year(b: Browser) -> str:
    """城乡居民养老保险办理 → 下一步 → the insurance ticked → 下一步 → 正常缴费 → 提交; the 选择支付方式 URL."""
    r = b.post("/rp/pay/insurance", {"insurance": "rp_pension"})
    assert r.status_code == 303, text(r)
    ids = _ids(text(b.get(r.location)))
    assert ids
    r = b.post("/rp/pay/select", {"tab": "normal", "insurance": "rp_pension", "receivable": ids})
    assert r.status_code == 303 and r.location.startswith("/pay/"), text(r)
    return r.location


# ----------------------------------------------------------------------------------------- R-RP-1 amount


def test_R_RP_1_setting_an_amount_creates_the_years_receivable_and_the_prompt_leads_back(as_payer, app, pension):
    b = as_payer("unset")
    page = text(b.get("/rp/amount"))
    assert "批量扣款缴费金额设置" in page and "<label" in page and "缴费金额" in page
    assert re.findall(r'<option value="(\d+)"', page) == [str(g) for g in range(1000, 9001, 1000)]
    r = b.post("/rp/amount", {"amount_rp_pension": "3000"})
    assert r.status_code == 303
    prompt = text(b.get(r.location))
    assert 'role="dialog"' in prompt and "缴费金额设置成功" in prompt and "¥3,000.00" in prompt
    assert re.search(r'href="/rp/pay"[^>]*>确定</a>', prompt)
    receivable = _year_receivable(app, pension["unset"])
    assert receivable.amount_fen == 300000 and receivable.status == "due"
    assert (receivable.fee_period_start, receivable.fee_period_end) == (date(2026, 1, 1), date(2026, 12, 1))
    [setting] = _amounts(app, pension["unset"])
    assert (setting.status, setting.valid_from, setting.valid_to) == ("active", date(2026, 11, 22), date(2026, 12, 31))
    assert setting.receivable_id == receivable.id
    page = text(b.get("/rp/pay/select"))
    assert "¥3,000.00" in page and 'href="/rp/amount"' in page  # 正常缴费 shows it, with the way to change it


def test_R_RP_1_a_new_amount_reprices_the_unpaid_receivable_and_keeps_the_history(as_payer, app, pension):
    b = as_payer("set")
    before = _year_receivable(app, pension["set"])
    b.get("/rp/amount")
    assert b.post("/rp/amount", {"amount_rp_pension": "5000"}).status_code == 303
    after = _year_receivable(app, pension["set"])
    assert after.id == before.id and after.amount_fen == 500000
    assert [(a.status, a.amount_fen) for a in _amounts(app, pension["set"])] == [
        ("replaced", 200000),
        ("active", 500000),
    ]


@pytest.mark.parametrize("typed", ["2500", "10000", "0", "500", "-1000", "abc", "1e9", "NaN", "2000.001"])
def test_R_RP_1_an_amount_not_among_the_years_grades_is_refused_and_nothing_changes(as_payer, app, pension, typed):
    b = as_payer("set")
    b.get("/rp/amount")
    r = b.post("/rp/amount", {"amount_rp_pension": typed})
    assert r.status_code == 422
    assert "缴费金额须为2026年度的缴费档次之一（1,000.00元至9,000.00元）" in text(r)
    assert _year_receivable(app, pension["set"]).amount_fen == 200000
    assert [a.status for a in _amounts(app, pension["set"])] == ["active"]


def test_R_RP_1_submitting_without_choosing_says_so(as_payer, app, pension):
    b = as_payer("unset")
    b.get("/rp/amount")
    r = b.post("/rp/amount", {"amount_rp_pension": ""})
    assert r.status_code == 422 and "请选择缴费金额" in text(r)
    r = b.post("/rp/amount", {})
    assert r.status_code == 422 and "请选择缴费金额" in text(r)
    assert _year_receivable(app, pension["unset"]) is None


def test_R_RP_1_no_amount_can_be_set_for_a_year_already_paid(as_payer, app, pension):
    b = as_payer("paid")
    page = text(b.get("/rp/amount"))
    assert "已缴费，不能再设置缴费金额" in page and 'name="amount_rp_pension"' not in page
    r = b.post("/rp/amount", {"amount_rp_pension": "9000"})
    assert r.status_code == 422 and "2026年度城乡居民基本养老保险已缴费，不能再设置缴费金额" in text(r)
    assert _year_receivable(app, pension["paid"]).amount_fen == 300000
    assert len(_amounts(app, pension["paid"])) == 1


def test_R_RP_1_a_declared_year_must_be_voided_before_its_amount_changes(as_payer, app, pension):
    b = as_payer("set")
    _declare_year(b)
    r = b.post("/rp/amount", {"amount_rp_pension": "4000"})
    assert r.status_code == 422 and "请先在申报记录查询中作废该申报" in text(r)
    assert _year_receivable(app, pension["set"]).amount_fen == 200000


def test_R_RP_1_a_year_without_a_policy_row_says_so_plainly(as_payer, app, pension):
    b = as_payer("set")
    app.extensions["clock"].set(datetime(2027, 3, 1, 10, 0, tzinfo=BEIJING))
    page = b.get("/rp/amount")
    assert page.status_code == 200 and "暂无北京市2027年度城乡居民养老保险缴费标准" in text(page)
    r = b.post("/rp/amount", {"amount_rp_pension": "2000"})
    assert r.status_code == 422 and "暂无北京市2027年度城乡居民养老保险缴费标准" in text(r)
    assert _count(app, PensionAmount, PensionAmount.year == 2027) == 0


def test_R_RP_1_voiding_asks_in_the_page_then_stops_batch_debits_for_the_validity_period(as_payer, app, pension):
    b = as_payer("set")
    page = text(b.get("/rp/amount/void"))
    [amount_id] = re.findall(r'name="amount_id" value="(\d+)"', page)
    assert "2026-11-22 至 2026-12-31" in page  # 缴费金额有效期起止
    r = b.post("/rp/amount/void", {"amount_id": amount_id})
    assert r.status_code == 200 and 'role="dialog"' in text(r) and "确定" in text(r) and "取消" in text(r)
    assert "confirm(" not in text(r) and "hx-confirm" not in text(r)
    assert [a.status for a in _amounts(app, pension["set"])] == ["active"]  # asking wrote nothing
    r = b.post("/rp/amount/void", {"amount_id": amount_id, "confirmed": "1"})
    assert r.status_code == 303
    page = text(b.get(r.location))
    assert "已作废" in page and "不再批量扣款" in page
    [voided] = _amounts(app, pension["set"])
    assert voided.status == "void" and voided.voided_at is not None
    assert (voided.valid_from, voided.valid_to) == (date(2026, 11, 22), date(2026, 12, 31))
    # The receivable stays: the payer may still pay the year themselves.
    assert _year_receivable(app, pension["set"]).status == "due"


def test_R_RP_1_voiding_twice_is_refused_on_the_same_screen(as_payer, app, pension):
    b = as_payer("set")
    amount_id = str(_amounts(app, pension["set"])[0].id)
    b.get("/rp/amount/void")
    assert b.post("/rp/amount/void", {"amount_id": amount_id, "confirmed": "1"}).status_code == 303
    events = _count(app, PensionAmount, PensionAmount.status == "void")
    for data in ({"amount_id": amount_id}, {"amount_id": amount_id, "confirmed": "1"}):
        r = b.post("/rp/amount/void", data)
        assert r.status_code == 422 and "该缴费金额已作废，无需重复作废" in text(r)
    assert _count(app, PensionAmount, PensionAmount.status == "void") == events


def test_R_RP_1_after_voiding_an_amount_can_be_set_again(as_payer, app, pension):
    b = as_payer("set")
    amount_id = str(_amounts(app, pension["set"])[0].id)
    b.get("/rp/amount/void")
    b.post("/rp/amount/void", {"amount_id": amount_id, "confirmed": "1"})
    assert b.post("/rp/amount", {"amount_rp_pension": "6000"}).status_code == 303
    assert [(a.status, a.amount_fen) for a in _amounts(app, pension["set"])] == [("void", 200000), ("active", 600000)]


def test_R_RP_1_someone_elses_amount_cannot_be_voided(as_payer, app, pension):
    theirs = str(_amounts(app, pension["special"])[0].id)
    b = as_payer("set")
    b.get("/rp/amount/void")
    assert b.post("/rp/amount/void", {"amount_id": theirs}).status_code == 404
    assert b.post("/rp/amount/void", {"amount_id": theirs, "confirmed": "1"}).status_code == 404
    for bad in ("", "x", "99999999999999999999", "²"):
        r = b.post("/rp/amount/void", {"amount_id": bad, "confirmed": "1"})
        assert r.status_code == 422 and "请选择需要作废的缴费金额" in text(r)
    assert _count(app, PensionAmount, PensionAmount.status == "void") == 0


def test_R_RP_1_a_paid_years_amount_is_not_voided(as_payer, app, pension):
    b = as_payer("paid")
    amount_id = str(_amounts(app, pension["paid"])[0].id)
    b.get("/rp/amount/void")
    r = b.post("/rp/amount/void", {"amount_id": amount_id, "confirmed": "1"})
    assert r.status_code == 422 and "2026年度已缴费，无需作废缴费金额" in text(r)


# ----------------------------------------------------------------------------------------- R-RP-2 办理


def test_R_RP_2_identity_then_insurance_data_with_its_detail(as_payer, pension):
    b = as_payer("set")
    page = text(b.get("/rp/pay"))
    assert "身份信息确认" in page and "马兰" in page and "只能为本人缴费" in page and "他人" not in page
    assert pension["set"].id_number not in page  # R-ID-3
    assert 'href="/rp/pay/insurance"' in page and "下一步" in page
    page = text(b.get("/rp/pay/insurance"))
    assert "城乡居民基本养老保险" in page and "明细数据" in page and "<details" in page
    assert "2026年度缴费金额：¥2,000.00" in page and "缴费金额有效期起止" in page
    r = b.post("/rp/pay/insurance", {})
    assert r.status_code == 422 and "请勾选需要缴费的参保险种" in text(r)
    r = b.post("/rp/pay/insurance", {"insurance": "rp_pension"})
    assert r.status_code == 303 and r.location == "/rp/pay/select?insurance=rp_pension"


def test_R_RP_2_normal_tab_shows_the_set_amount_and_submit_goes_to_the_channels_methods(as_payer, app, pension):
    """In the Alipay channel the methods are 协议支付 and 支付宝 (R-CH-1, R-RP-2)."""
    b = as_payer("set", "alipay")
    page = text(b.get("/rp/pay/select?insurance=rp_pension"))
    assert "正常缴费" in page and "特殊缴费" in page and "¥2,000.00" in page
    assert "2026-01 至 2026-12" in page and "批量扣款缴费金额设置" in page
    method_url = _declare_year(b)
    page = text(b.get(method_url))
    assert "城乡居民养老 · 选择支付方式" in page and "¥2,000.00" in page
    assert 'value="alipay"' in page and 'value="wechat"' not in page and 'value="agreement"' in page
    assert re.search(r'aria-current="step"><span>4</span>选择支付方式', page)
    assert 'href="/rp/declared"' in page and "申报记录查询" in page


def test_R_RP_2_R_PA_1_the_year_paid_with_alipay_settles_once(as_payer, app, providers, pension):
    b = as_payer("set", "alipay")
    no = start_order(b, _declare_year(b), "alipay")
    controls.pay(providers, "alipay", no)
    controls.deliver_pending(providers)
    assert order_state(app, no) == "paid"
    page = text(b.follow(b.get(f"/pay/return/alipay/{no}")))
    assert "缴费成功" in page and "¥2,000.00" in page
    assert 'href="/rp/pay"' in page and 'href="/rp/records"' in page and "已缴费查询" in page
    assert _year_receivable(app, pension["set"]).status == "paid"
    assert _count(app, SettledPayment) == 2  # this one and 杨梅's
    page = text(b.get("/rp/pay/select?insurance=rp_pension"))
    assert not _ids(page) and "2026年度城乡居民基本养老保险已缴费" in page


def test_R_RP_2_R_AG_7_in_alipay_协议支付_pays_the_year_from_the_chosen_agreement(as_payer, app, providers, pension):
    """协议支付 → the usable agreements → 确认缴费 → 缴费完成; the bank takes the set amount once (R-PA-1)."""
    from tests.factories import make_agreement

    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        agreement = make_agreement(s, pension["set"], providers, batch_debit=False, balance_fen=300000)
        s.commit()
    b = as_payer("set", "alipay")
    method_url = _declare_year(b)
    assert "协议支付" in text(b.get(method_url))
    page = text(b.post(method_url, {"method": "agreement"}))  # seed 003 §1.1: 确认缴费 → 系统带出可缴费的协议
    assert agreement.account_masked in page
    r = b.follow(b.post(method_url, {"method": "agreement", "agreement_id": str(agreement.id)}))
    assert "缴费成功" in text(r) and "¥2,000.00" in text(r)
    again = b.post(method_url, {"method": "agreement", "agreement_id": str(agreement.id)})
    assert again.status_code == 303 and "/pay/orders/" in again.location  # paid: the result, not a second debit
    assert len(controls.debits(providers)) == 1
    assert controls.account(providers, agreement.card_number)["balance_fen"] == 100000
    assert _year_receivable(app, pension["set"]).status == "paid"


def test_R_RP_2_without_a_set_amount_the_normal_tab_points_to_the_setting(as_payer):
    page = text(as_payer("unset").get("/rp/pay/select"))
    assert not _ids(page) and "您尚未设置2026年度城乡居民基本养老保险的缴费金额" in page
    assert 'href="/rp/amount"' in page


def test_R_RP_2_special_items_sharing_a_notice_number_are_paid_together(as_payer, app, pension):
    b = as_payer("special")
    page = text(b.get("/rp/pay/select?tab=special&insurance=rp_pension"))
    assert "20261015093021" in page and "20261015093055" in page and "必须一起缴费" in page
    assert "应参未参补缴" in page and "政策性补缴" in page and "2024-01 至 2024-12" in page
    with app.extensions["db_sessionmaker"]() as s:
        rows = s.execute(
            select(Receivable.id, Receivable.notice_no).where(
                Receivable.insured_id == pension["special"].id, Receivable.notice_no.is_not(None)
            )
        ).all()
    group = [str(i) for i, n in rows if n == "20261015093021"]
    before = _count(app, Declaration)
    r = b.post("/rp/pay/select", {"tab": "special", "insurance": "rp_pension", "receivable": group[:1]})
    assert r.status_code == 422 and "同一征集通知流水号的待缴信息必须一起缴费" in text(r)
    assert re.findall(r'name="receivable" value="(\d+)" checked', text(r)) == group[:1]  # what was ticked is kept
    assert _count(app, Declaration) == before
    r = b.post("/rp/pay/select", {"tab": "special", "insurance": "rp_pension", "receivable": group})
    assert r.status_code == 303
    page = text(b.get(r.location))
    assert "¥1,500.00" in page


def test_R_RP_2_the_live_total_is_summed_on_the_server(as_payer, app, pension):
    b = as_payer("special")
    ids = _ids(text(b.get("/rp/pay/select?tab=special")))
    frag = b.post(
        "/rp/pay/total", {"tab": "special", "receivable": ids[:1] + ["99999", "x"]}, headers={"HX-Request": "true"}
    )
    assert "<html" not in text(frag) and 'id="total"' in text(frag) and "¥1,000.00" in text(frag)


def test_R_RP_2_items_of_the_other_tab_or_of_someone_else_are_refused(as_payer, app, pension):
    b = as_payer("set")
    b.get("/rp/pay/select")
    theirs = _year_receivable(app, pension["special"]).id
    with app.extensions["db_sessionmaker"]() as s:
        special = s.scalar(
            select(Receivable.id).where(
                Receivable.insured_id == pension["special"].id, Receivable.notice_no.is_not(None)
            )
        )
    for tab, rid in (("normal", theirs), ("special", special), ("special", _year_receivable(app, pension["set"]).id)):
        r = b.post("/rp/pay/select", {"tab": tab, "receivable": [str(rid)]})
        assert r.status_code == 422 and "所选缴费信息有误" in text(r), (tab, rid)
    r = b.post("/rp/pay/select", {"tab": "normal"})
    assert r.status_code == 422 and "请选择需要缴费的信息" in text(r)


def test_R_RP_2_someone_not_enrolled_is_told_why(phone_user, stranger):
    b = phone_user(stranger, "alipay")
    page = text(b.get("/rp/pay"))
    assert "未查询到城乡居民养老保险参保信息" in page and "下一步" not in page
    assert b.get("/rp/pay/select").status_code == 302
    assert "未查询到城乡居民养老保险参保信息" in text(b.get("/rp/amount"))


def test_an_expired_session_mid_flow_keeps_the_choice_and_writes_nothing(as_payer, app, pension):
    b = as_payer("set")
    b.get("/rp/amount")
    with b.client.session_transaction() as sess:
        sess["login_expires"] = "2000-01-01T00:00:00+00:00"
    r = b.post("/rp/amount", {"amount_rp_pension": "7000"})
    assert r.status_code == 302 and r.location.startswith("/login?next=")
    assert "expired=1" in r.location and "amount_rp_pension" in r.location
    assert _year_receivable(app, pension["set"]).amount_fen == 200000
    login = text(b.get(r.location))
    assert "登录已过期" in login
    next_url = re.search(r'name="next" value="([^"]+)"', login).group(1).replace("&amp;", "&")
    b.login("马兰", pension["set"].id_number, next_url)
    page = text(b.get(next_url))
    assert re.search(r'<option value="7000"\s+selected', page)


def test_an_expired_session_on_submit_comes_back_with_the_ticked_items(as_payer, app, pension):
    b = as_payer("special")
    ids = _ids(text(b.get("/rp/pay/select?tab=special")))
    with b.client.session_transaction() as sess:
        sess["login_expires"] = "2000-01-01T00:00:00+00:00"
    r = b.post("/rp/pay/select", {"tab": "special", "insurance": "rp_pension", "receivable": ids[:2]})
    assert r.status_code == 302 and "expired=1" in r.location
    assert _count(app, Declaration, Declaration.payer_id == pension["special"].id) == 0
    next_url = re.search(r"next=([^&]+)", r.location).group(1)
    from urllib.parse import unquote

    b.login("朱红", pension["special"].id_number)
    page = text(b.get(unquote(next_url)))
    assert "特殊缴费" in page and re.findall(r'name="receivable" value="(\d+)" checked', page) == ids[:2]


# ----------------------------------------------------------------------------------------- R-RP-3 declarations


def test_R_RP_3_declaration_records_with_void_confirmed_in_the_page_and_paying_again(as_payer, app, pension):
    b = as_payer("set")
    method_url = _declare_year(b)
    decl_id = method_url.rsplit("/", 1)[1]
    page = text(b.get("/rp/declared"))
    assert "申报记录查询" in page and "申报成功" in page and "未缴费" in page and "¥2,000.00" in page
    assert f'href="/pay/{decl_id}">继续缴费</a>' in page
    link = re.search(r'href="(/rp/declared\?[^"]*void=\d+)"', page).group(1).replace("&amp;", "&")
    page = text(b.get(link))
    assert 'role="dialog"' in page and "确定作废" in page and "hx-confirm" not in page
    assert _count(app, Declaration, Declaration.status == "void") == 0  # asking wrote nothing
    back = re.search(r'name="next" value="([^"]+)"', page).group(1).replace("&amp;", "&")
    r = b.post(f"/pay/{decl_id}/void", {"next": back})
    assert r.status_code == 303 and r.location == back
    page = text(b.get(back))
    assert "已作废，可重新缴费" in page and "已作废" in page and ">继续缴费</a>" not in page
    assert _year_receivable(app, pension["set"]).status == "due"
    # … and the year can be declared and paid again.
    assert _declare_year(b) != method_url


def test_R_RP_3_only_a_successful_unpaid_declaration_offers_void_and_continue(as_payer, app, providers, pension):
    b = as_payer("set")
    method_url = _declare_year(b)
    no = start_order(b, method_url, "alipay")
    controls.pay(providers, "alipay", no)
    controls.deliver_pending(providers)
    page = text(b.get("/rp/declared"))
    assert "已缴费" in page and ">继续缴费</a>" not in page and "void=" not in page
    decl_id = method_url.rsplit("/", 1)[1]
    r = b.get(f"/rp/declared?void={decl_id}")
    assert r.status_code == 422 and "该申报已缴费，不能作废" in text(r) and 'role="dialog"' not in text(r)


def test_R_RP_3_an_agreement_debit_under_way_shows_as_processing(as_payer, app, pension):
    b = as_payer("set")
    decl_id = int(_declare_year(b).rsplit("/", 1)[1])
    with app.extensions["db_sessionmaker"]() as s:
        now = datetime(2026, 11, 22, 10, 0, tzinfo=BEIJING)
        s.add(
            PaymentOrder(
                out_trade_no="SBTESTAGREEMENT0001",
                declaration_id=decl_id,
                payer_id=pension["set"].id,
                provider="agreement",
                channel="window",
                amount_fen=200000,
                state="paying",
                created_at=now,
                expires_at=now,
                updated_at=now,
            )
        )
        s.commit()
    page = text(b.get("/rp/declared"))
    assert "申报处理中" in page and ">继续缴费</a>" not in page and "void=" not in page


def test_R_RP_3_someone_elses_declaration_is_not_found(as_payer, app, pension):
    other = as_payer("special")
    theirs = _declare_year(other).rsplit("/", 1)[1]
    b = as_payer("set")
    assert b.get(f"/rp/declared?void={theirs}").status_code == 404
    assert b.get("/rp/declared?void=abc").status_code == 404
    assert b.get(f"/pay/{theirs}").status_code == 404
    assert b.post(f"/pay/{theirs}/void", {"next": "/rp/declared"}).status_code == 404
    assert _count(app, Declaration, Declaration.status == "void") == 0


def test_R_RP_3_by_declaration_date_range(as_payer, app):
    b = as_payer("set")
    _declare_year(b)
    assert "申报成功" in text(b.get("/rp/declared?start=2026-11-01&end=2026-11-30"))
    assert "所选日期内没有申报记录" in text(b.get("/rp/declared?start=2026-10-01&end=2026-10-31"))
    r = b.get("/rp/declared?start=2026-12-01&end=2026-11-01")
    assert r.status_code == 422 and "起始日期不能晚于截止日期" in text(r)
    assert b.get("/rp/declared?start=x").status_code == 422


# ----------------------------------------------------------------------------------------- R-RP-4 records


def test_R_RP_4_paid_query_by_fee_period_for_oneself_with_the_record_columns_and_detail(as_payer):
    b = as_payer("paid")
    page = text(b.get("/rp/records?start=2026-01&end=2026-12"))
    assert "城乡居民养老 · 已缴费查询" in page and "查询对象" in page and "本人" in page and "杨梅" in page
    assert page.count('class="app-card"') == 1
    for column in ("应征凭证序号", "费款所属期", "缴费渠道", "办理日期", "缴费方式", "缴费金额", "缴费状态"):
        assert column in page
    assert "2026-01 至 2026-12" in page and "¥3,000.00" in page and "支付宝" in page
    link = re.search(r'href="(/rp/records/\d+)"', page).group(1)
    detail = text(b.get(link))
    for label in ("主管税务机关", "社保经办机构", "人员编号", "征收项目", "征收品目", "征收子目"):
        assert label in detail
    assert "城乡居民基本养老保险费" in detail and "城乡居民基本养老保险个人缴费" in detail
    assert "所选费款所属期内没有缴费记录" in text(b.get("/rp/records?start=2025-01&end=2025-12"))
    assert b.get("/rp/records?start=2026-13").status_code == 422


def test_R_RP_4_someone_elses_payment_is_not_found(as_payer, app, pension):
    with app.extensions["db_sessionmaker"]() as s:
        theirs = s.scalar(select(SettledPayment.id))
    assert as_payer("set").get(f"/rp/records/{theirs}").status_code == 404


# ----------------------------------------------------------------------------------------- CLI


def test_receivables_generate_rp_is_idempotent_and_says_who_waits(app, pension):
    runner = app.test_cli_runner()
    before = _count(app, Receivable)
    first = runner.invoke(args=["receivables", "generate-rp", "--year", "2026"])
    assert first.exit_code == 0, first.output
    assert "0 receivables created" in first.output and "1 payers waiting" in first.output  # 牛芳 set nothing
    assert _count(app, Receivable) == before
    bad = runner.invoke(args=["receivables", "generate-rp", "--year", "2027"])
    assert bad.exit_code != 0 and "暂无北京市2027年度城乡居民养老保险缴费标准" in bad.output


def test_import_special_rp_rejects_a_bad_file_by_line_and_loads_nothing(app, tmp_path, pension):
    number = pension["set"].id_number
    wrong_check_digit = number[:-1] + ("1" if number.endswith("0") else "0")
    header = "id_type,id_number,insurance,fee_period,amount,charge_type,notice_no\n"
    good = f"resident_id,{number},rp_pension,2023,1000.00,missed_enrolment,N2026RP1\n"
    bad = [
        f"resident_id,{number},rp_pension,2023-05,1000.00,missed_enrolment,N2026RP2\n",
        f"resident_id,{number},pension,2023,1000.00,missed_enrolment,N2026RP3\n",
        f"resident_id,{wrong_check_digit},rp_pension,2023,1000.00,other,N2026RP4\n",
        f"resident_id,{number},rp_pension,2023,-5,other,N2026RP5\n",
    ]
    path = tmp_path / "special.csv"
    path.write_text(header + good + "".join(bad), encoding="utf-8")
    before = _count(app, Receivable)
    result = app.test_cli_runner().invoke(args=["receivables", "import-special-rp", str(path)])
    assert result.exit_code != 0 and "未导入任何数据" in result.output
    for line in (3, 4, 5, 6):
        assert f"第{line}行" in result.output
    assert _count(app, Receivable) == before
    path.write_text(header + good, encoding="utf-8")
    for _ in range(2):  # idempotent
        result = app.test_cli_runner().invoke(args=["receivables", "import-special-rp", str(path)])
        assert result.exit_code == 0, result.output
    assert _count(app, Receivable) == before + 1
