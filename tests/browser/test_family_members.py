"""Managing saved family members on a phone (R-RM-5): relationship and this year's state on 为谁缴费, 修改关系
and 删除 confirmed in the page (no confirm()), nothing wider than the phone; and the hall's 缴费提醒 (R-UX-3)."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import expect

from .conftest import LiveServer, Phone
from .test_family_payment import WANG_JIANGUO, login


def test_R_RM_5_change_a_relationship_and_remove_a_member_on_a_phone(
    live_server: LiveServer, phone: Callable[[str], Phone]
) -> None:
    ph = phone("wechat")
    page = ph.page
    page.on("dialog", lambda d: (_ for _ in ()).throw(AssertionError(f"browser dialog: {d.message}")))
    ph.open("/")
    login(ph, *WANG_JIANGUO)
    expect(page.get_by_role("link", name="城乡居民医疗保险").first).to_be_visible()  # 缴费提醒 (R-UX-3)
    ph.open("/rm/pay")
    expect(page.get_by_role("button", name="他人：王福生（父亲）")).to_be_visible()
    expect(page.get_by_role("button", name="他人：王小雨（子女）")).to_be_visible()
    ph.shot("who-with-relations")
    ph.tap(page.get_by_role("link", name="管理家庭成员（修改关系、删除）"))
    expect(page.get_by_role("heading", name="王小雨（子女）")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    ph.shot("family")
    card = page.locator("section.app-card").filter(has_text="王小雨")
    card.get_by_label("关系").select_option("其他")
    ph.tap(card.get_by_role("button", name="修改关系"))
    expect(page.get_by_text("已将王小雨的关系改为其他")).to_be_visible()
    ph.tap(page.locator("section.app-card").filter(has_text="王福生").get_by_role("link", name="删除"))
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("确定删除家庭成员王福生（父亲）吗")
    ph.shot("remove-dialog", full_page=False)
    ph.tap(dialog.get_by_role("button", name="确定"))
    expect(page.get_by_text("已删除家庭成员王福生")).to_be_visible()
    expect(page.get_by_role("heading", name="王福生（父亲）")).to_have_count(0)
    ph.shot("removed")
