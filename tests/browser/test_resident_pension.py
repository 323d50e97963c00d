"""Resident pension (城乡居民养老) on a phone: set the year's amount and pay it with 支付宝 in the Alipay
channel, find it in 已缴费查询 and 申报记录查询; void an unpaid declaration and pay again; void the set amount
with the confirmation in the page (R-RP-1 … R-RP-4, R-CH-1, R-CH-2). Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import expect
from sqlalchemy import select

from webapp.models import Declaration, PensionAmount, Person, SettledPayment

from .conftest import LiveServer, Phone
from .test_family_payment import login, pay_at_cashier

MA_XIULAN = ("马秀兰", "110106196805120023")  # demo role `rp`: 2000 set for this year, unpaid


def _to_items(ph: Phone) -> None:
    """城乡居民养老保险办理: 身份信息确认 → 下一步 → the insurance data (its 明细) → 下一步."""
    page = ph.page
    expect(page.get_by_role("listitem").filter(has_text="身份信息确认")).to_have_attribute("aria-current", "step")
    expect(page.get_by_text("只能为本人缴费")).to_be_visible()
    ph.tap(page.get_by_role("link", name="下一步"))
    expect(page.get_by_role("listitem").filter(has_text="选择参保信息")).to_have_attribute("aria-current", "step")
    page.get_by_text("明细数据").click()
    expect(page.get_by_text("缴费金额有效期起止")).to_be_visible()
    ph.shot("rp-insurance")
    ph.tap(page.get_by_role("button", name="下一步"))
    expect(page.get_by_role("listitem").filter(has_text="选择缴费信息")).to_have_attribute("aria-current", "step")


def test_R_RP_1_R_RP_2_R_RP_3_R_RP_4_alipay_sets_the_amount_pays_the_year_and_finds_it(
    live_server: LiveServer, phone: Callable[[str], Phone]
) -> None:
    ph = phone("alipay")
    page = ph.page
    ph.open("/rp/pay?ch=alipay")  # the poster's code (R-CH-2): login first (京通: 授权 the phone), then back here
    expect(page.get_by_role("heading", name="授权登录")).to_be_visible()
    ph.open("/?ch=alipay")
    login(ph, *MA_XIULAN)

    # 批量扣款缴费金额设置 (R-RP-1): 3000 instead of 2000; 提交 → the prompt → 确定 → 城乡居民养老保险办理.
    ph.tap(page.locator(".app-tile", has_text="批量扣款缴费金额设置"))
    expect(page.get_by_label("缴费金额")).to_have_value("2000")
    page.get_by_label("缴费金额").select_option("3000")
    ph.shot("rp-amount")
    ph.tap(page.get_by_role("button", name="提交"))
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("缴费金额设置成功")
    expect(dialog).to_contain_text("¥3,000.00")
    ph.shot("rp-amount-prompt", full_page=False)
    ph.tap(dialog.get_by_role("link", name="确定"))
    expect(page.get_by_role("heading", name="城乡居民养老保险办理")).to_be_visible()
    ph.shot("rp-identity")

    _to_items(ph)
    expect(page.get_by_role("link", name="正常缴费")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("link", name="批量扣款缴费金额设置")).to_be_visible()
    expect(page.locator("#total")).to_contain_text("¥3,000.00")
    ph.shot("rp-normal")
    ph.tap(page.get_by_role("link", name="特殊缴费"))
    expect(page.locator(".app-card").filter(has_text="应参未参补缴")).to_have_count(1)
    ph.shot("rp-special")
    ph.tap(page.get_by_role("link", name="正常缴费"))
    expect(page.get_by_role("link", name="正常缴费")).to_have_attribute("aria-current", "page")
    expect(page.locator("#total")).to_contain_text("¥3,000.00")
    ph.tap(page.get_by_role("button", name="提交"))

    # 选择支付方式 in Alipay: 支付宝 and 协议支付 (R-CH-1); with no agreement 支付宝 is chosen → 确认缴费 → 缴费成功.
    expect(page.get_by_role("listitem").filter(has_text="选择支付方式")).to_have_attribute("aria-current", "step")
    methods = page.locator(".weui-cells_radio .weui-cell")
    expect(methods).to_have_count(2)
    expect(methods).to_have_text(["支付宝", "协议支付"])
    expect(page.get_by_label("支付宝")).to_be_checked()
    ph.shot("rp-method")
    ph.tap(page.get_by_role("button", name="确认缴费"))
    pay_at_cashier(ph, "支付宝", "3000.00")
    expect(page.get_by_role("heading", name="缴费成功")).to_be_visible()
    expect(page.locator(".weui-msg__desc")).to_have_text("¥3,000.00 · 支付宝")
    ph.shot("rp-result", full_page=False)

    # 已缴费查询 (R-RP-4) and 申报记录查询 (R-RP-3).
    ph.tap(page.get_by_role("link", name="已缴费查询"))
    card = page.locator(".app-card").filter(has_text="城乡居民基本养老保险")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("¥3,000.00")
    expect(card).to_contain_text("支付宝")
    expect(page.get_by_text("查询对象")).to_be_visible()
    ph.shot("rp-records")
    ph.tap(card)
    expect(page.get_by_text("城乡居民基本养老保险费")).to_be_visible()
    ph.shot("rp-record-detail")
    ph.open("/")
    ph.tap(page.locator(".app-tile", has_text="申报记录查询"))
    card = page.locator(".app-card").filter(has_text="城乡居民养老正常缴费")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("申报成功")
    expect(card).to_contain_text("已缴费")
    expect(card.get_by_role("link", name="作废")).to_have_count(0)
    ph.shot("rp-declared")

    with live_server.app.extensions["db_sessionmaker"]() as s:
        person = s.scalar(select(Person).where(Person.name == MA_XIULAN[0]))
        assert person is not None
        settled = [p for p in s.scalars(select(SettledPayment)) if p.receivable.insured_id == person.id]
        assert [(p.amount_fen, p.method) for p in settled] == [(300000, "alipay")]
    assert [t["state"] for t in live_server.sim_trades()] == ["PAID"]


def test_R_RP_3_an_unpaid_declaration_is_voided_in_the_page_and_the_year_paid_again(
    live_server: LiveServer, phone: Callable[[str], Phone]
) -> None:
    ph = phone("wechat")
    page = ph.page
    ph.open("/?ch=wechat")
    login(ph, *MA_XIULAN)
    ph.tap(page.locator(".app-tile", has_text="城乡居民养老保险办理"))
    _to_items(ph)
    ph.tap(page.get_by_role("button", name="提交"))
    expect(page.get_by_role("listitem").filter(has_text="选择支付方式")).to_have_attribute("aria-current", "step")
    ph.tap(page.get_by_role("link", name="申报记录查询"))  # not paid: back to the declarations

    card = page.locator(".app-card").filter(has_text="城乡居民养老正常缴费")
    expect(card).to_contain_text("申报成功")
    expect(card).to_contain_text("未缴费")
    expect(card.get_by_role("link", name="继续缴费")).to_be_visible()
    ph.shot("rp-declared-unpaid")
    ph.tap(card.get_by_role("link", name="作废"))
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("确定作废")
    ph.shot("rp-void-confirm", full_page=False)
    ph.tap(dialog.get_by_role("button", name="确定"))
    expect(page.get_by_text("已作废，可重新缴费")).to_be_visible()
    expect(page.locator(".app-card").first).to_contain_text("已作废")
    ph.shot("rp-voided")

    ph.open("/rp/pay")
    _to_items(ph)
    expect(page.locator("#total")).to_contain_text("¥2,000.00")
    ph.tap(page.get_by_role("button", name="提交"))
    ph.tap(page.get_by_role("button", name="确认缴费"))
    pay_at_cashier(ph, "微信支付", "2000.00")
    expect(page.get_by_role("heading", name="缴费成功")).to_be_visible()
    ph.shot("rp-paid-again", full_page=False)

    with live_server.app.extensions["db_sessionmaker"]() as s:
        person = s.scalar(select(Person).where(Person.name == MA_XIULAN[0]))
        assert person is not None
        decls = s.scalars(select(Declaration).where(Declaration.payer_id == person.id).order_by(Declaration.id))
        assert [d.status for d in decls] == ["void", "paid"]


def test_R_RP_1_the_set_amount_is_voided_after_an_in_page_confirmation(
    live_server: LiveServer, phone: Callable[[str], Phone]
) -> None:
    """In the standard mode the confirmation is a dialog over the page (in care mode it sits in the page)."""
    ph = phone("alipay")
    page = ph.page
    ph.open("/?ch=alipay")
    login(ph, *MA_XIULAN)
    ph.tap(page.get_by_role("link", name="我的"))
    ph.open("/me/settings")
    expect(page.locator("#mode-state")).to_have_text("已关闭")  # the standard mode (长辈版 not chosen)
    ph.open("/")
    ph.tap(page.locator(".app-tile", has_text="批量扣款缴费金额作废"))
    card = page.locator(".app-card").filter(has_text="城乡居民基本养老保险")
    expect(card).to_contain_text("有效")
    card.locator('input[name="amount_id"]').check()
    ph.shot("rp-amount-void-choose")
    ph.tap(page.get_by_role("button", name="作废"))
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("不再批量扣款")
    expect(dialog.get_by_role("button", name="确定")).to_be_visible()
    ph.shot("rp-amount-void-confirm", full_page=False)
    ph.tap(dialog.get_by_role("link", name="取消"))
    expect(page.get_by_role("dialog")).to_have_count(0)
    card.locator('input[name="amount_id"]').check()
    ph.tap(page.get_by_role("button", name="作废"))
    ph.tap(page.get_by_role("dialog").get_by_role("button", name="确定"))
    expect(page.get_by_text("不再批量扣款。")).to_be_visible()
    expect(page.locator(".app-card").filter(has_text="城乡居民基本养老保险")).to_contain_text("已作废")
    ph.shot("rp-amount-voided")

    with live_server.app.extensions["db_sessionmaker"]() as s:
        assert [a.status for a in s.scalars(select(PensionAmount))] == ["void"]
