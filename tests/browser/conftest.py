"""Browser fixtures: the app and the simulated providers, each served over real HTTP on a free port of
its own (as `make run` does), the demo people, and a phone (Playwright, Debian's chromium) held like an
iPhone 13 inside WeChat or Alipay.

The app talks to the providers over HTTP and the providers notify from their own thread
(SIM_NOTIFY_MODE=thread); only the retry delays are compressed. Screenshots of every step go to
tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.live import LiveServer, live_pair, stop
from webapp import demo

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"

# What the host apps append to the system browser's user agent.
HOST_UA = {
    "wechat": " MicroMessenger/8.0.50(0x1800323c) NetType/WIFI Language/zh_CN",
    "alipay": " ChannelId(0) Nebula AlipayDefined(nt:WIFI,ws:390|844|3.0) AliApp(AP/10.5.96.6000) "
    "AlipayClient/10.5.96.6000 Language/zh-Hans Region/CN",
}


def _require_chromium() -> None:
    if not os.path.exists(CHROMIUM):
        pytest.skip(
            f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium "
            "fonts-wqy-microhei, or `make browsers`); `playwright install` does not work here"
        )


@pytest.fixture
def live_server(tmp_path: Path, template_dir: Path) -> Iterator[LiveServer]:
    """The app and the providers over real HTTP, with the demo people (what `make run` shows)."""
    _require_chromium()
    live, servers = live_pair(tmp_path, template_dir)
    with live.app.extensions["db_sessionmaker"]() as s:
        demo.seed(s, live.app.extensions["clock"].today())
        s.commit()
        demo.seed_bank(live.app.instance_path, s)
    try:
        yield live
    finally:
        for server, thread in servers:
            stop(server, thread)
        live.app.extensions["db_engine"].dispose()


@dataclass
class Phone:
    """One phone user: a Playwright page that counts taps and screenshots each step."""

    page: Any
    base: str
    prefix: str
    taps: int = 0
    counting: bool = False
    shots: list[Path] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)

    def open(self, path: str) -> None:
        """Open a URL (scanning a QR code; not a tap)."""
        self.page.goto(self.base + path)

    def tap(self, locator: Any) -> None:
        """A tap: one click on a button or link, counted while counting is on."""
        locator.click()
        if self.counting:
            self.taps += 1

    def shot(self, step: str, *, full_page: bool = True) -> Path:
        """A screenshot, numbered in the order taken: the whole page, or (full_page=False) the
        phone's screen as the user sees it, where fixed bars sit where they really are."""
        self.page.wait_for_load_state("load")
        name = re.sub(r"[^0-9A-Za-z_-]+", "-", step).strip("-")
        path = ARTIFACTS / f"{self.prefix}-{len(self.shots) + 1:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        self.shots.append(path)
        return path


@pytest.fixture
def playwright_instance() -> Iterator[Any]:
    """Playwright's sync API (skips when chromium is missing)."""
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture
def browser_instance(playwright_instance: Any) -> Iterator[Any]:
    """Debian's chromium, headless."""
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


@pytest.fixture
def phone(
    request: pytest.FixtureRequest, playwright_instance: Any, browser_instance: Any, live_server: LiveServer
) -> Iterator[Callable[[str], Phone]]:
    """``phone("wechat")`` or ``phone("alipay")``: an iPhone 13 in that host app, zh-CN."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    contexts: list[Any] = []

    def make(host: str) -> Phone:
        device = dict(playwright_instance.devices["iPhone 13"])
        device.pop("default_browser_type", None)
        device["user_agent"] = device["user_agent"] + HOST_UA[host]
        context = browser_instance.new_context(**device, locale="zh-CN", timezone_id="Asia/Shanghai")
        context.set_default_timeout(15_000)
        # Assertions wait as long as actions do: under CI's load an htmx round trip can pass 5 s (expect's default).
        from playwright.sync_api import expect

        expect.set_options(timeout=15_000)
        contexts.append(context)
        ph = Phone(page=context.new_page(), base=live_server.url, prefix=request.node.name)
        ph.page.on(
            "console",
            lambda m: (
                ph.csp_violations.append(f"{ph.page.url}: {m.text}") if "Content Security Policy" in m.text else None
            ),
        )
        phones.append(ph)
        return ph

    phones: list[Phone] = []
    yield make
    for c in contexts:
        c.close()
    # The app's CSP (no inline script or style) holds on every page every browser test opens.
    assert [v for ph in phones for v in ph.csp_violations] == []
