"""R-UX-1 measured in a real browser on every entry page, in the standard mode and in 长辈版: the smallest
text, the smallest tap target and the lowest contrast (axe-core, from npm) against the MIIT 适老化 numbers —
body text ≥ 16 px (≥ 20 px in 长辈版), secondary text ≥ 14 px (≥ 18), the tab bar's labels ≥ 12 px (≥ 16),
tap targets ≥ 44 × 44 (≥ 60 × 60), contrast ≥ 4.5 : 1, line height ≥ 1.3. Each run prints what it found, and
saves the README's screenshots (docs/screenshots/, 390 px wide) of /, /rm/pay, /flex/pay/select and
/me/settings in both modes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import CHROMIUM_ARGS, HOST_UA, LiveServer

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "docs" / "screenshots"

LIU_PENG = ("刘鹏", "110108198704150030")  # flex: owes this month and two earlier months
MA_XIULAN = ("马秀兰", "110106196805120023")  # rp: a pension year to pay

ANONYMOUS = ["/", "/login/phone", "/login", "/verify", "/terms"]  # 京通's 授权 (seed 004 §1.2), then 身份验证
SIGNED_IN = [
    (
        LIU_PENG,
        ["/", "/rm/pay", "/flex/pay/select", "/flex/base", "/agreements", "/certificates", "/me", "/me/settings"],
    ),
    (MA_XIULAN, ["/rp/pay"]),
]
SHOTS = {"/": "hall", "/rm/pay": "rm-pay", "/flex/pay/select": "flex-select", "/me/settings": "settings"}

LIMITS = {  # mode: body text, secondary text, tab bar labels, tap target
    "standard": {"body": 16, "small": 14, "chrome": 12, "target": 44},
    "elder": {"body": 20, "small": 18, "chrome": 16, "target": 60},
}

# What the page measures: visible text (its computed size and line height, and whether it is secondary text or
# the app's chrome) and every visible control's tap target (a checkbox's or an input's label counts, as the
# whole label takes the tap; a link inside a sentence is exempt, as in WCAG 2.5.8).
MEASURE = r"""
() => {
  const SECONDARY = '.weui-cells__title, .weui-cells__tips, .app-muted, .app-status, .app-card dl, small, '
    + '.weui-agree__text, .app-steps__item, .weui-msg__extra-area, .qr-poster figure, .app-setting__state, '
    + '.app-tile small';
  const CHROME = '.app-tabbar, .app-bar';
  const visible = el => {
    const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none' && !el.closest('[hidden]');
  };
  const classes = el => (el.className && typeof el.className === 'string'
    ? '.' + el.className.trim().split(/\s+/).join('.') : '');
  const where = el => (el.id ? '#' + el.id : el.tagName.toLowerCase() + classes(el))
    + ' "' + (el.innerText || el.value || '').trim().slice(0, 20) + '"';
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!node.textContent.trim() || !el || !visible(el)) continue;
    if (el.closest('[aria-hidden="true"], svg, script, style, option')) continue;
    const s = getComputedStyle(el), size = parseFloat(s.fontSize);
    const lh = s.lineHeight === 'normal' ? 1.2 : parseFloat(s.lineHeight) / size;
    const kind = el.closest(CHROME) ? 'chrome' : el.closest(SECONDARY) ? 'small' : 'body';
    texts.push({kind, size, lh, where: where(el)});
  }
  const targets = [];
  for (const el of document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary')) {
    if (!visible(el) || el.disabled) continue;
    if (el.tagName === 'A' && getComputedStyle(el).display === 'inline' && el.parentElement
        && el.parentElement.textContent.trim().length > el.textContent.trim().length) continue;  // inline in a sentence
    let box = el.getBoundingClientRect();
    const label = el.closest('label') || (el.id && document.querySelector('label[for="' + el.id + '"]'));
    if (label && visible(label)) {
      const l = label.getBoundingClientRect();
      if (l.width * l.height > box.width * box.height) box = l;
    }
    targets.push({w: Math.round(box.width), h: Math.round(box.height), where: where(el)});
  }
  return {texts, targets};
}
"""


@pytest.fixture
def measuring_browser(playwright_instance: Any) -> Iterator[Any]:
    """Debian's chromium; axe is put into each page by the test, so the context bypasses the app's CSP."""
    browser = playwright_instance.chromium.launch(
        executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True
    )
    yield browser
    browser.close()


def _page(pw: Any, browser: Any, base: str, mode: str) -> Any:
    device = dict(pw.devices["iPhone 13"])
    device.pop("default_browser_type", None)
    device["user_agent"] += HOST_UA["wechat"]
    device["viewport"] = {"width": 390, "height": 844}
    context = browser.new_context(**device, locale="zh-CN", timezone_id="Asia/Shanghai", bypass_csp=True)
    context.set_default_timeout(15_000)
    context.add_cookies([{"name": "display_mode", "value": mode, "url": base}])
    context.add_cookies([{"name": "jt_phone", "value": "1", "url": base}])  # this phone allowed 京通 its number
    return context.new_page()


def _login(page: Any, base: str, name: str, id_number: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("姓名").fill(name)
    page.get_by_label("证件号码").fill(id_number)
    page.locator("#f-agree").check()
    page.get_by_role("button", name="开始人脸识别").click()
    expect(page.get_by_role("heading", name="人脸识别")).to_be_visible()
    page.get_by_role("button", name="开始人脸识别").click()
    expect(page.get_by_text("请选择要办理的业务")).to_be_visible()


def _measure(page: Any, path: str, mode: str, found: dict[str, Any], failures: list[str]) -> None:
    page.wait_for_load_state("load")
    data = page.evaluate(MEASURE)
    limits = LIMITS[mode]
    for t in data["texts"]:
        key = "font_" + t["kind"]
        if t["size"] < found.get(key, (999, ""))[0]:
            found[key] = (t["size"], f"{path} {t['where']}")
        if t["size"] < limits[t["kind"]]:
            failures.append(f"{mode} {path}: {t['kind']} text {t['size']}px < {limits[t['kind']]} at {t['where']}")
        if t["lh"] < 1.3 - 1e-6:
            failures.append(f"{mode} {path}: line height {t['lh']:.2f} < 1.3 at {t['where']}")
        found["line_height"] = min(found.get("line_height", 9), round(t["lh"], 2))
    for b in data["targets"]:
        side = min(b["w"], b["h"])
        if side < found.get("target", (999, ""))[0]:
            found["target"] = (side, f"{path} {b['where']} {b['w']}×{b['h']}")
        if side < limits["target"]:
            failures.append(f"{mode} {path}: target {b['w']}×{b['h']} < {limits['target']} at {b['where']}")
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("""async () => {
      const r = await axe.run(document, {runOnly: ['color-contrast', 'label', 'button-name', 'link-name',
                                                   'html-has-lang', 'image-alt', 'document-title']});
      const ratios = [];
      for (const group of [r.passes, r.violations, r.incomplete])
        for (const rule of group) if (rule.id === 'color-contrast')
          for (const n of rule.nodes) for (const c of n.any) if (c.data && c.data.contrastRatio)
            ratios.push([c.data.contrastRatio, n.target.join(' ')]);
      return {violations: r.violations.map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', ')),
              ratios};
    }""")
    failures.extend(f"{mode} {path}: axe {v}" for v in result["violations"])
    for ratio, target in result["ratios"]:
        if ratio < found.get("contrast", (99, ""))[0]:
            found["contrast"] = (ratio, f"{path} {target}")


@pytest.mark.parametrize("mode", ["standard", "elder"])
def test_R_UX_1_entry_pages_meet_the_size_target_and_contrast_numbers(
    live_server: LiveServer, playwright_instance: Any, measuring_browser: Any, mode: str
) -> None:
    if not AXE.exists():
        pytest.fail("axe-core is missing: run `npm ci` (make setup)")
    base = live_server.url
    found: dict[str, Any] = {}
    failures: list[str] = []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = _page(playwright_instance, measuring_browser, base, mode)
    for path in ANONYMOUS:
        page.goto(base + path)
        _measure(page, path, mode, found, failures)
    for (name, id_number), paths in SIGNED_IN:
        page = _page(playwright_instance, measuring_browser, base, mode)
        _login(page, base, name, id_number)
        for path in paths:
            page.goto(base + path)
            _measure(page, path, mode, found, failures)
            if path in SHOTS and name == LIU_PENG[0]:
                page.screenshot(path=str(SCREENSHOTS / f"{mode}-{SHOTS[path]}.png"), full_page=False)
    print(f"\n[R-UX-1 {mode}] " + json.dumps(found, ensure_ascii=False))
    assert failures == [], "\n".join(sorted(set(failures))[:60])
    assert 'data-mode="' + mode in page.content()


def test_R_UX_1_elder_mode_is_offered_on_the_first_visit_and_switched_in_settings(
    live_server: LiveServer, playwright_instance: Any, measuring_browser: Any
) -> None:
    """No choice yet: the page offers 长辈版 in the page; the choice changes the text size at once and is kept;
    设置 says the state (已开启/已关闭) and switches it back."""
    base = live_server.url
    device = dict(playwright_instance.devices["iPhone 13"])
    device.pop("default_browser_type", None)
    context = measuring_browser.new_context(**device, locale="zh-CN")
    page = context.new_page()
    page.goto(base + "/")
    body_size = "parseFloat(getComputedStyle(document.querySelector('.app-tile')).fontSize)"
    standard = page.evaluate(body_size)
    page.get_by_role("button", name="使用长辈版").click()
    expect(page.locator("html")).to_have_attribute("data-mode", "elder")
    assert page.evaluate(body_size) >= standard * 1.2
    expect(page.get_by_role("button", name="使用长辈版")).to_have_count(0)  # asked once
    _login(page, base, *LIU_PENG)
    page.goto(base + "/me/settings")
    expect(page.locator("#mode-state")).to_have_text("已开启")
    page.get_by_role("button", name="关闭长辈版").click()
    expect(page.locator("#mode-state")).to_have_text("已关闭")
    expect(page.locator("html")).to_have_attribute("data-mode", "standard")
    page.get_by_role("button", name="退出登录").click()
    expect(page.locator("html")).to_have_attribute("data-mode", "standard")  # a setting of the phone, kept
    context.close()
