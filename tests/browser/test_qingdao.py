"""Qingdao on a phone (seed 002, R-QD-*): each of the handbook's five channels walked from its ``?ch=`` entry to
完成, named by the handbook's sections (自助缴费, 缴费基数选择, 特殊缴费, 缴费明细查询), in both display modes.
Screenshots go to tests/artifacts/."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from webapp.models import QdBaseChoice, SettledPayment

from .conftest import ARTIFACTS, HOST_UA, LiveServer

LIN_HAI = ("林海", "370202198604150039")  # qd-flex
SUN_LAN = ("孙岚", "370203198708220042")  # qd-no-base
SONG_TAO = ("宋涛", "370211198803100057")  # qd-arrears
# What each host app adds to the phone's user agent (云闪付 and 税税通: their own apps, a plain WebView here).
QD_UA = {
    "qd-wechat": HOST_UA["wechat"],
    "qd-city": HOST_UA["wechat"],
    "qd-alipay": HOST_UA["alipay"],
    "qd-sst": "",
    "qd-unionpay": " (com.unionpay.chsp) (cordova 7.0.0) (updebug 0) (version 1001)",
}


SCREENSHOTS = Path(__file__).resolve().parent.parent.parent / "docs" / "screenshots"
#: The README's Qingdao screenshots (both modes): retaken by these walks, not committed (the merger retakes them).
README_SHOTS = {"entry", "numbers", "order", "result", "base-refused", "special-numbers"}


class QdPhone:
    """A phone in one Qingdao channel, in one display mode, screenshotting its steps."""

    def __init__(self, page: Any, base: str, prefix: str, mode: str) -> None:
        self.page, self.base, self.prefix, self.mode, self.n = page, base, prefix, mode, 0

    def shot(self, step: str) -> Path:
        self.page.wait_for_load_state("load")
        self.n += 1
        path = ARTIFACTS / f"{self.prefix}-{self.n:02d}-{re.sub(r'[^0-9A-Za-z_-]+', '-', step).strip('-')}.png"
        self.page.screenshot(path=str(path), full_page=True)
        if step in README_SHOTS and self.page.url.find("/sim/") < 0:
            self.page.screenshot(path=str(SCREENSHOTS / f"qd-{self.mode}-{step}.png"), full_page=False)
        return path


@pytest.fixture
def qd_phone(
    request: pytest.FixtureRequest, playwright_instance: Any, browser_instance: Any, live_server: LiveServer
) -> Iterator[Callable[[str, str], QdPhone]]:
    """``qd_phone("qd-wechat", "elder")``: an iPhone 13 in that channel's host app, in that display mode."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    contexts: list[Any] = []
    violations: list[str] = []

    def make(channel: str, mode: str) -> QdPhone:
        device = dict(playwright_instance.devices["iPhone 13"])
        device.pop("default_browser_type", None)
        device["user_agent"] += QD_UA[channel]
        context = browser_instance.new_context(**device, locale="zh-CN", timezone_id="Asia/Shanghai")
        context.set_default_timeout(15_000)
        context.add_cookies([{"name": "display_mode", "value": mode, "url": live_server.url}])
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        return QdPhone(page, live_server.url, request.node.name, mode)

    expect.set_options(timeout=15_000)  # two cores shared by several test runs: a boosted page may take a while
    try:
        yield make
    finally:
        expect.set_options(timeout=5_000)  # Playwright's default, for the other tests of this process
        for c in contexts:
            c.close()
    assert violations == []


def enter(ph: QdPhone, channel: str, module: str, who: tuple[str, str]) -> None:
    """第一步/第二步: the channel's code opens its module; 输入参保人的姓名、证件类型、证件号码，点击“下一步”."""
    page = ph.page
    page.goto(f"{ph.base}/qd?ch={channel}")
    expect(page.get_by_role("heading", name=module, exact=True)).to_be_visible()
    expect(page.get_by_text("请输入参保人的姓名、证件类型、证件号码")).to_be_visible()
    assert "京通" not in page.content()
    page.get_by_label("姓名").fill(who[0])
    page.get_by_label("证件号码").fill(who[1])
    ph.shot("entry")
    page.get_by_role("button", name="下一步").click()
    expect(page.locator(".qd-modules")).to_be_visible()
    expect(page.locator(".qd-who")).not_to_contain_text(who[1])  # masked
    ph.shot("modules")


def pay_first_number(ph: QdPhone, method: str | None, amount: str, brand: str) -> None:
    """第三步 … 第八步: 缴费 → 立即缴费 (个人参保编号, 险种类型, 缴费基数) → 核对缴费金额, 立即缴费 →
    核对“订单金额”, 确定 → 输入交易密码 → 缴费成功, 完成."""
    page = ph.page
    page.locator(".app-tile", has_text=re.compile(r"^\s*缴费\s*$")).click()
    number = page.locator(".qd-number").first
    expect(number).to_contain_text("险种类型：企业职工基本养老保险")
    expect(number).to_contain_text("缴费基数：6000")
    ph.shot("numbers")
    number.get_by_role("link", name="立即缴费").click()
    expect(page.locator("#total")).to_contain_text(f"¥{amount}")
    ph.shot("amount")
    page.get_by_role("button", name="立即缴费").click()
    expect(page.locator(".qd-order-amount")).to_have_text(f"¥{amount}")
    if method:
        page.get_by_label(method).check()
    ph.shot("order")
    page.get_by_role("button", name="确定").click()
    expect(page.get_by_text(f"{brand}收银台（模拟）")).to_be_visible()
    page.get_by_label("支付密码").fill("123456")
    ph.shot("cashier")
    page.get_by_role("button", name="确认支付").click()
    expect(page.get_by_role("heading", name="缴费成功")).to_be_visible()
    ph.shot("result")
    page.get_by_role("link", name="完成").click()
    expect(page.locator(".qd-modules")).to_be_visible()


def settled(live: LiveServer) -> int:
    with live.app.extensions["db_sessionmaker"]() as s:
        return s.scalar(select(func.count()).select_from(SettledPayment).where(SettledPayment.channel.in_(list(QD_UA))))


def test_R_QD_3_qd_wechat_自助缴费_and_缴费明细查询(live_server: LiveServer, qd_phone) -> None:  # type: ignore[no-untyped-def]
    """“青岛税务”微信公众号 · 一、自助缴费 and 四、缴费明细查询 (标准版): 微信支付 only."""
    ph = qd_phone("qd-wechat", "standard")
    enter(ph, "qd-wechat", "社保缴费", LIN_HAI)
    pay_first_number(ph, None, "2,400.00", "微信支付")
    assert settled(live_server) == 2
    page = ph.page
    page.locator(".app-tile", has_text=re.compile(r"^\s*缴费\s*$")).click()
    page.get_by_role("link", name="缴费记录").click()
    expect(page.locator(".qd-records")).to_contain_text("费款所属期 2026-11")
    ph.shot("records")


def test_R_QD_3_qd_city_自助缴费_elder(live_server: LiveServer, qd_phone) -> None:  # type: ignore[no-untyped-def]
    """微信“城市服务” · 一、自助缴费, 长辈版."""
    ph = qd_phone("qd-city", "elder")
    enter(ph, "qd-city", "青岛税务社会保险缴费", LIN_HAI)
    expect(ph.page.locator("html")).to_have_attribute("data-mode", "elder")
    pay_first_number(ph, None, "2,400.00", "微信支付")
    assert settled(live_server) == 2


def test_R_QD_3_qd_alipay_自助缴费(live_server: LiveServer, qd_phone) -> None:  # type: ignore[no-untyped-def]
    """支付宝“市民中心” · 一、自助缴费: 支付宝."""
    ph = qd_phone("qd-alipay", "standard")
    enter(ph, "qd-alipay", "青岛税务社保缴费", LIN_HAI)
    pay_first_number(ph, None, "2,400.00", "支付宝")
    assert settled(live_server) == 2


def test_R_QD_3_qd_sst_自助缴费_after_its_real_name_login(live_server: LiveServer, qd_phone) -> None:  # type: ignore[no-untyped-def]
    """税税通APP · 一、自助缴费: 完成实名认证 first (the app's login), then the module; pays by 银联 of the three."""
    ph = qd_phone("qd-sst", "standard")
    page = ph.page
    page.goto(f"{ph.base}/qd?ch=qd-sst")
    expect(page.get_by_role("heading", name="身份验证")).to_be_visible()
    page.get_by_label("姓名").fill(LIN_HAI[0])
    page.get_by_label("证件号码").fill(LIN_HAI[1])
    page.locator("#f-agree").check()
    page.get_by_role("button", name="开始人脸识别").click()
    expect(page.get_by_role("heading", name="人脸识别")).to_be_visible()
    page.get_by_role("button", name="开始人脸识别").click()
    expect(page.get_by_role("heading", name="灵活就业、居民社保费缴纳")).to_be_visible()  # back to the module
    enter(ph, "qd-sst", "灵活就业、居民社保费缴纳", LIN_HAI)
    pay_first_number(ph, "银联支付", "2,400.00", "银联在线支付")
    assert settled(live_server) == 2


def test_R_QD_6_qd_unionpay_特殊缴费_elder(live_server: LiveServer, qd_phone) -> None:  # type: ignore[no-untyped-def]
    """银联云闪付 · 特殊缴费 (earlier years' items, no 缴费基数), 长辈版: 银联."""
    ph = qd_phone("qd-unionpay", "elder")
    page = ph.page
    enter(ph, "qd-unionpay", "社保缴费", SONG_TAO)
    page.locator(".app-tile", has_text="特殊缴费").click()
    number = page.locator(".qd-number").first
    expect(number).to_contain_text("险种类型：企业职工基本养老保险")
    expect(number).not_to_contain_text("缴费基数")
    ph.shot("special-numbers")
    number.get_by_role("link", name="立即缴费").click()
    expect(page.locator("#total")).to_contain_text("¥3,300.00")
    page.get_by_role("button", name="立即缴费").click()
    page.get_by_role("button", name="确定").click()
    expect(page.get_by_text("银联在线支付收银台（模拟）")).to_be_visible()
    page.get_by_label("支付密码").fill("123456")
    page.get_by_role("button", name="确认支付").click()
    expect(page.get_by_role("heading", name="缴费成功")).to_be_visible()
    ph.shot("special-result")
    page.get_by_role("link", name="完成").click()
    assert settled(live_server) == 3


def test_R_QD_4_qd_wechat_缴费基数选择_elder(live_server: LiveServer, qd_phone) -> None:  # type: ignore[no-untyped-def]
    """二、缴费基数选择, 长辈版: 选择个人参保编号, 确定, 输入缴费基数金额 (a bad one first: said and kept), 退出."""
    ph = qd_phone("qd-wechat", "elder")
    page = ph.page
    enter(ph, "qd-wechat", "社保缴费", SUN_LAN)
    page.locator(".app-tile", has_text="缴费档次或基数选择").click()
    page.locator(".qd-number").first.click()
    expect(page.get_by_text("缴费基数金额请在3980元-19899元之间选择")).to_be_visible()
    page.get_by_label("缴费基数金额").fill("20000")
    page.get_by_role("button", name="确定").click()
    expect(page.get_by_role("alert")).to_contain_text("缴费基数金额请在3980元-19899元之间选择")
    expect(page.get_by_label("缴费基数金额")).to_have_value("20000")
    ph.shot("base-refused")
    page.get_by_label("缴费基数金额").fill("5000")
    page.get_by_role("button", name="确定").click()
    expect(page.get_by_role("heading", name="基数确认成功")).to_be_visible()
    ph.shot("base-done")
    page.get_by_role("link", name="缴费", exact=True).click()
    expect(page.locator(".qd-waiting").first).to_contain_text("待社保部门核定后生成应缴费信息")
    ph.shot("waiting-for-bill")
    with live_server.app.extensions["db_sessionmaker"]() as s:
        assert s.scalar(select(QdBaseChoice.base).order_by(QdBaseChoice.id.desc()).limit(1)) == 5000
