"""R-CH-1 as SPEC.md's table has it, on the pages: 京通 in Alipay offers flexible workers 协议支付 and 支付宝
(seed 004 §1.9), the e-Tax app offers residents 协议支付 (seed 003 §1.1, §2.1), 京通 in Baidu offers
flexible workers 微信/支付宝/银联 only (Q36)."""

from __future__ import annotations

import re

from tests.factories import make_agreement, make_flex_worker, make_pension_payer
from webapp.payments.sim import controls

from ..conftest import text


def _declare_flex(b) -> str:
    """正常申报缴费: every open item of the window → 提交; returns the 选择支付方式 URL."""
    page = text(b.get("/flex/pay/select"))
    ids = re.findall(r'name="receivable" value="(\d+)"', page)
    assert ids, page
    r = b.post("/flex/pay/select", {"tab": "normal", "receivable": ids})
    assert r.status_code == 303, text(r)
    return r.location


def test_R_CH_1_a_flexible_worker_in_alipay_pays_by_agreement(app, providers, phone_user):
    """seed 004 §1.9 (灵活就业人员应缴费信息查询 → 缴款): 在支付宝小程序上显示协议支付和支付宝两种缴费方式."""
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        person = make_flex_worker(s, "协议灵活", unpaid_months=1)
        a = make_agreement(s, person, providers, batch_debit=False, balance_fen=1_000_000)
        s.commit()
    b = phone_user(person, "alipay")
    method_url = _declare_flex(b)
    assert "协议支付" in text(b.get(method_url)) and "支付宝" in text(b.get(method_url))
    page = text(b.post(method_url, {"method": "agreement"}))  # 确认缴费 brings out the agreements (no prompt here)
    assert a.account_masked in page and "提示" not in page.split("选择缴费协议", 1)[0][-200:]
    r = b.follow(b.post(method_url, {"method": "agreement", "agreement_id": str(a.id)}))
    assert "缴费成功" in text(r), text(r)
    assert controls.account(providers, a.card_number)["balance_fen"] < 1_000_000


def test_R_CH_1_baidu_offers_flexible_workers_no_agreement_payment(app, providers, phone_user):
    """Q36: “京通”小程序百度端: 支持微信、支付宝、银联支付 — for flexible workers, even with an agreement."""
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        person = make_flex_worker(s, "百度灵活", unpaid_months=1)
        make_agreement(s, person, providers, batch_debit=False)
        s.commit()
    b = phone_user(person, "baidu")
    method_url = _declare_flex(b)
    page = text(b.get(method_url))
    assert "微信支付" in page and "支付宝" in page and "银联支付" in page and "协议支付" not in page
    assert b.post(method_url, {"method": "agreement"}).status_code == 422


def test_R_CH_1_the_etax_app_offers_resident_pension_agreement_payment(app, providers, phone_user):
    """seed 003 §1.1: 选择协议支付，点击【确认缴费】，系统带出可缴费的协议."""
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        person = make_pension_payer(s, "电税养老", amount=2000)
        a = make_agreement(s, person, providers, batch_debit=False, balance_fen=1_000_000)
        s.commit()
    b = phone_user(person, "etax-app")
    page = text(b.get("/rp/pay/select?insurance=rp_pension"))
    ids = re.findall(r'name="receivable" value="(\d+)"', page)
    r = b.post("/rp/pay/select", {"insurance": "rp_pension", "tab": "normal", "receivable": ids})
    assert r.status_code == 303, text(r)
    page = text(b.get(r.location))
    assert "协议支付" in page and "银联支付" in page
    assert a.account_masked in text(b.post(r.location, {"method": "agreement"}))  # seed 003 §1.1: 带出可缴费的协议
    done = b.follow(b.post(r.location, {"method": "agreement", "agreement_id": str(a.id)}))
    assert "缴费成功" in text(done), text(done)
