"""History-safe fragments (issue 18 item 5): no URL htmx pushes into the address bar carries ``?partial=``, and
every page that answers htmx with a fragment answers 返回 (htmx 2's history restore sends ``HX-Request`` with
``HX-History-Restore-Request: true``), a refresh and a boosted link with the whole page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask

from tests.factories import make_pension_payer

from ..conftest import text

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
RESTORE = {"HX-Request": "true", "HX-History-Restore-Request": "true", "HX-Current-URL": "http://localhost/"}
FRAGMENT = {"HX-Request": "true", "HX-Target": "results"}


def _whole(html: str) -> bool:
    return "<html" in html and "app-tabbar" in html and "app-bar__title" in html


def test_no_pushed_url_carries_partial() -> None:
    """An element that pushes its URL (hx-push-url) never asks with ``partial=``: the address bar would keep it."""
    wrong = []
    for path in TEMPLATES.rglob("*.html"):
        for tag in re.findall(r"<[^>]*hx-push-url[^>]*>", path.read_text(encoding="utf-8"), flags=re.S):
            if "partial" in tag:
                wrong.append(f"{path.relative_to(TEMPLATES)}: {tag[:120]}")
    assert not wrong, "\n".join(wrong)


@pytest.fixture
def pension_user(app: Flask, phone_user):  # type: ignore[no-untyped-def]
    """A resident pension payer, logged in inside WeChat."""
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        person = make_pension_payer(s)
        s.commit()
    return phone_user(person, "wechat")


@pytest.mark.parametrize("url", ["/rm/declared", "/rm/declared?start=2026-01-01&end=2026-12-31"])
def test_rm_declared_is_whole_on_history_restore(wechat_user, url):
    """城乡居民医疗 · 已申报查询: 查询 swaps the results; 返回 to the pushed URL gets the page."""
    assert _whole(text(wechat_user.get(url, headers=RESTORE)))
    assert _whole(text(wechat_user.get(url)))  # a refresh
    fragment = text(wechat_user.get(url, headers=FRAGMENT))
    assert "<html" not in fragment and 'id="results"' in fragment
    assert 'hx-push-url="true"' in text(wechat_user.get(url)) and "partial=" not in text(wechat_user.get(url))


@pytest.mark.parametrize("url", ["/rp/declared", "/rp/declared?start=2026-01-01&end=2026-12-31"])
def test_rp_declared_is_whole_on_history_restore(pension_user, url):
    """城乡居民养老 · 申报记录查询: the same."""
    assert _whole(text(pension_user.get(url, headers=RESTORE)))
    assert _whole(text(pension_user.get(url)))
    fragment = text(pension_user.get(url, headers=FRAGMENT))
    assert "<html" not in fragment and 'id="results"' in fragment
    assert "partial=" not in text(pension_user.get(url))


def test_certificate_downloads_are_whole_on_history_restore(wechat_user):
    """记录下载's polled list (never pushed) still answers a restore with the page."""
    assert _whole(text(wechat_user.get("/certificates/downloads?partial=1", headers=RESTORE)))


def test_agreement_options_are_whole_on_history_restore(wechat_user):
    """新增协议's dependent fields (a GET fragment, never pushed) answer a restore with the page."""
    assert _whole(text(wechat_user.get("/agreements/new/options", headers=RESTORE)))


def test_a_boosted_link_gets_the_whole_page(wechat_user):
    """hx-boost on <body>: a tapped link to 已申报查询 replaces the body with the page, not the results."""
    assert _whole(text(wechat_user.get("/rm/declared", headers={"HX-Request": "true", "HX-Boosted": "true"})))
