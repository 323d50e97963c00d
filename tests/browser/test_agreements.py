"""缴费协议 on a phone in Alipay (R-AG-1 … R-AG-7, R-CH-1): sign one step by step, see it take effect the next
day, pay resident medical with 协议支付 choosing between two agreements, then revoke one after the in-page
confirmation. Screenshots go to tests/artifacts/."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from playwright.sync_api import expect
from sqlalchemy import select

from webapp.domain import banks
from webapp.models import SettledPayment
from webapp.payments.sim import controls

from .conftest import LiveServer, Phone
from .test_family_payment import login

QIAN_MIN = ("钱敏", "110105198205160040")  # the demo's `agreement` persona
RM_OFFICE = "国家税务总局北京市西城区税务局什刹海税务所"


def test_R_AG_5_R_AG_7_sign_then_pay_by_agreement_then_revoke(
    live_server: LiveServer, phone: Callable[[str], Phone]
) -> None:
    card = banks.card_number("ICBC", 9_900_001)
    controls.open_account(live_server.providers, card, "ICBC", "钱敏", 300_000, id_number=QIAN_MIN[1])
    ph = phone("alipay")
    page = ph.page
    ph.open("/?ch=alipay")
    login(ph, *QIAN_MIN)

    ph.tap(page.locator(".app-tile", has_text="缴费协议"))
    expect(page.locator(".app-card")).to_have_count(2)  # signed a month ago, one per 税务机关
    ph.shot("agreements")
    ph.tap(page.get_by_role("link", name="新增协议"))
    # seed 000 §4: 缴费人信息 and 是否银行代扣 → 下一步 → 税务机关 and 银行信息 → 提交
    expect(page.get_by_text("请认真核对身份信息后，再进行下一步操作")).to_be_visible()
    page.get_by_text("是否银行代扣：否").click()  # WeUI draws the radio; the label takes the tap
    ph.shot("new-agreement-step1")
    ph.tap(page.get_by_role("button", name="下一步"))
    expect(page.get_by_text("本系统只支持给本人签订扣款协议")).to_be_visible()
    expect(page.get_by_text("是否银行代扣：否")).to_be_visible()
    page.wait_for_load_state("load")  # htmx (a deferred script) listens for the change only once the page has loaded
    page.get_by_label("税务机关").select_option(RM_OFFICE)
    expect(page.locator("#f-si_agency")).to_contain_text("社会保险基金管理中心")
    page.get_by_label("开户银行").select_option(label="中国工商银行")
    page.get_by_label("银行行政区划").select_option("北京市西城区")  # filled in once the bank is chosen (htmx)
    page.get_by_label("银行网点").select_option("中国工商银行北京西单支行")
    page.get_by_label("持卡人姓名").fill("钱敏")
    page.get_by_label("银行账号").fill(card)
    ph.shot("new-agreement")
    ph.tap(page.get_by_role("button", name="提交"))
    expect(page.get_by_role("heading", name="协议签订成功")).to_be_visible()
    expect(page.get_by_text("次日生效")).to_be_visible()
    ph.shot("signed")
    ph.tap(page.get_by_role("link", name="返回缴费协议"))
    new_card = page.locator(".app-card", has_text=banks.mask_card(card))
    expect(new_card).to_contain_text("签订成功")  # as the guide's list; in effect from tomorrow, beside it
    expect(new_card).to_contain_text("次日生效")
    assert card not in page.content()  # R-ID-3: masked everywhere

    live_server.app.extensions["clock"].advance(timedelta(days=1))  # the next day
    page.reload()
    expect(page.locator(".app-card", has_text=banks.mask_card(card))).to_contain_text("签订成功")
    ph.shot("in-effect")

    ph.open("/rm/pay")
    ph.tap(page.get_by_role("button", name="本人"))
    expect(page.get_by_role("heading", name="城乡居民医疗 · 缴费办理")).to_be_visible()
    expect(page.get_by_text("请勾选需要缴费的参保险种")).to_be_visible()
    ph.tap(page.get_by_role("button", name="下一步", exact=True))  # 参保信息选择 (seed 003 §2.1)
    ph.tap(page.get_by_role("button", name="提交"))
    page.get_by_text("协议支付", exact=True).click()
    ph.tap(page.get_by_role("button", name="确认缴费"))
    # seed 003 §2.1: 选择协议支付时，点击【确认缴费】，带出提示语，点击【确定】，系统带出可缴费的协议
    expect(page.get_by_role("dialog")).to_contain_text("协议支付将从您签订缴费协议的银行账户中直接扣缴")
    ph.shot("agreement-prompt")
    ph.tap(page.get_by_role("button", name="确定"))
    options = page.locator('input[name="agreement_id"]')
    expect(options).to_have_count(2)  # R-AG-7: two agreements of this 税务机关 to choose from
    page.locator("label.weui-cell", has_text=banks.mask_card(card)).click()
    expect(page.locator("label.weui-cell", has_text=banks.mask_card(card)).locator("input")).to_be_checked()
    ph.shot("choose-agreement")
    ph.tap(page.get_by_role("button", name="确认缴费"))
    expect(page.get_by_role("heading", name="缴费成功")).to_be_visible()
    expect(page.locator(".weui-msg__desc")).to_contain_text("协议支付")
    ph.shot("paid")
    assert controls.account(live_server.providers, card)["balance_fen"] == 300_000 - 79_500
    with live_server.app.extensions["db_sessionmaker"]() as s:
        assert len(s.scalars(select(SettledPayment).where(SettledPayment.method == "agreement")).all()) == 1

    ph.open("/agreements")
    old = page.locator(".app-card").filter(has_text="中国建设银行").filter(has_text=RM_OFFICE)
    ph.tap(old.get_by_role("link", name="撤销"))
    expect(page.get_by_text("确定撤销该协议吗")).to_be_visible()
    ph.shot("confirm-revoke")
    ph.tap(page.get_by_role("button", name="确定"))
    expect(page.get_by_text("撤销成功")).to_be_visible()
    expect(page.locator(".app-card").filter(has_text="中国建设银行").filter(has_text=RM_OFFICE)).to_contain_text(
        "已撤销"
    )
    ph.shot("revoked")
