"""缴费协议 and 协议支付 as the payer sees them (R-AG-1 … R-AG-8, R-CH-1)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from tests.factories import SI_AGENCY, TAX_OFFICE, at, make_agreement, make_resident
from webapp.domain import banks
from webapp.domain.channels import methods_for
from webapp.models import Agreement, Enrolment, SettledPayment
from webapp.payments.sim import controls
from webapp.services import agreements

from ..conftest import text
from .flows import declare_for

CARD = banks.card_number("ICBC", 8_800_001)  # a Luhn-valid 工商银行 card


def _count(app, model, *where):
    with app.extensions["db_sessionmaker"]() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def payer(app, providers):
    """赵丽, a resident owing her year, whose 工商银行 account holds 1,000.00."""
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        p = make_resident(s, "赵丽")
        s.commit()
    controls.open_account(providers, CARD, "ICBC", "赵丽", 100000, id_number=p.id_number)
    return p


def _form(**over):
    form = {
        "tax_office": TAX_OFFICE,
        "bank": "ICBC",
        "bank_region": "北京市西城区",
        "branch": "中国工商银行北京西单支行",
        "holder": "赵丽",
        "card_number": CARD,
        "batch_debit": "1",
    }
    return {**form, **over}


def test_R_AG_1_new_agreement_shows_the_payers_own_data_read_only(phone_user, payer):
    b = phone_user(payer, "alipay")
    page = text(b.get("/agreements/new"))
    assert "赵丽" in page and payer.id_number not in page and payer.id_number[:6] in page
    assert 'name="name"' not in page and 'name="id_number"' not in page  # nothing to change there
    assert "是否银行代扣" in page and ">下一步</button>" in page
    page = text(b.get("/agreements/new?step=2&batch_debit=1"))
    for label in ("税务机关", "社保经办机构", "开户银行", "银行行政区划", "银行网点", "持卡人姓名", "银行账号"):
        assert label in page
    assert "本系统只支持给本人签订扣款协议" in page and "次日" not in page


def test_R_AG_2_bank_region_and_branch_are_chosen_step_by_step(phone_user, payer):
    b = phone_user(payer, "alipay")
    frag = text(b.get("/agreements/new/options?bank=ICBC", headers={"HX-Request": "true"}))
    assert "<html" not in frag and "北京市西城区" in frag and "中国工商银行北京西单支行" not in frag
    frag = text(
        b.get(
            "/agreements/new/options?bank=ICBC&bank_region=北京市西城区&tax_office=" + TAX_OFFICE,
            headers={"HX-Request": "true"},
        )
    )
    assert "中国工商银行北京西单支行" in frag and SI_AGENCY in frag  # 税务机关 → 社保经办机构


def test_R_AG_2_R_AG_5_sign_then_the_list_shows_it_masked_and_in_effect_tomorrow(app, phone_user, payer):
    b = phone_user(payer, "alipay")
    b.get("/agreements/new")
    r = b.post("/agreements/new", _form())
    assert r.status_code == 200 and "协议签订成功" in text(r) and "次日生效" in text(r)
    page = text(b.get("/agreements"))
    for column in ("协议编号", "缴费人姓名", "税务机关", "开户银行", "银行账号", "是否银行代扣", "代扣险种"):
        assert column in page
    assert banks.mask_card(CARD) in page and CARD not in page  # R-ID-3
    # the guide's list: 签订成功 at once (seed 000 §4, seed 004); the day it takes effect beside it (R-AG-5)
    assert "签订成功" in page and "2026-11-23（次日生效）" in page
    app.extensions["clock"].advance(timedelta(days=1))
    assert "签订成功" in text(b.get("/agreements")) and "次日生效" not in text(b.get("/agreements"))


@pytest.mark.parametrize(
    "over, message",
    [
        ({"card_number": CARD[:-1] + str((int(CARD[-1]) + 1) % 10)}, "校验位不正确"),
        ({"card_number": "6222"}, "应为16至19位数字"),
        ({"card_number": "６２２２abc"}, "只能包含数字"),
        ({"holder": "王五"}, "签约失败：持卡人姓名须与缴费人姓名一致"),
        ({"branch": ""}, "请选择银行网点"),
        ({"bank_region": "北京市火星区"}, "请选择银行行政区划"),
        ({"tax_office": "国家税务总局上海市税务局"}, "请选择税务机关"),
    ],
)
def test_R_AG_2_R_AG_3_a_refused_form_says_why_keeps_what_was_typed_and_writes_nothing(
    app, phone_user, payer, over, message
):
    b = phone_user(payer, "alipay")
    b.get("/agreements/new")
    r = b.post("/agreements/new", _form(**over))
    assert r.status_code == 422 and message in text(r)
    assert 'value="赵丽"' in text(r) or over.get("holder") and f'value="{over["holder"]}"' in text(r)
    assert _count(app, Agreement) == 0


def test_R_AG_3_the_bank_refuses_an_account_in_another_name(app, providers, phone_user, payer):
    other = banks.card_number("ICBC", 8_800_002)
    controls.open_account(providers, other, "ICBC", "赵莉", 100000)  # a namesake's card, spelled otherwise
    b = phone_user(payer, "alipay")
    b.get("/agreements/new")
    r = b.post("/agreements/new", _form(card_number=other))
    assert r.status_code == 422 and "签约失败：持卡人姓名与账户不一致" in text(r) and _count(app, Agreement) == 0
    controls.set(providers, "bank", unavailable=True)
    r = b.post("/agreements/new", _form())
    assert r.status_code == 422 and "银行暂时无法受理签约" in text(r) and _count(app, Agreement) == 0


def _sign(app, b, **over):
    b.get("/agreements/new")
    assert b.post("/agreements/new", _form(**over)).status_code == 200
    with app.extensions["db_sessionmaker"]() as s:
        return s.scalar(select(Agreement.id).order_by(Agreement.id.desc()).limit(1))


def test_R_AG_6_revoking_asks_in_the_page_then_the_agreement_pays_nothing(app, phone_user, payer):
    b = phone_user(payer, "alipay")
    agreement_id = _sign(app, b)
    page = text(b.get(f"/agreements/{agreement_id}/revoke"))
    assert "确定撤销该协议吗" in page and ">确定</button>" in page and ">取消</a>" in page
    assert "confirm(" not in page  # an in-page confirmation, not the browser's
    page = text(b.follow(b.post(f"/agreements/{agreement_id}/revoke")))
    assert "撤销成功" in page and "已撤销" in page
    again = text(b.follow(b.post(f"/agreements/{agreement_id}/revoke")))
    assert "该协议已撤销" in again
    app.extensions["clock"].advance(timedelta(days=1))
    with app.extensions["db_sessionmaker"]() as s:
        assert agreements.usable(s, payer.id, TAX_OFFICE, app.extensions["clock"].today()) == []


def test_someone_elses_agreement_is_404(app, providers, phone_user, payer):
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        other = make_resident(s, "路人甲")
        theirs = make_agreement(s, other, providers)
        s.commit()
    b = phone_user(payer, "alipay")
    assert b.get(f"/agreements/{theirs.id}/revoke").status_code == 404
    assert b.post(f"/agreements/{theirs.id}/revoke").status_code == 404
    assert b.get("/agreements/99999999999999999999/revoke").status_code == 404


def test_R_CH_1_agreement_payment_is_offered_where_the_guides_show_it():
    """SPEC.md's table: seed 004 §1.9 (Alipay, flexible workers too), seed 003 (e-Tax app, residents), Q36
    (Baidu and the e-Tax app give flexible workers 微信/支付宝/银联 only)."""
    assert methods_for("alipay", "rm") == ["alipay", "agreement"]
    assert methods_for("alipay", "flex") == ["alipay", "agreement"]
    assert methods_for("baidu", "flex") == ["wechat", "alipay", "unionpay"]
    assert methods_for("etax-app", "rm")[-1] == methods_for("etax-app", "rp")[-1] == "agreement"
    assert methods_for("window", "flex") == ["agreement"]
    assert "agreement" not in methods_for("wechat", "rm") + methods_for("etax-app", "flex")


def test_R_AG_7_R_PA_1_pay_with_the_agreement_the_payer_chooses(app, providers, phone_user, payer):
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        first = make_agreement(s, s.merge(payer), providers, balance_fen=100000)
        second = make_agreement(s, s.merge(payer), providers, bank="CCB", balance_fen=500000)
        s.commit()
    b = phone_user(payer, "alipay")
    method_url = declare_for(b, payer.id)
    page = text(b.get(method_url))
    assert "协议支付" in page and "支付宝" in page and first.account_masked not in page
    # seed 003 §2.1: 选择协议支付时，点击【确认缴费】，带出提示语，点击【确定】，系统带出可缴费的协议
    page = text(b.post(method_url, {"method": "agreement"}))
    assert "协议支付将从您签订缴费协议的银行账户中直接扣缴" in page and ">确定</button>" in page
    page = text(b.post(method_url, {"method": "agreement", "prompted": "1"}))
    assert first.account_masked in page and second.account_masked in page and ">确认缴费</button>" in page
    r = b.post(method_url, {"method": "agreement", "agreement_id": ""})  # two agreements: the payer must choose
    assert r.status_code == 422 and "请选择一条可用的缴费协议" in text(r)
    r = b.follow(b.post(method_url, {"method": "agreement", "agreement_id": str(second.id)}))
    assert "缴费成功" in text(r) and "协议支付" in text(r)
    assert controls.account(providers, second.card_number)["balance_fen"] == 500000 - 79500
    assert controls.account(providers, first.card_number)["balance_fen"] == 100000
    again = b.post(method_url, {"method": "agreement", "agreement_id": str(second.id)})
    assert again.status_code == 303 and "/pay/orders/" in again.location  # paid: the result, not a second debit
    assert len(controls.debits(providers)) == 1 and _count(app, SettledPayment) == 1


def test_R_AG_7_a_short_balance_is_the_banks_reason_and_the_declaration_stays_payable(
    app, providers, phone_user, payer
):
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        a = make_agreement(s, s.merge(payer), providers, balance_fen=100)
        s.commit()
    b = phone_user(payer, "alipay")
    method_url = declare_for(b, payer.id)
    page = text(b.follow(b.post(method_url, {"method": "agreement", "agreement_id": str(a.id)})))
    assert "缴费未完成" in page and "余额不足" in page and "存足费款" in page and "重新选择支付方式" in page
    controls.set_balance(providers, a.card_number, 100000)
    page = text(b.follow(b.post(method_url, {"method": "agreement", "agreement_id": str(a.id)})))
    assert "缴费成功" in page


def test_R_AG_4_R_AG_5_an_agreement_of_another_office_or_not_yet_in_effect_is_not_offered(
    app, providers, phone_user, payer
):
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        elsewhere = make_agreement(s, s.merge(payer), providers, tax_office="国家税务总局北京市海淀区税务局")
        tomorrow = make_agreement(s, s.merge(payer), providers, effective_on=date(2026, 11, 23))
        s.commit()
    b = phone_user(payer, "alipay")
    method_url = declare_for(b, payer.id)
    page = text(b.post(method_url, {"method": "agreement", "prompted": "1"}))  # the agreements it can use
    assert elsewhere.account_masked not in page and f'value="{tomorrow.id}"' not in page  # neither can be chosen
    assert "将于2026年11月23日生效" in page  # the one signed today is said to be on its way (issue 20.18)
    for a in (elsewhere, tomorrow):
        r = b.post(method_url, {"method": "agreement", "agreement_id": str(a.id)})
        assert r.status_code == 422 and not controls.debits(providers)


def test_R_AG_8_a_change_of_si_agency_name_or_account_makes_agreements_invalid(app, providers, phone_user, payer):
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        a = make_agreement(s, s.merge(payer), providers)
        n = agreements.bureau_change(
            s, s.merge(payer), at(date(2026, 11, 22)), si_agency=("rm", "北京市东城区社会保险基金管理中心")
        )
        s.commit()
    assert n == 1
    b = phone_user(payer, "alipay")
    page = text(b.get("/agreements"))
    assert "失效" in page and "社保经办机构变更" in page and "请于2026年12月9日起重新签订缴费协议" in page  # Q52(2)
    assert a.account_masked not in text(b.get(declare_for(b, payer.id)))
    with app.extensions["db_sessionmaker"]() as s:
        agency = s.scalar(select(Enrolment.si_agency).where(Enrolment.person_id == payer.id))
        assert agency == "北京市东城区社会保险基金管理中心"
        other = make_agreement(s, s.merge(payer), providers, bank="BOC")
        assert agreements.bureau_change(s, s.merge(payer), at(date(2026, 11, 22)), name="赵丽丽") == 1
        assert agreements.account_changed(s, payer.id, other.card_number, at(date(2026, 11, 22))) == 0  # already 失效
        s.commit()


def test_the_agreement_list_is_on_the_poster_url_and_in_the_hall(phone_user, payer, browser):
    assert browser.get("/agreements").status_code == 302  # R-CH-2: it answers (login first)
    b = phone_user(payer, "alipay")
    assert "缴费协议" in text(b.get("/")) and re.search(r'href="/agreements"', text(b.get("/")))
    assert "新增协议" in text(b.get("/agreements"))


def test_R_PA_1_two_taps_on_confirm_with_an_agreement_debit_once(app, providers, phone_user, payer):
    import threading

    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        a = make_agreement(s, s.merge(payer), providers, balance_fen=500000)
        s.commit()
    b = phone_user(payer, "alipay")
    method_url = declare_for(b, payer.id)
    b.get(method_url)
    token, cookie = b.token, b.client.get_cookie("session").value
    statuses, barrier = [], threading.Barrier(3)

    def tap():
        c = app.test_client()
        c.set_cookie("session", cookie)
        barrier.wait()
        statuses.append(
            c.post(method_url, data={"method": "agreement", "agreement_id": str(a.id), "csrf_token": token}).status_code
        )

    threads = [threading.Thread(target=tap) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [303, 303, 303]
    assert len(controls.debits(providers)) == 1 and _count(app, SettledPayment) == 1
    assert controls.account(providers, a.card_number)["balance_fen"] == 500000 - 79500
