"""The QR poster (R-CH-2): it prints a code only for an entry URL that answers, every printed code opens a
page for a phone user, and the codes encode PUBLIC_BASE_URL (or, unset, the address the poster was opened at)."""

import re
from html import unescape
from urllib.parse import urlsplit

import pytest

from webapp.config import load_config
from webapp.views import hall

from ..conftest import HOST_UA, Browser, text

CHANNELS = ["wechat", "alipay", "baidu", "etax-app", "etax-web"]
QD_CHANNELS = ["qd-wechat", "qd-city", "qd-alipay", "qd-sst", "qd-unionpay"]  # one entry each (R-QD-1)


def _codes(page: str) -> list[str]:
    return [unescape(u) for u in re.findall(r'<span class="app-muted qr-url">([^<]+)</span>', page)]


def test_R_CH_2_every_printed_code_answers_for_a_phone_user(app, phone_user, family, browser):
    page = text(browser.get("/qr"))
    codes = _codes(page)
    assert len(codes) == len(CHANNELS) * len(hall.entry_points()) + len(QD_CHANNELS)
    assert page.index("北京市") < page.index("青岛市")  # grouped by region
    qd_codes = [u for u in codes if "ch=qd-" in u]
    assert [urlsplit(u).query.removeprefix("ch=") for u in qd_codes] == QD_CHANNELS
    for url in qd_codes:  # Qingdao's entries: the name + ID form (税税通: its real-name login first)
        r = Browser(app).get(f"{urlsplit(url).path}?{urlsplit(url).query}")
        assert r.status_code == 200 or r.location.startswith("/login?next="), url
    users = {ch: phone_user(family.payer, ch) for ch in CHANNELS}
    for url in (u for u in codes if u not in qd_codes):
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" == "http://localhost"
        channel = parts.query.removeprefix("ch=")
        assert channel in CHANNELS, url
        path = f"{parts.path}?{parts.query}"
        r = users[channel].get(path)
        assert r.status_code in (200, 302), (url, r.status_code)
        anon = Browser(app, HOST_UA.get(channel, "")).get(path)  # scanned before any login
        assert anon.status_code in (200, 302), (url, anon.status_code)
        if anon.status_code == 302:
            assert anon.location.startswith("/login?next="), url


def test_R_CH_2_an_entry_that_answers_nothing_is_not_printed(browser, monkeypatch):
    monkeypatch.setattr(hall, "ENTRY_POINTS", [*hall.ENTRY_POINTS, ("/gone", "已下线的入口")])
    page = text(browser.get("/qr"))
    assert "已下线的入口" not in page and "/gone?" not in page
    assert page.count("<svg") == len(CHANNELS) * (len(hall.entry_points()) - 1) + len(QD_CHANNELS)


@pytest.mark.parametrize(
    "path, ok", [("/", True), ("/rm/pay", True), ("/verify", True), ("/gone", False), ("/pay/notify/wechat", False)]
)  # POST only: a scan would be 405
def test_R_CH_2_answers_names_the_paths_with_a_get_route(app, path, ok):
    with app.test_request_context("/qr"):
        assert hall.answers(path) is ok


def test_R_CH_2_without_public_base_url_the_codes_use_the_address_the_poster_was_opened_at(app, browser):
    app.config["PUBLIC_BASE_URL_SET"] = False
    try:
        r = browser.client.get("/qr", base_url="http://192.168.1.20:5000")
    finally:
        app.config["PUBLIC_BASE_URL_SET"] = True
    codes = _codes(text(r))
    assert codes and all(c.startswith("http://192.168.1.20:5000/") for c in codes)
    assert "127.0.0.1" not in text(r)


def test_R_CH_2_public_base_url_comes_from_the_environment(tmp_path):
    cfg = load_config(str(tmp_path), env={"PUBLIC_BASE_URL": "https://sb.example.cn/", "SECRET_KEY": "x"})
    assert cfg["PUBLIC_BASE_URL"] == "https://sb.example.cn" and cfg["PUBLIC_BASE_URL_SET"] is True
    cfg = load_config(str(tmp_path), env={"HOST": "0.0.0.0", "SECRET_KEY": "x"})
    assert cfg["PUBLIC_BASE_URL_SET"] is False
    assert cfg["PUBLIC_BASE_URL"] == "http://127.0.0.1:5000"  # never http://0.0.0.0
    assert cfg["PROVIDERS_URL"] == "http://127.0.0.1:5001"
