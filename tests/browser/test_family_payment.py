"""Paying for a family member on a phone, in WeChat and in Alipay, through the simulated cashiers
(R-RM-1, R-PA-1, R-PA-3, R-CH-1). Every step is screenshotted to tests/artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import expect
from sqlalchemy import select

from webapp.models import Declaration, PaymentOrder, Person, SettledPayment

from .conftest import LiveServer, Phone

WANG_JIANGUO = ("王建国", "110105198003120032")
MAX_TAPS = 6


def login(ph: Phone, name: str, id_number: str) -> None:
    """(京通: 授权 the phone number →) 身份验证 → 人脸识别, from the hall's 登录 link (seed 004 §1.2)."""
    page = ph.page
    ph.tap(page.get_by_role("link", name="登录"))
    authorise = page.get_by_role("heading", name="授权登录")
    expect(authorise.or_(page.get_by_role("heading", name="身份验证"))).to_be_visible()
    if authorise.is_visible():
        expect(page.get_by_text("“京通”申请获取你的手机号")).to_be_visible()
        ph.shot("phone-authorise")
        ph.tap(page.get_by_role("button", name="允许"))
    expect(page.get_by_role("heading", name="身份验证")).to_be_visible()
    page.get_by_label("姓名").fill(name)
    page.get_by_label("证件号码").fill(id_number)
    page.locator("#f-agree").check()
    ph.shot("login-filled")
    ph.tap(page.get_by_role("button", name="开始人脸识别"))
    expect(page.get_by_role("heading", name="人脸识别")).to_be_visible()
    ph.shot("face")
    ph.tap(page.get_by_role("button", name="开始人脸识别"))
    expect(page.get_by_text("请选择要办理的业务")).to_be_visible()
    ph.shot("hall-logged-in")


def declare_for_family_member(ph: Phone, member: str, amount: str) -> None:
    """城乡居民医疗 → 他人：<member> → 参保信息选择 → 下一步 → 选择缴费信息 → 提交 → 选择支付方式."""
    page = ph.page
    ph.tap(page.locator(".app-tile", has_text="城乡居民医疗"))
    expect(page.get_by_text("为谁缴费")).to_be_visible()
    ph.shot("rm-who")
    ph.tap(page.get_by_role("button", name=f"他人：{member}"))
    expect(page.get_by_role("listitem").filter(has_text="参保信息选择")).to_have_attribute("aria-current", "step")
    ph.shot("rm-insurance")
    ph.tap(page.get_by_role("button", name="下一步", exact=True))
    expect(page.get_by_role("listitem").filter(has_text="选择缴费信息")).to_have_attribute("aria-current", "step")
    expect(page.locator("#total")).to_contain_text(f"¥{amount}")
    ph.shot("select-items")
    ph.tap(page.get_by_role("button", name="提交"))
    expect(page.get_by_role("listitem").filter(has_text="选择支付方式")).to_have_attribute("aria-current", "step")


def pay_at_cashier(ph: Phone, brand: str, amount: str) -> None:
    """The simulated cashier: type 123456 (typing is not a tap), 确认支付."""
    page = ph.page
    expect(page.get_by_text(f"{brand}收银台（模拟）")).to_be_visible()
    expect(page.locator(".amount")).to_have_text(f"¥{amount}")
    page.get_by_label("支付密码").fill("123456")
    ph.shot("cashier")
    ph.tap(page.get_by_role("button", name="确认支付"))


def assert_listed(ph: Phone, member: str, amount: str, method_label: str) -> None:
    """已申报查询 and 缴费记录查询 both show the payment."""
    page = ph.page
    ph.tap(page.get_by_role("link", name="返回首页").first)
    ph.tap(page.locator(".app-tile", has_text="已申报查询"))
    card = page.locator(".app-card").filter(has_text=member)
    expect(card).to_have_count(1)
    expect(card).to_contain_text(f"{member}（代缴）")
    expect(card).to_contain_text("已缴费")
    expect(card).to_contain_text(f"¥{amount}")
    ph.shot("declared")
    ph.tap(page.get_by_role("link", name="返回首页"))
    ph.tap(page.locator(".app-tile", has_text="居民医疗缴费记录"))
    card = page.locator(".app-card").filter(has_text=member)
    expect(card).to_have_count(1)
    expect(card).to_contain_text("已申报已缴款")
    expect(card).to_contain_text(f"¥{amount}")
    expect(card).to_contain_text(method_label)
    ph.shot("records")


def paid_once(live: LiveServer, member: str, fen: int, provider: str) -> None:
    """The database agrees: one paid order and one settled payment for the member, by the provider."""
    with live.app.extensions["db_sessionmaker"]() as s:
        insured = s.scalar(select(Person).where(Person.name == member))
        assert insured is not None
        decls = list(s.scalars(select(Declaration).where(Declaration.insured_id == insured.id)))
        assert [d.status for d in decls] == ["paid"]
        orders = list(s.scalars(select(PaymentOrder).where(PaymentOrder.declaration_id == decls[0].id)))
        assert [(o.provider, o.state) for o in orders] == [(provider, "paid")]
        settled = list(s.scalars(select(SettledPayment).join(SettledPayment.receivable)))
        assert [p.amount_fen for p in settled if p.receivable.insured_id == insured.id] == [fen]
    assert [t["state"] for t in live.sim_trades()] == ["PAID"]


def test_r_rm_1_r_pa_1_r_ch_1_wechat_pays_for_father(live_server: LiveServer, phone: Callable[[str], Phone]) -> None:
    """In WeChat, 王建国 pays 王福生's resident medical (¥460.00) with 微信支付 in ≤ 6 taps after login."""
    ph = phone("wechat")
    page = ph.page
    ph.open("/?ch=wechat")
    expect(page.locator(".app-bar__channel")).to_have_text("京通（微信）")
    ph.shot("hall")
    login(ph, *WANG_JIANGUO)

    ph.counting = True
    declare_for_family_member(ph, "王福生", "460.00")
    methods = page.locator(".weui-cells_radio .weui-cell")
    expect(methods).to_have_count(1)
    expect(methods).to_have_text("微信支付")
    expect(page.get_by_label("微信支付")).to_be_checked()
    ph.shot("method")
    ph.tap(page.get_by_role("button", name="确认缴费"))
    pay_at_cashier(ph, "微信支付", "460.00")
    expect(page.get_by_role("heading", name="缴费成功")).to_be_visible()
    expect(page.locator(".weui-msg__desc")).to_have_text("¥460.00 · 微信支付")
    ph.counting = False
    ph.shot("result-screen", full_page=False)  # what the phone shows on arrival
    ph.shot("result")
    assert ph.taps <= MAX_TAPS, f"{ph.taps} taps after login"
    print(f"\nwechat taps after login: {ph.taps}")

    assert_listed(ph, "王福生", "460.00", "微信支付")
    paid_once(live_server, "王福生", 46000, "wechat")


def test_r_rm_1_r_pa_1_r_ch_1_alipay_pays_for_daughter(live_server: LiveServer, phone: Callable[[str], Phone]) -> None:
    """In Alipay, 王建国 pays 王小雨's resident medical (¥435.00) with 支付宝; 协议支付 is offered beside it
    (R-CH-1) and needs an agreement he has not signed."""
    ph = phone("alipay")
    page = ph.page
    ph.open("/?ch=alipay")
    expect(page.locator(".app-bar__channel")).to_have_text("京通（支付宝）")
    ph.shot("hall")
    login(ph, *WANG_JIANGUO)

    ph.counting = True
    declare_for_family_member(ph, "王小雨", "435.00")
    methods = page.locator('.weui-cells_radio input[name="method"]')
    expect(methods).to_have_count(2)
    expect(page.get_by_label("支付宝")).to_be_checked()
    expect(page.get_by_label("协议支付")).not_to_be_checked()
    expect(page.get_by_text("微信支付")).to_have_count(0)
    ph.shot("method")
    ph.tap(page.get_by_role("button", name="确认缴费"))
    pay_at_cashier(ph, "支付宝", "435.00")
    expect(page.get_by_role("heading", name="缴费成功")).to_be_visible()
    expect(page.locator(".weui-msg__desc")).to_have_text("¥435.00 · 支付宝")
    ph.counting = False
    ph.shot("result-screen", full_page=False)  # what the phone shows on arrival
    ph.shot("result")
    assert ph.taps <= MAX_TAPS, f"{ph.taps} taps after login"
    print(f"\nalipay taps after login: {ph.taps}")

    assert_listed(ph, "王小雨", "435.00", "支付宝")
    paid_once(live_server, "王小雨", 43500, "alipay")


def test_r_pa_3_leaving_the_cashier_offers_cancel_and_takes_no_money(
    live_server: LiveServer, phone: Callable[[str], Phone]
) -> None:
    """返回商户 without paying → the order is closed at once and the page says 已取消 (not a 35-minute wait, not
    支付结果确认中 for ever), offering 重新选择支付方式; nothing was charged."""
    ph = phone("wechat")
    page = ph.page
    ph.open("/?ch=wechat")
    login(ph, *WANG_JIANGUO)
    declare_for_family_member(ph, "王福生", "460.00")
    ph.shot("method")
    method_url = page.url
    ph.tap(page.get_by_role("button", name="确认缴费"))
    expect(page.get_by_text("微信支付收银台（模拟）")).to_be_visible()
    ph.shot("cashier")
    ph.tap(page.get_by_role("button", name="返回商户"))

    expect(page.get_by_role("heading", name="已取消")).to_be_visible()
    expect(page.get_by_role("heading", name="缴费成功")).to_have_count(0)
    expect(page.get_by_text("支付结果确认中")).to_have_count(0)
    ph.shot("left-cashier")
    ph.tap(page.get_by_role("link", name="重新选择支付方式"))

    expect(page.get_by_role("listitem").filter(has_text="选择支付方式")).to_have_attribute("aria-current", "step")
    expect(page).to_have_url(re.compile(re.escape(method_url.split("?")[0]) + r"$"))
    expect(page.get_by_text("尚未完成")).to_have_count(0)  # the open-order notice is gone: the order was closed
    ph.shot("method-again")

    with live_server.app.extensions["db_sessionmaker"]() as s:  # the demo data holds 赵丽's payment too
        insured = s.scalar(select(Person).where(Person.name == "王福生"))
        assert insured is not None
        decls = list(s.scalars(select(Declaration).where(Declaration.insured_id == insured.id)))
        assert [d.status for d in decls] == ["declared"]
        orders = list(s.scalars(select(PaymentOrder).where(PaymentOrder.declaration_id == decls[0].id)))
        assert [o.state for o in orders] == ["closed"]
        settled = s.scalars(select(SettledPayment).join(SettledPayment.receivable)).all()
        assert [p for p in settled if p.receivable.insured_id == insured.id] == []
    assert [t["state"] for t in live_server.sim_trades()] == ["CLOSED"]


def test_r_pa_3_cancel_lands_on_a_whole_page(live_server: LiveServer, phone: Callable[[str], Phone]) -> None:
    """重新选择支付方式 after 返回商户 shows 选择支付方式 as a page of its own, not nested inside the result page."""
    ph = phone("wechat")
    page = ph.page
    ph.open("/?ch=wechat")
    login(ph, *WANG_JIANGUO)
    declare_for_family_member(ph, "王福生", "460.00")
    ph.tap(page.get_by_role("button", name="确认缴费"))
    ph.tap(page.get_by_role("button", name="返回商户"))
    ph.tap(page.get_by_role("link", name="重新选择支付方式"))
    expect(page.get_by_role("button", name="确认缴费")).to_be_visible()
    ph.shot("method-again")
    expect(page.locator(".app-bar")).to_have_count(1)
    expect(page.locator(".app-tabbar")).to_have_count(1)
