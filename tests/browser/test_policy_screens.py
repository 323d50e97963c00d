"""The screens issue 20 (items 1–10) changed, on an iPhone 13 (390 px) in Alipay, in the standard mode and in
长辈版: 京通's phone authorisation, the year on sale and 参保信息选择, the 协议支付 prompt and agreement list,
缴费协议 (签订成功, 代扣险种, 新增协议 in two steps), 开具缴费记录 with ticks, the pension amount page's 依据与说明.
Every screen is screenshotted to tests/artifacts/ and must not scroll sideways."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from .conftest import LiveServer, Phone
from .test_family_payment import login

QIAN_MIN = ("钱敏", "110105198205160040")  # agreement: resident medical owed, agreements in effect
MA_XIULAN = ("马秀兰", "110106196805120023")  # rp


def _fits(ph: Phone, step: str) -> None:
    """The page fits the phone's width (nothing to scroll sideways), then a screenshot."""
    ph.shot(step)
    width = ph.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, (step, width)


@pytest.mark.parametrize("mode", ["standard", "elder"])
def test_issue_20_screens_in_both_modes(live_server: LiveServer, phone: Callable[[str], Phone], mode: str) -> None:
    ph = phone("alipay")
    page = ph.page
    page.context.add_cookies([{"name": "display_mode", "value": mode, "url": live_server.url}])
    ph.open("/?ch=alipay")
    expect(page.locator("html")).to_have_attribute("data-mode", mode)
    ph.tap(page.get_by_role("link", name="登录"))
    expect(page.get_by_text("“京通”申请获取你的手机号")).to_be_visible()
    _fits(ph, f"{mode}-phone-authorise")
    ph.tap(page.get_by_role("button", name="允许"))
    expect(page.get_by_role("heading", name="身份验证")).to_be_visible()
    ph.open("/")
    login(ph, *QIAN_MIN)

    ph.open("/rm/pay")
    expect(page.locator("#sale-period")).to_contain_text("集中缴费期")
    _fits(ph, f"{mode}-rm-pay")
    ph.tap(page.get_by_role("button", name="本人"))
    expect(page.get_by_text("请勾选需要缴费的参保险种")).to_be_visible()
    _fits(ph, f"{mode}-rm-insurance")
    ph.tap(page.get_by_role("button", name="下一步", exact=True))
    expect(page.get_by_text("集中缴费期已结束，可缴纳至2026-12-31")).to_be_visible()
    _fits(ph, f"{mode}-rm-select")
    ph.tap(page.get_by_role("button", name="提交"))
    page.get_by_text("协议支付", exact=True).click()
    ph.tap(page.get_by_role("button", name="确认缴费"))
    expect(page.get_by_role("dialog")).to_contain_text("协议支付将从您签订缴费协议的银行账户中直接扣缴")
    _fits(ph, f"{mode}-agreement-prompt")
    ph.tap(page.get_by_role("button", name="确定"))
    expect(page.locator('input[name="agreement_id"]')).to_have_count(1)
    _fits(ph, f"{mode}-agreement-list")

    ph.open("/agreements")
    expect(page.locator(".app-card").first).to_contain_text("签订成功")
    expect(page.get_by_text("代扣险种").first).to_be_visible()
    _fits(ph, f"{mode}-agreements")
    ph.tap(page.get_by_role("link", name="新增协议"))
    expect(page.get_by_role("button", name="下一步")).to_be_visible()
    _fits(ph, f"{mode}-new-agreement-1")
    ph.tap(page.get_by_role("button", name="下一步"))
    expect(page.get_by_label("开户银行")).to_be_visible()
    _fits(ph, f"{mode}-new-agreement-2")

    ph.open("/certificates?start=2025-01&end=2026-11")
    expect(page.get_by_role("button", name="开具缴费记录").first).to_be_visible()
    boxes = page.locator('.cert-group input[name="payment"]')
    if boxes.count() > 1:  # untick one: 费款合计 follows
        before = page.locator("[data-total]").first.inner_text()
        boxes.first.uncheck()
        expect(page.locator("[data-total]").first).not_to_have_text(before)
    _fits(ph, f"{mode}-certificates")

    ph.open("/me/settings")
    with page.expect_navigation():
        ph.tap(page.get_by_role("button", name="退出登录"))
    ph.open("/")
    login(ph, *MA_XIULAN)  # the phone already allowed 京通 its number: straight to 身份验证
    ph.open("/rp/amount")
    page.get_by_text("依据与说明").click()
    expect(page.locator("#assumptions")).to_contain_text("本应用的假设")
    _fits(ph, f"{mode}-rp-amount")
