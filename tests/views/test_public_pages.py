"""Issue 21: the public pages from bytes (``webapp.public_pages``). Each visitor still gets a form token bound to their
own pre-session cookie (issue 17 D2) and ``/verify`` a captcha of its own; only the rest of the page is reused, and
what the page is rendered from (channel, display mode, query, htmx) keys it."""

from __future__ import annotations

import re

from flask import Flask

from tests.conftest import Browser, text
from tests.factories import make_person
from webapp.domain.regions import QINGDAO
from webapp.public_pages import PublicPages


def _token(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no form token on the page"
    return m.group(1)


def _fast(app: Flask) -> PublicPages:
    assert isinstance(app.wsgi_app, PublicPages)
    return app.wsgi_app


def test_issue21_public_pages_are_served_from_one_render(app: Flask) -> None:
    """The second anonymous visitor's /login is not rendered again: the template is reused, with their own token."""
    fast = _fast(app)
    first, second = Browser(app), Browser(app)
    a = text(first.get("/login"))
    rendered = len(fast.templates)
    b = text(second.get("/login"))
    assert len(fast.templates) == rendered == 1
    assert _token(a) != _token(b)
    assert a.replace(_token(a), "") == b.replace(_token(b), "")
    assert fast.token_mark not in a + b


def test_issue21_D2_a_cached_login_form_token_stays_bound_to_its_pre_session(app: Flask, db) -> None:  # type: ignore[no-untyped-def]
    """The token of a page served from the template logs in with its own cookie and with no other (issue 17 D2)."""
    p = make_person(db, "张三")
    db.commit()
    form = {"name": p.name, "id_type": "resident_id", "id_number": p.id_number, "agree": "1"}
    Browser(app).get("/login")  # the template exists: the next pages come from it
    mine, other = Browser(app), Browser(app)
    mine_token = _token(text(mine.get("/login")))
    other.get("/login")
    assert other.post("/login", {**form, "csrf_token": mine_token}, csrf=False).status_code == 400
    assert Browser(app).post("/login", {**form, "csrf_token": mine_token}, csrf=False).status_code == 400
    assert mine.post("/login", {**form, "csrf_token": mine_token}, csrf=False).status_code == 303


def test_issue21_R_CE_5_each_verify_page_has_its_own_captcha(app: Flask) -> None:
    """/verify from the template still draws a new challenge per page, and its image is this visitor's."""
    b = Browser(app)
    nonces = []
    for _ in range(3):
        page = text(b.get("/verify"))
        nonces.append(re.search(r"/verify/captcha/([\w-]+)\.png", page).group(1))  # type: ignore[union-attr]
    assert len(set(nonces)) == 3 and len(_fast(app).templates) == 1
    assert b.client.get(f"/verify/captcha/{nonces[-1]}.png").status_code == 200
    assert b.client.get(f"/verify/captcha/{nonces[0]}.png").status_code == 404  # replaced, as before
    assert Browser(app).client.get(f"/verify/captcha/{nonces[-1]}.png").status_code == 404  # not someone else's


def test_issue21_the_key_holds_what_the_page_is_rendered_from(app: Flask) -> None:
    """The channel of the visit (R-CH-1), the display mode (R-UX-1) and the query each get their own page."""
    wechat, alipay = text(Browser(app).get("/?ch=wechat")), text(Browser(app).get("/?ch=alipay"))
    assert "微信" in wechat and "支付宝" in alipay
    b = Browser(app)
    b.get("/?ch=alipay")
    assert "支付宝" in text(b.get("/"))  # the stored channel of this visit, not the last page rendered
    b.client.set_cookie("display_mode", "elder")
    assert 'data-mode="elder"' in text(b.get("/"))
    assert 'data-mode="elder"' not in text(Browser(app).get("/?ch=alipay"))
    expired, plain = text(Browser(app).get("/login?expired=1")), text(Browser(app).get("/login"))
    assert expired.replace(_token(expired), "") != plain.replace(_token(plain), "")  # another query, another page


def test_issue21_the_same_bytes_as_without_the_cache(app: Flask, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Off (PUBLIC_PAGE_CACHE=0) the pages are what the cache serves, token aside; headers too."""
    b = Browser(app)
    cached = b.get("/login?ch=wechat")
    fast = _fast(app)
    app.wsgi_app = fast.wsgi_app  # the app without its fast path
    try:
        plain = Browser(app).get("/login?ch=wechat")
    finally:
        app.wsgi_app = fast
    a, p = text(cached), text(plain)
    assert a.replace(_token(a), "T") == p.replace(_token(p), "T")
    for h in ("Content-Security-Policy", "X-Frame-Options", "Content-Type", "Vary"):
        assert cached.headers.get(h) == plain.headers.get(h), h
    assert any(c.startswith("presession=") for c in cached.headers.getlist("Set-Cookie"))


def test_issue21_a_logged_in_hall_is_never_the_cached_one(app: Flask, db) -> None:  # type: ignore[no-untyped-def]
    """A server-side session goes to Flask: the hall shows the person, not an anonymous template."""
    p = make_person(db, "李四")
    db.commit()
    Browser(app).get("/")
    b = Browser(app)
    b.login(p.name, p.id_number)
    assert "退出" in text(b.get("/")) or "李" in text(b.get("/"))
    assert text(b.get("/")) != text(Browser(app).get("/"))


def test_issue21_healthz_bytes_with_an_etag_and_its_check_at_most_once_a_second(app: Flask) -> None:
    """/healthz is the same for everyone: an ETag, 304 for it; the database is asked at most once a second."""
    client = app.test_client()
    r = client.get("/healthz")
    assert r.status_code == 200 and r.get_json() == {"status": "ok"}
    r = client.get("/healthz")
    tag = r.headers["ETag"]
    assert client.get("/healthz", headers={"If-None-Match": tag}).status_code == 304
    fast = _fast(app)
    fast.health_checked = -1e9  # a second has passed, the database does not answer: Flask says so
    fast._database_answers = lambda: False  # type: ignore[method-assign]
    app.view_functions["hall.healthz"] = lambda: ({"status": "down"}, 503)
    assert client.get("/healthz").status_code == 503


def test_issue21_R_QD_1_a_qingdao_code_on_the_hall_is_redirected_never_served_beijings_cached_hall(app: Flask) -> None:
    """The hall's answer depends on the visit's channel: a Qingdao code (``?ch=qd-…``, or the channel this visit
    stored) goes to /qd, even after Beijing's anonymous hall is a cached template (issue 19 item 1)."""
    fast = _fast(app)
    for ch in ("wechat", "etax-web"):
        assert Browser(app).get(f"/?ch={ch}").status_code == 200
    assert Browser(app).get("/").status_code == 200  # no channel: Beijing's default, from its template now
    beijing = {k for k, t in fast.templates.items() if t.status is not None}
    assert beijing and all(k[0] == "/" for k in beijing)
    for ch in QINGDAO.channels:
        for _ in range(2):  # the first visit of the key and the next one, once the key is known
            r = Browser(app).get(f"/?ch={ch}")
            assert r.status_code == 302 and r.location.endswith("/qd"), ch
            assert "社保费办理" not in text(r)
    visit = Browser(app)
    assert visit.get("/?ch=qd-alipay").status_code == 302
    r = visit.get("/")  # the channel stored for this visit, no ?ch= this time
    assert r.status_code == 302 and r.location.endswith("/qd")
    assert {k for k, t in fast.templates.items() if t.status is not None} == beijing  # no Qingdao key holds a page
