"""The app under its Content-Security-Policy in a real browser: no inline script or style anywhere, htmx 2
and WeUI working (live amounts, the live 合计, the styles), and no CSP violation in the console on any
page the walk opens (the ``phone`` fixture fails a test that logs one)."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import expect

from .conftest import LiveServer, Phone
from .test_family_payment import login

HUANG_LEI = ("黄磊", "110106199502110016")  # flex-new: inside the new-enrollee window, may declare a base
ZHOU_MIN = ("周敏", "110106197811030029")  # face-fails


def test_the_console_watch_sees_a_csp_violation(live_server: LiveServer, phone: Callable[[str], Phone]) -> None:
    """The check is real: an inline <style> (what htmx would inject with its indicator styles on) is refused
    by the CSP and shows in the console."""
    ph = phone("wechat")
    ph.open("/")
    ph.page.evaluate("document.head.insertAdjacentHTML('beforeend', '<style>body{color:red}</style>')")
    ph.page.wait_for_timeout(300)
    assert any("style" in v for v in ph.csp_violations)
    ph.csp_violations.clear()


def test_pages_and_htmx_work_under_the_csp(live_server: LiveServer, phone: Callable[[str], Phone]) -> None:
    ph = phone("alipay")
    page = ph.page
    ph.open("/?ch=alipay")
    assert page.evaluate("getComputedStyle(document.querySelector('.app-bar')).position") == "sticky"  # app.css
    login(ph, *HUANG_LEI)
    assert page.evaluate("document.querySelectorAll('style').length") == 0  # htmx injected no <style>

    ph.open("/flex/base")
    page.get_by_label("缴费基数（元）").fill("8000")
    expect(page.locator("#amounts")).to_contain_text("1,600.00")  # htmx: live amounts from the server
    ph.shot("base-live-amounts")

    for path in (
        "/flex/pay",
        "/flex/due",
        "/flex/records",
        "/rm/pay",
        "/rm/declared",
        "/rm/records",
        "/me",
        "/qr",
        "/no/such/page",
    ):
        ph.open(path)
        page.wait_for_load_state("load")
    expect(page.locator("h2.weui-msg__title")).to_have_text("未找到")
    ph.shot("not-found")

    ph.open("/me/settings")
    expect(page.get_by_role("button", name="退出所有设备")).to_be_visible()
    ph.shot("settings")
    with page.expect_navigation():  # the logout has answered before the next page is asked for
        ph.tap(page.get_by_role("button", name="退出登录"))
    ph.open("/rm/pay")
    expect(page.get_by_role("heading", name="身份验证")).to_be_visible()


def test_a_failed_face_check_reads_the_same_for_a_wrong_name(
    live_server: LiveServer, phone: Callable[[str], Phone]
) -> None:
    """R-ID-4 on the phone: the holder whose face the simulation refuses sees why; a stranger with a wrong
    name sees the one neutral message."""
    ph = phone("wechat")
    page = ph.page
    ph.open("/login")
    ph.tap(page.get_by_role("button", name="允许"))  # 京通 asks for the phone number first (seed 004 §1.2)
    expect(page.get_by_role("heading", name="身份验证")).to_be_visible()
    for name, expected, shot in ((ZHOU_MIN[0], "光线", "holder"), ("周某某", "请核对姓名", "stranger")):
        ph.open("/login")
        page.get_by_label("姓名").fill(name)
        page.get_by_label("证件号码").fill(ZHOU_MIN[1])
        page.locator("#f-agree").check()
        ph.tap(page.get_by_role("button", name="开始人脸识别"))
        expect(page.get_by_role("heading", name="人脸识别")).to_be_visible()
        ph.tap(page.get_by_role("button", name="开始人脸识别"))
        expect(page.get_by_role("alert")).to_contain_text(expected)
        ph.shot(f"face-refused-{shot}")
