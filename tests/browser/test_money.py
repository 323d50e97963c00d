"""What a payer sees when money settles nothing, and when leaving Alipay's cashier, on a phone at 390 px in the
standard mode and 长辈版 (issue 17 D1, issue 19 item 6, issue 20 item 11, R-PA-3, R-PA-4). Screens go to
tests/artifacts/."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from webapp.payments.sim import controls

from .conftest import LiveServer, Phone
from .test_family_payment import WANG_JIANGUO, declare_for_family_member, login, pay_at_cashier


def _in_mode(ph: Phone, mode: str) -> None:
    ph.page.context.add_cookies([{"name": "display_mode", "value": mode, "url": ph.base}])


def test_issue20_11_leaving_alipays_cashier_reads_cancelled_at_once(
    live_server: LiveServer, phone: Callable[[str], Phone]
) -> None:
    """返回商户 at the Alipay cashier: 已取消 within seconds (before: 支付结果确认中 for over 80 s), offering
    重新选择支付方式."""
    ph = phone("alipay")
    page = ph.page
    ph.open("/?ch=alipay")
    login(ph, *WANG_JIANGUO)
    declare_for_family_member(ph, "王小雨", "435.00")
    ph.tap(page.get_by_role("button", name="确认缴费"))
    expect(page.get_by_text("支付宝收银台（模拟）")).to_be_visible()
    ph.shot("cashier")
    started = time.monotonic()
    ph.tap(page.get_by_role("button", name="返回商户"))
    expect(page.get_by_role("heading", name="已取消")).to_be_visible(timeout=5_000)
    seconds = time.monotonic() - started
    expect(page.get_by_text("支付结果确认中")).to_have_count(0)
    expect(page.get_by_role("link", name="重新选择支付方式")).to_be_visible()
    ph.shot("cancelled")
    print(f"\nalipay 返回商户 → 已取消 in {seconds:.1f}s")
    assert [t["state"] for t in live_server.sim_trades()] == ["CLOSED"]


@pytest.mark.parametrize("mode", ["standard", "elder"])
def test_issue19_6_money_that_settles_nothing_reads_refunded_with_the_date(
    live_server: LiveServer, phone: Callable[[str], Phone], mode: str
) -> None:
    """WeChat took ¥459.99 for the ¥460.00 year: the result page says 缴费未完成 · 已退款 and when it went back; the
    records list it beside the payments; 重新选择支付方式 pays the year."""
    ph = phone("wechat")
    _in_mode(ph, mode)
    page = ph.page
    ph.open("/?ch=wechat")
    login(ph, *WANG_JIANGUO)
    declare_for_family_member(ph, "王福生", "460.00")
    controls.set(live_server.providers, "wechat", amount_delta=-1)
    ph.tap(page.get_by_role("button", name="确认缴费"))
    pay_at_cashier(ph, "微信支付", "460.00")
    expect(page.get_by_role("heading", name="缴费未完成 · 已退款")).to_be_visible()
    expect(page.get_by_text("¥459.99已于2026-11-22原路退回微信支付")).to_be_visible()
    ph.shot(f"{mode}-refunded-screen", full_page=False)
    controls.set(live_server.providers, "wechat")
    ph.tap(page.get_by_role("link", name="返回首页").last)
    ph.tap(page.locator(".app-tile", has_text="居民医疗缴费记录"))
    card = page.locator(".app-card").filter(has_text="已退款")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("王福生")
    expect(card).to_contain_text("¥459.99")
    expect(card).to_contain_text("已于2026-11-22原路退回")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing pushes the page sideways
    ph.shot(f"{mode}-records")
