"""Issue 17, the web side: each defect the security probe found, replayed as the probe sent it (D2 login
CSRF, D3 lockout by a stranger, D4 fixation, D5 the keyed register, D6 three 500s, D9 /verify, D11 headers).
Each test fails on the code before the fix and passes after."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from tests.conftest import Browser, text
from tests.factories import make_person
from webapp.models import WebSession

# ----------------------------------------------------------------------------------------- D6: three 500s


@pytest.mark.parametrize("path", ["/rm/pay", "/flex/base/preview", "/agreements/new", "/logout/everywhere"])
@pytest.mark.parametrize("current_url", ["http://[", "http://[::1", "//[", "\x7f", "ht!tp://x y"])
def test_D6_a_made_up_hx_current_url_on_a_login_required_route_is_a_login_redirect_not_a_500(
    app, browser, path, current_url
):
    """The probe's first 500 (18 of 20 fuzz 500s): an anonymous htmx POST whose HX-Current-URL is no URL."""
    browser.get("/")
    r = browser.post(path, {}, headers={"HX-Request": "true", "HX-Current-URL": current_url})
    assert r.status_code == 200 and r.headers["HX-Redirect"].startswith("/login?next=")


def test_D6_an_hx_current_url_of_this_site_still_brings_the_user_back_after_login(app, browser):
    browser.get("/")
    r = browser.post(
        "/flex/base/preview", {}, headers={"HX-Request": "true", "HX-Current-URL": "http://localhost/flex/base"}
    )
    assert r.headers["HX-Redirect"] == "/login?next=/flex/base"


@pytest.mark.parametrize("nxt", ["//[", "//[::1", "/\\[", "http://["])
def test_D6_a_next_that_is_no_url_is_ignored_not_a_500(browser, nxt):
    r = browser.get("/login?next=" + nxt)
    assert r.status_code == 200 and "身份验证" in text(r) or "登录" in text(r)


def test_D6_agreement_options_for_someone_without_offices_renders_the_notice(app, phone_user, stranger):
    """The probe's second 500: 孙强 (no enrolment, so no 税务机关) changes a select on 新增协议."""
    b = phone_user(stranger, "alipay")
    r = b.get("/agreements/new/options?bank=ICBC", headers={"HX-Request": "true"})
    assert r.status_code == 200 and 'id="dependent"' in text(r)
    assert "未查询到您的参保信息" in text(r)


def test_D6_base_preview_for_someone_without_a_flexible_enrolment_is_an_empty_table(app, family, wechat_user):
    """The probe's third 500: a resident (no flexible enrolment) posts a base to the live amounts."""
    r = wechat_user.post("/flex/base/preview", {"base": "8000"}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and 'id="amounts"' in text(r) and "¥" not in text(r)
