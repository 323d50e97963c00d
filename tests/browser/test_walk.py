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
