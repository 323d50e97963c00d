"""A newcomer's walk on a phone (issue 20, items 12–24): what the screens show at 390 px, in the standard mode
and in 长辈版, after each fix. Each test is named by what the user sees; screenshots go to tests/artifacts/."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import ARTIFACTS, LiveServer
from .test_accessibility import _login, _page

LIU_PENG = ("刘鹏", "110108198704150030")  # flex: owes this month and two earlier months
MODES = ["standard", "elder"]


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"walk-{name}.png"), full_page=True)


@pytest.mark.parametrize("mode", MODES)
def test_back_after_logout_shows_a_whole_page_with_the_tab_bar(
    live_server: LiveServer, playwright_instance: Any, browser_instance: Any, mode: str
) -> None:
    base = live_server.url
    page = _page(playwright_instance, browser_instance, base, mode)
    _login(page, base, *LIU_PENG)
    page.goto(base + "/me/settings")
    page.get_by_role("button", name="退出登录").click()
    expect(page.get_by_role("link", name="登录")).to_be_visible()
    page.go_back()
    expect(page.get_by_role("heading", name="身份验证")).to_be_visible()  # the page it left needs a login
    expect(page.locator(".app-tabbar")).to_be_visible()
    expect(page.locator(".app-bar__title")).to_have_text("身份验证")
    _shot(page, f"{mode}-back-after-logout")
    page.go_forward()
    expect(page.locator(".app-tabbar")).to_be_visible()
    page.context.close()


WANG_JIANGUO = ("王建国", "110105198003120032")  # rm-family: pays for his father, mother and child

STYLE = """el => {
  const bd = el.querySelector('.weui-cell__bd'), ft = el.querySelector('.weui-cell__ft');
  const arrow = ft ? getComputedStyle(ft, '::after') : null;
  return {color: getComputedStyle(bd).color, size: parseFloat(getComputedStyle(bd).fontSize),
          height: el.getBoundingClientRect().height,
          background: getComputedStyle(el.closest('.weui-cells')).backgroundColor,
          arrow: arrow && arrow.content !== 'none' ? parseFloat(arrow.width) : 0};
}"""


@pytest.mark.parametrize("mode", MODES)
def test_other_person_entry_on_rm_pay_looks_tappable_like_the_self_entry(
    live_server: LiveServer, playwright_instance: Any, browser_instance: Any, mode: str
) -> None:
    """他人 was a grey caption: now a row like 本人's (same text colour and size, a white row, an arrow, a
    finger's height), and tapping it unfolds the insured's fields."""
    base = live_server.url
    page = _page(playwright_instance, browser_instance, base, mode)
    _login(page, base, *WANG_JIANGUO)
    page.goto(base + "/rm/pay")
    me = page.get_by_role("button", name="本人：王建国").evaluate(STYLE)
    other_entry = page.locator("summary", has_text="他人")
    other = other_entry.evaluate(STYLE)
    assert other["color"] == me["color"] and other["size"] == me["size"], (other, me)
    assert other["background"] == me["background"] == "rgb(255, 255, 255)"
    assert other["arrow"] > 0 and other["height"] >= (60 if mode == "elder" else 44), other
    expect(page.get_by_label("姓名")).to_be_hidden()
    other_entry.click()
    expect(page.get_by_label("姓名")).to_be_visible()
    _shot(page, f"{mode}-rm-pay-other")
    page.context.close()


BOX = "el => { const r = el.getBoundingClientRect(); return [r.width, r.height]; }"


@pytest.mark.parametrize("mode", MODES)
def test_hall_login_link_is_a_target_a_finger_finds(
    live_server: LiveServer, playwright_instance: Any, browser_instance: Any, mode: str
) -> None:
    """The hall's 登录 was a 34 × 20 px word inside a sentence: now at least 44 × 44 (60 × 60 in 长辈版)."""
    base = live_server.url
    page = _page(playwright_instance, browser_instance, base, mode)
    page.goto(base + "/")
    link = page.get_by_role("link", name="登录", exact=True)
    width, height = link.evaluate(BOX)
    least = 60 if mode == "elder" else 44
    assert width >= least and height >= least, (width, height)
    _shot(page, f"{mode}-hall-login")
    link.click()
    expect(page.get_by_role("heading", name="身份验证")).to_be_visible()
    page.context.close()


@pytest.mark.parametrize("mode", MODES)
def test_refused_base_is_focused_and_marked_invalid(
    live_server: LiveServer, playwright_instance: Any, browser_instance: Any, mode: str
) -> None:
    """R-UX-2: a refused base declaration puts the cursor in the base field, marked invalid, the message read
    with it, and keeps what was typed."""
    base = live_server.url
    page = _page(playwright_instance, browser_instance, base, mode)
    _login(page, base, "黄磊", "110106199502110016")  # flex-new: may declare this month (new-enrollee window)
    page.goto(base + "/flex/base")
    field = page.get_by_label("缴费基数（元）")
    field.fill("100")
    page.get_by_role("button", name="提交").click()
    expect(page.locator(".field-error")).to_contain_text("缴费基数")
    field = page.get_by_label("缴费基数（元）")
    expect(field).to_be_focused()
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_value("100")
    assert page.evaluate("document.getElementById(document.activeElement.getAttribute('aria-describedby')).innerText")
    _shot(page, f"{mode}-base-refused")
    page.context.close()


@pytest.mark.parametrize("mode", MODES)
def test_repeated_face_failures_show_where_else_to_pay_on_the_phone(
    live_server: LiveServer, playwright_instance: Any, browser_instance: Any, mode: str
) -> None:
    base = live_server.url
    page = _page(playwright_instance, browser_instance, base, mode)
    page.goto(base + "/login")
    page.get_by_label("姓名").fill("周敏")  # face-fails
    page.get_by_label("证件号码").fill("110106197811030029")
    page.locator("#f-agree").check()
    page.get_by_role("button", name="开始人脸识别").click()
    expect(page.get_by_role("heading", name="人脸识别")).to_be_visible()
    page.get_by_role("button", name="开始人脸识别").click()
    expect(page.get_by_role("button", name="重新识别")).to_be_visible()
    expect(page.get_by_text("多次识别未通过")).to_have_count(0)
    page.get_by_role("button", name="重新识别").click()
    elsewhere = page.get_by_role("region", name="多次识别未通过，也可以通过以下渠道办理")
    expect(elsewhere).to_contain_text("国家税务总局北京市电子税务局")
    expect(elsewhere).to_contain_text("社保大厅税务窗口")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
    _shot(page, f"{mode}-face-elsewhere")
    page.context.close()


QIAN_MIN = ("钱敏", "110105198205160040")  # agreement: owes her resident medical year (协议支付 in Alipay)
CUT = """() => { const h = document.querySelector('.app-bar__title'), s = getComputedStyle(h);
  return {text: h.innerText, cut: h.scrollWidth > h.clientWidth + 1 || h.scrollHeight > h.clientHeight + 1
          || (s.textOverflow === 'ellipsis' && s.overflow === 'hidden' && s.whiteSpace === 'nowrap'),
          lines: Math.round(h.getBoundingClientRect().height / parseFloat(s.lineHeight)),
          page: document.documentElement.scrollWidth}; }"""


@pytest.mark.parametrize("mode", MODES)
def test_title_bar_shows_whole_titles_in_alipay_and_elder_mode(
    live_server: LiveServer, playwright_instance: Any, browser_instance: Any, mode: str
) -> None:
    """ "城乡居民医疗 · 选择支…": a title that does not fit beside the channel's name wraps, whole, never cut."""
    base = live_server.url
    page = _page(playwright_instance, browser_instance, base, mode)
    page.goto(base + "/?ch=alipay")
    _login(page, base, *QIAN_MIN)
    page.goto(base + "/rm/pay")
    page.get_by_role("button", name="本人：钱敏").click()
    page.get_by_role("button", name="下一步", exact=True).click()  # 参保信息选择
    page.get_by_role("button", name="提交").click()
    expect(page.locator(".app-bar__title")).to_have_text("城乡居民医疗 · 选择支付方式")
    expect(page.locator(".app-bar__channel")).to_have_text("京通（支付宝）")
    pages = {page.url[len(base) :]: "城乡居民医疗 · 选择支付方式"}
    for path, title in {
        "/rm/pay": "城乡居民医疗 · 缴费办理",
        "/rm/declared": "城乡居民医疗 · 已申报查询",
        "/flex/due": "灵活就业 · 应缴费信息查询",
        "/flex/base": "灵活就业人员缴费基数申报",
        "/flex/records": "灵活就业 · 缴费记录查询",
        "/rp/declared": "城乡居民养老 · 申报记录查询",
    }.items():
        pages[path] = title
    for path, title in pages.items():
        page.goto(base + path)
        found = page.evaluate(CUT)
        assert found["text"] == title and not found["cut"] and found["page"] <= 390, (path, found)
        assert found["lines"] <= 2, (path, found)
        if path.startswith("/pay/"):
            _shot(page, f"{mode}-title-alipay-method")
    page.context.close()


ZHAO_LI = ("赵丽", "110108198507220028")  # rm-paid: this year paid and posted, so she can apply at once
SIZES = """() => { const img = document.querySelector('.cert-page'), box = img.closest('.cert-zoom');
  const w = img.getBoundingClientRect().width;
  return {img: w, text_px: 8 * w / 842, box: box.clientWidth, box_scrolls: box.scrollWidth > box.clientWidth,
          page: document.documentElement.scrollWidth,
          viewport: document.querySelector('meta[name=viewport]').content}; }"""


@pytest.mark.parametrize("mode", MODES)
def test_certificate_preview_fits_the_width_and_zooms_to_readable_text(
    live_server: LiveServer, playwright_instance: Any, browser_instance: Any, mode: str
) -> None:
    """社会保险费缴费证明 at 390 px: the page fits the screen (its 8 pt text is then about 3 px); two fingers may
    zoom (the viewport allows it), and 放大查看 shows it at full size, 16 px text, in a box that scrolls, the
    page itself no wider than the phone; 适应屏幕宽度 brings it back."""
    from sqlalchemy import select

    from tests.factories import make_certificate
    from webapp.models import Person, Receivable, SettledPayment

    base = live_server.url
    with live_server.app.extensions["db_sessionmaker"]() as s:
        person = s.scalar(select(Person).where(Person.id_number == ZHAO_LI[1]))
        office = s.scalar(
            select(Receivable.tax_office).join(SettledPayment).where(SettledPayment.payer_id == person.id).limit(1)
        )
        cert = make_certificate(s, person, tax_office=office, base_url=base)
        s.commit()
        cert_id = cert.id
    page = _page(playwright_instance, browser_instance, base, mode)
    _login(page, base, *ZHAO_LI)
    page.goto(f"{base}/certificates/{cert_id}")
    expect(page.locator(".cert-page")).to_be_visible()
    page.wait_for_function("document.querySelector('.cert-page').complete")
    fit = page.evaluate(SIZES)
    assert fit["img"] <= fit["box"] + 1 and fit["page"] <= 390 and not fit["box_scrolls"], fit
    assert "user-scalable=no" not in fit["viewport"] and "maximum-scale" not in fit["viewport"]
    _shot(page, f"{mode}-certificate-fit")
    zoom = page.get_by_role("button", name="放大查看")
    least = 60 if mode == "elder" else 44
    assert min(zoom.evaluate(BOX)) >= least
    zoom.click()
    toggle = page.get_by_role("button", name="适应屏幕宽度")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    zoomed = page.evaluate(SIZES)
    assert zoomed["text_px"] >= 14 and zoomed["box_scrolls"] and zoomed["page"] <= 390, zoomed
    page.locator(".cert-zoom").first.evaluate("b => { b.scrollLeft = 600; }")
    _shot(page, f"{mode}-certificate-zoomed")
    toggle.click()
    expect(page.get_by_role("button", name="放大查看")).to_have_attribute("aria-pressed", "false")
    assert page.evaluate(SIZES)["img"] <= fit["box"] + 1
    page.context.close()


BEFORE_BILLS = """() => { const first = document.querySelector('.app-card, #amounts');
  return [...document.querySelectorAll('main .app-notice')].filter(n =>
    !first || (n.compareDocumentPosition(first) & Node.DOCUMENT_POSITION_FOLLOWING)).map(n => n.innerText); }"""


@pytest.mark.parametrize("mode", MODES)
def test_flexible_pages_open_with_one_notice_then_the_bills_and_a_basis_link(
    live_server: LiveServer, playwright_instance: Any, browser_instance: Any, mode: str
) -> None:
    """刘鹏 (three months owed, medical about to lapse): one notice — the 断缴 warning — then the bills; the medical
    rule at the medical bills; which year's numbers at the end, with 依据 opening where they come from."""
    base = live_server.url
    page = _page(playwright_instance, browser_instance, base, mode)
    _login(page, base, *LIU_PENG)
    for path in ("/flex/pay/select", "/flex/due", "/flex/base"):
        page.goto(base + path)
        notices = page.evaluate(BEFORE_BILLS)
        assert len(notices) <= 1, (path, notices)
    page.goto(base + "/flex/pay/select")
    assert "断缴" in page.evaluate(BEFORE_BILLS)[0]
    expect(page.get_by_text("本期应缴费与往期未缴费须一次性全部缴纳")).to_be_visible()
    expect(page.get_by_text("推算值")).to_have_count(0)
    _shot(page, f"{mode}-flex-select")
    basis = page.get_by_role("link", name="依据")
    least = 60 if mode == "elder" else 44
    assert min(basis.evaluate(BOX)) >= least
    basis.click()
    expect(page.locator(".app-bar__title")).to_have_text("灵活就业 · 缴费标准依据")
    expect(page.get_by_role("cell", name="推算").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    _shot(page, f"{mode}-flex-basis")
    page.context.close()


def _factory_person(live_server: LiveServer, build: Any) -> tuple[str, str]:
    """Someone built by a factory in the live server's database; their name and ID number, to log in with."""
    with live_server.app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        person = build(s)
        s.commit()
    return person.name, person.id_number


@pytest.mark.parametrize("mode", MODES)
def test_amount_void_page_shows_a_paid_year_without_offering_void(
    live_server: LiveServer, playwright_instance: Any, browser_instance: Any, mode: str
) -> None:
    from tests.factories import make_pension_payer

    who = _factory_person(live_server, lambda s: make_pension_payer(s, "杨梅", amount=3000, paid=True))
    base = live_server.url
    page = _page(playwright_instance, browser_instance, base, mode)
    _login(page, base, *who)
    page.goto(base + "/rp/amount/void")
    card = page.locator(".app-card", has_text="2026年度")
    expect(card).to_contain_text("已缴费")
    expect(card).to_contain_text("2026年度已缴费，无需作废缴费金额")
    expect(page.get_by_role("radio")).to_have_count(0)
    expect(page.get_by_role("button", name="作废")).to_have_count(0)
    _shot(page, f"{mode}-rp-amount-void-paid")
    page.context.close()


@pytest.mark.parametrize("mode", MODES)
def test_agreement_payment_says_when_a_new_agreement_takes_effect_on_the_phone(
    live_server: LiveServer, playwright_instance: Any, browser_instance: Any, mode: str
) -> None:
    from datetime import date

    from tests.factories import make_agreement, make_resident

    def build(s: Any) -> Any:
        person = make_resident(s, "钱新", birth=date(1982, 5, 16))
        make_agreement(s, person, live_server.providers, effective_on=date(2026, 11, 23))
        return person

    who = _factory_person(live_server, build)
    base = live_server.url
    page = _page(playwright_instance, browser_instance, base, mode)
    page.goto(base + "/?ch=alipay")
    _login(page, base, *who)
    page.goto(base + "/rm/pay")
    page.get_by_role("button", name="本人：钱新").click()
    page.get_by_role("button", name="下一步", exact=True).click()  # 参保信息选择
    page.get_by_role("button", name="提交").click()
    page.get_by_text("协议支付", exact=True).click()
    page.get_by_role("button", name="确认缴费").click()
    page.get_by_role("dialog").get_by_role("button", name="确定").click()  # the prompt before the agreements
    expect(page.get_by_text("将于2026年11月23日生效，生效后即可使用协议支付")).to_be_visible()
    expect(page.get_by_text("请先新增协议")).to_have_count(0)
    _shot(page, f"{mode}-method-agreement-tomorrow")
    page.context.close()


@pytest.mark.parametrize("mode", MODES)
def test_void_declaration_asks_cancel_or_confirm_on_the_phone(
    live_server: LiveServer, playwright_instance: Any, browser_instance: Any, mode: str
) -> None:
    base = live_server.url
    page = _page(playwright_instance, browser_instance, base, mode)
    _login(page, base, *LIU_PENG)
    page.goto(base + "/flex/pay/select")
    page.get_by_role("button", name="提交").click()
    expect(page.get_by_role("button", name="确认缴费")).to_be_visible()
    page.goto(base + "/flex/pay/select")
    page.get_by_role("button", name="作废申报").click()
    dialog = page.get_by_role("dialog", name="确认作废申报")
    expect(dialog.get_by_role("button", name="确定", exact=True)).to_be_visible()
    expect(dialog.get_by_role("button", name="取消", exact=True)).to_be_visible()
    _shot(page, f"{mode}-void-confirm")
    dialog.get_by_role("button", name="确定", exact=True).click()
    expect(page.get_by_role("button", name="作废申报")).to_have_count(0)
    page.context.close()
