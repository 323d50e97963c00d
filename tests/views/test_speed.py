"""Issue 12's cheap wins, held: anonymous pages set no cookie, the login form works without one, static files
go out compressed under content-hashed URLs with a year's cache and no ``Vary: Cookie``, and a GET's
transaction (a reader on SQLite) may not write."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from tests.conftest import Browser, text
from tests.factories import make_person


@pytest.mark.parametrize("url", ["/", "/login", "/healthz", "/rm/pay"])
def test_anonymous_get_writes_no_session(app: Flask, browser: Browser, url: str) -> None:
    """An anonymous GET (a login redirect included) creates no session: no session cookie and nothing stored.
    A page's form token rides on the signed pre-session cookie (issue 17, D2), sent once, not on the next page."""
    from webapp.models import WebSession

    r = browser.get(url)
    assert r.status_code in (200, 302)
    assert not any(c.startswith("session=") for c in r.headers.getlist("Set-Cookie"))
    assert "Set-Cookie" not in browser.get(url).headers
    with app.extensions["db_sessionmaker"]() as s:
        assert s.query(WebSession).count() == 0


def test_login_form_without_a_session_still_checks_csrf(app: Flask, db, browser: Browser) -> None:  # type: ignore[no-untyped-def]
    """The cookie-less form token logs in; a forged or missing one is refused as before."""
    p = make_person(db, "张三")
    db.commit()
    form = {"name": p.name, "id_type": "resident_id", "id_number": p.id_number, "agree": "1"}
    stranger = Browser(app)
    assert stranger.post("/login", form, csrf=False).status_code == 400
    assert stranger.post("/login", {**form, "csrf_token": "forged"}, csrf=False).status_code == 400
    browser.get("/login")
    r = browser.post("/login", form)
    assert r.status_code == 303 and "Set-Cookie" in r.headers
    r = browser.get("/login/face")
    assert "Set-Cookie" not in r.headers  # the session now exists; its token is bound to it
    assert browser.post("/login/face").status_code == 303


def test_a_live_session_needs_its_own_token(app: Flask, browser: Browser) -> None:
    """With a session, a token minted for someone without one is refused (it is not the session's)."""
    loose = re.search(r'name="csrf_token" value="([^"]+)"', text(Browser(app).get("/login"))).group(1)  # type: ignore[union-attr]
    browser.get("/?ch=wechat")  # this browser's pre-session
    r = browser.client.post("/me/display-mode", data={"csrf_token": loose})
    assert r.status_code == 400


def test_static_files_compressed_hashed_cached(browser: Browser) -> None:
    """Static URLs carry a content hash; the answer is gzip, cached a year, varies on encoding only."""
    page = text(browser.get("/"))
    urls = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)
    assert urls and all(re.search(r"\?v=[0-9a-f]{12}$", u) for u in urls)
    for u in urls:
        r = browser.client.get(u, headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200
        assert r.headers.get("Content-Encoding") == "gzip"
        assert "max-age=31536000" in r.headers["Cache-Control"]
        assert "Cookie" not in r.headers.get("Vary", "")
        assert "Set-Cookie" not in r.headers
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        r.close()


def test_a_reader_may_not_write(app: Flask) -> None:
    """A GET's session is a reader: on SQLite a write there fails the test (mark the view ``writes``)."""
    from webapp.views._web import db

    if not app.config["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("readers begin deferred on SQLite only")
    with app.test_request_context("/", method="GET"):
        app.preprocess_request()
        with pytest.raises(AssertionError, match="a reader wrote"):
            db().execute(__import__("sqlalchemy").text("DELETE FROM audit_event WHERE 1 = 0"))
