"""Steps of a payment, as a user takes them, for tests to reuse."""

from __future__ import annotations

import re

from sqlalchemy import select

from webapp.models import PaymentOrder

from ..conftest import Browser, text


def declare_for(b: Browser, insured_id: int) -> str:
    """城乡居民医疗: 身份信息确认 → 参保信息选择 → 选择缴费信息 → 提交; returns the 选择支付方式 URL."""
    r = b.post("/rm/pay", {"who": str(insured_id)})
    assert r.status_code == 303 and "/rm/pay/insurance" in r.location, text(r)
    b.get(r.location)
    r = b.post("/rm/pay/insurance", {"insured": str(insured_id), "insurance": "rm_medical"})
    assert r.status_code == 303, text(r)
    page = b.get(r.location)
    ids = re.findall(r'name="receivable" value="(\d+)"', text(page))
    assert ids, text(page)
    r = b.post("/rm/pay/select", {"insured": str(insured_id), "receivable": ids})
    assert r.status_code == 303, text(r)
    return r.location


def start_order(b: Browser, method_url: str, method: str, *, visit: bool = True) -> str:
    """确认缴费 with a method, then (unless visit=False) the buyer's browser opens the cashier;
    returns our out_trade_no."""
    b.get(method_url)
    r = b.post(method_url, {"method": method})
    assert r.status_code == 303, text(r)
    if visit:
        page = b.follow(r)
        assert "收银台" in text(page), text(page)
    return latest_order(b)


def latest_order(b: Browser) -> str:
    """The newest order's number."""
    with b.app.extensions["db_sessionmaker"]() as s:
        return s.scalar(select(PaymentOrder.out_trade_no).order_by(PaymentOrder.id.desc()).limit(1))


def order_state(app, out_trade_no: str) -> str:  # type: ignore[no-untyped-def]
    """The order's state in the app's database."""
    with app.extensions["db_sessionmaker"]() as s:
        return s.scalar(select(PaymentOrder.state).where(PaymentOrder.out_trade_no == out_trade_no))
