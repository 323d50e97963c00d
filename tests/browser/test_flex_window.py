"""A flexible worker pays the three-month rolling window in the Alipay channel (R-FP-1, R-FP-2, R-CH-1),
with the live 合计 and the medical all-or-nothing rule seen on the phone."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import expect

from .conftest import LiveServer, Phone
from .test_family_payment import login, pay_at_cashier

LIU_PENG = ("刘鹏", "110108198704150030")


def test_R_FP_1_R_FP_2_flexible_worker_pays_the_three_month_window_with_alipay(
    live_server: LiveServer, phone: Callable[[str], Phone]
) -> None:
    ph = phone("alipay")
    page = ph.page
    ph.open("/?ch=alipay")
    login(ph, *LIU_PENG)
    ph.tap(page.locator('.app-tile[href="/flex/pay"]'))
    expect(page.get_by_text("不能代他人缴费")).to_be_visible()  # R-FP-6
    ph.shot("flex-identity")
    ph.tap(page.get_by_role("link", name="下一步"))
    boxes = page.locator('input[name="receivable"]')
    expect(boxes).to_have_count(9)
    total = page.locator("#total")
    expect(total).to_contain_text("¥6,794.76")
    ph.shot("flex-select")

    # Live 合计 from the server: one pension month less.
    pension = page.locator(".app-card", has_text="职工基本养老保险").filter(has_text="2026-08")
    pension.locator('input[name="receivable"]').uncheck()
    expect(total).to_contain_text("¥5,194.76")
    ph.shot("flex-select-less-pension")

    # Medical without all of its 往期 is refused on the same screen (R-FP-2).
    medical = page.locator(".app-card", has_text="职工基本医疗保险").filter(has_text="2026-08")
    medical.locator('input[name="receivable"]').uncheck()
    expect(total).to_contain_text("¥4,609.84")
    ph.tap(page.get_by_role("button", name="提交"))
    expect(page.get_by_role("alert").filter(has_text="一次性")).to_be_visible()
    ph.shot("flex-medical-refused")

    # Tick everything again and pay the whole window.
    for i in range(boxes.count()):
        boxes.nth(i).check()
    expect(total).to_contain_text("¥6,794.76")
    ph.tap(page.get_by_role("button", name="提交"))
    methods = page.locator(".weui-cells_radio .weui-cell")
    expect(methods).to_have_text(["支付宝", "协议支付"])  # R-CH-1: seed 004 §1.9, 显示协议支付和支付宝两种缴费方式
    expect(page.get_by_label("支付宝")).to_be_checked()  # no agreement: 支付宝 is the one that can pay
    ph.shot("flex-method")
    ph.tap(page.get_by_role("button", name="确认缴费"))
    pay_at_cashier(ph, "支付宝", "6794.76")
    expect(page.get_by_role("heading", name="缴费成功")).to_be_visible()
    expect(page.locator(".weui-msg__desc")).to_contain_text("¥6,794.76")
    ph.shot("flex-result", full_page=False)

    ph.open("/flex/records?start=2026-08&end=2026-10")
    expect(page.locator(".app-card")).to_have_count(9)
    ph.shot("flex-records")
    ph.open("/flex/pay/select")
    expect(page.locator('input[name="receivable"]')).to_have_count(0)
    ph.shot("flex-nothing-left")
