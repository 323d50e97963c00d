"""Trust: only the holder logs in as an ID (R-ID-4), sessions end on the server (R-ID-5), nothing
identifying in a cookie (R-ID-3), rate limits with a 429 page that says when, security headers on every
answer, and error pages in Chinese in the app's layout."""

from __future__ import annotations

import base64
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import Browser, text
from tests.factories import id_number, make_person, make_resident
from webapp.domain.identity import holder_name, register_key
from webapp.models import AuditEvent, Person, RegisteredHolder, WebSession
from webapp.services import identity
from webapp.services.resident_medical import MSG_NOT_FOUND

from .invariants import count

NEUTRAL = identity.MSG_NOT_VERIFIED


def _cookie(b: Browser) -> str:
    c = b.client.get_cookie("session")
    return c.value if c else ""


def _with_cookie(app, value: str):  # type: ignore[no-untyped-def]
    """Another browser holding a copy of a cookie."""
    thief = app.test_client()
    thief.set_cookie("session", value, domain="localhost")
    return thief


def _face(b: Browser, name: str, number: str, **extra: str):  # type: ignore[no-untyped-def]
    """身份验证 then 开始人脸识别; the face check's answer."""
    b.get("/login")
    r = b.post("/login", {"name": name, "id_type": "resident_id", "id_number": number, "agree": "1", **extra})
    assert r.status_code == 303, text(r)
    b.get("/login/face")  # the login form started a new session, with its own token (D4)
    return b.post("/login/face")


def _notice(r) -> str:  # type: ignore[no-untyped-def]
    m = re.search(r'class="app-notice[^"]*"[^>]*>([^<]*)<', text(r))
    return m.group(1) if m else ""


# ----------------------------------------------------------------------------------------- sessions (R-ID-5)


def test_R_ID_5_a_cookie_copied_before_logout_is_refused_after_it(app, wechat_user):
    copied = _cookie(wechat_user)
    assert _with_cookie(app, copied).get("/rm/pay").status_code == 200  # the copy works while logged in
    wechat_user.get("/me/settings")
    assert wechat_user.post("/logout").status_code == 303
    r = _with_cookie(app, copied).get("/rm/pay")
    assert r.status_code == 302 and "/login" in r.location
    assert wechat_user.get("/rm/pay").status_code == 302


def test_R_ID_5_log_out_everywhere_ends_the_sessions_on_every_phone(app, family, phone_user):
    phone_a, phone_b = phone_user(family.payer, "wechat"), phone_user(family.payer, "alipay")
    remembered = Browser(app)
    remembered.get("/login")
    remembered.post(
        "/login",
        {
            "name": family.payer.name,
            "id_type": "resident_id",
            "id_number": family.payer.id_number,
            "agree": "1",
            "remember": "1",
        },
    )
    remembered.get("/login/face")  # the login form started a new session, with its own token (D4)
    remembered.post("/login/face")
    copy_of_b = _cookie(phone_b)
    page = phone_a.get("/me/settings")
    assert "退出所有设备" in text(page)
    assert phone_a.post("/logout/everywhere").status_code == 303
    for b in (phone_a, phone_b, remembered):
        assert b.get("/rm/pay").status_code == 302
    assert _with_cookie(app, copy_of_b).get("/rm/pay").status_code == 302
    with app.extensions["db_sessionmaker"]() as s:
        assert (
            s.scalar(select(func.count()).select_from(WebSession).where(WebSession.person_id == family.payer.id)) == 0
        )


def test_R_ID_5_log_out_everywhere_spares_other_people(app, family, stranger, phone_user):
    mine, theirs = phone_user(family.payer), phone_user(stranger)
    mine.get("/me/settings")
    mine.post("/logout/everywhere")
    assert theirs.get("/me/settings").status_code == 200


@pytest.mark.parametrize("remember, stay", [("", timedelta(hours=2)), ("1", timedelta(days=7))])
def test_R_ID_5_the_stay_ends_on_the_server_and_the_cookie_lives_as_long(app, family, browser, remember, stay):
    r = _face(browser, family.payer.name, family.payer.id_number, remember=remember)
    max_age = int(re.search(r"Max-Age=(\d+)", r.headers["Set-Cookie"]).group(1))
    assert abs(max_age - stay.total_seconds()) <= 5
    copied = _cookie(browser)
    interface = app.session_interface
    real_now = interface.now
    interface.now = lambda: real_now() + stay - timedelta(minutes=1)
    assert browser.get("/rm/pay").status_code == 200
    interface.now = lambda: real_now() + stay + timedelta(seconds=1)
    r = browser.get("/rm/pay")
    assert r.status_code == 302 and "expired=1" in r.location
    assert "登录已过期" in text(browser.get(r.location))
    interface.now = real_now  # even with the clock turned back, the copy stays dead: its session is gone
    assert _with_cookie(app, copied).get("/rm/pay").status_code == 302


def test_R_ID_5_a_session_ended_while_a_request_held_it_is_not_brought_back_by_its_save(app, family, wechat_user):
    """Log out everywhere on one phone while a request of another is under way: its save does not revive it."""
    from webapp.views._sessions import end_every_session_of

    with wechat_user.client.session_transaction() as busy:  # loaded, as a request in flight has it
        assert busy["person_id"] == family.payer.id
        end_every_session_of(app, family.payer.id)
        busy["care"] = False  # the request changes something, so its end saves the session
    assert wechat_user.get("/rm/pay").status_code == 302
    with app.extensions["db_sessionmaker"]() as s:
        assert s.scalar(select(func.count()).select_from(WebSession).where(WebSession.person_id.is_not(None))) == 0


@pytest.mark.parametrize(
    "tamper",
    [
        lambda v: v[:-1] + ("A" if v[-1] != "A" else "B"),
        lambda v: v[:20],
        lambda v: v + "x",
        lambda v: "%00" + v,
        lambda v: "😀" * 10,
    ],
)
def test_R_ID_5_a_tampered_cookie_is_a_stranger_not_an_error(app, wechat_user, tamper):
    r = _with_cookie(app, tamper(_cookie(wechat_user))).get("/rm/pay")
    assert r.status_code == 302 and "/login" in r.location
    assert wechat_user.get("/rm/pay").status_code == 200  # the real one still works


def test_R_ID_5_logging_in_issues_a_new_token_and_the_old_one_dies(app, family, browser):
    browser.get("/login?ch=wechat")
    form = {"name": family.payer.name, "id_type": "resident_id", "id_number": family.payer.id_number, "agree": "1"}
    assert browser.post("/login", form).status_code == 303
    before = _cookie(browser)  # the session the login form started (a bare anonymous visit has none)
    assert before
    browser.get("/login/face")
    assert browser.post("/login/face").status_code == 303
    after = _cookie(browser)
    assert after and after != before
    assert _with_cookie(app, before).get("/rm/pay").status_code == 302


def test_R_ID_5_logging_in_as_someone_else_leaves_nothing_of_the_previous_person(app, family, browser):
    """B pays for a 他人 without saving them, then C logs in on the same phone: nothing of B's is there."""
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        aunt = make_resident(s, "王秀兰", birth=__import__("datetime").date(1960, 2, 2))
        c = make_person(s, "赵六")
        s.commit()
    browser.login(family.payer.name, family.payer.id_number)
    browser.get("/rm/pay")
    r = browser.post(
        "/rm/pay",
        {"who": "other", "name": aunt.name, "id_type": "resident_id", "id_number": aunt.id_number, "save": ""},
    )
    assert r.status_code == 303 and f"insured={aunt.id}" in r.location
    assert browser.get(r.location).status_code == 200
    browser.login(c.name, c.id_number)
    assert browser.get(f"/rm/pay/select?insured={aunt.id}").status_code == 404
    page = text(browser.get("/rm/pay"))
    assert aunt.name not in page and family.payer.name not in page


def test_R_ID_3_the_cookie_carries_a_random_token_and_nothing_identifying(app, family, browser):
    browser.get("/login")
    browser.post(
        "/login",
        {"name": family.payer.name, "id_type": "resident_id", "id_number": family.payer.id_number, "agree": "1"},
    )
    for moment in ("pending face check", "failed face check", "logged in"):
        if moment == "failed face check":
            _face(browser, "李四", family.payer.id_number)
        if moment == "logged in":
            _face(browser, family.payer.name, family.payer.id_number)
        value = _cookie(browser)
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", value), (moment, value)
        raw = base64.urlsafe_b64decode(value + "=")
        for secret in (family.payer.id_number, family.payer.id_number[-6:], family.payer.name):
            assert secret not in value and secret.encode() not in raw
    with app.extensions["db_sessionmaker"]() as s:
        keys = set(s.scalars(select(WebSession.key)))
    assert _cookie(browser) not in keys  # the store keeps the token's hash, not the token


def test_R_ID_5_session_cookie_secure_and_hsts_come_from_configuration(tmp_path, template_dir):
    from tests.conftest import make_test_app

    app = make_test_app(tmp_path, template_dir, SESSION_COOKIE_SECURE="1", HSTS_SECONDS="31536000")
    try:
        r = app.test_client().get("/login?ch=wechat", base_url="https://localhost")  # the channel makes a session
        assert "Secure" in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]
        assert r.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    finally:
        app.extensions["db_engine"].dispose()


def test_by_default_no_hsts_and_the_cookie_is_httponly_lax(browser):
    r = browser.get("/login?ch=wechat")  # the channel makes a session (a bare anonymous GET makes none)
    assert "Strict-Transport-Security" not in r.headers
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


# ----------------------------------------------------------------------------------------- identity (R-ID-4)


def test_R_ID_4_a_squatter_with_a_wrong_name_cannot_log_in_as_an_enrolled_id(app, family, browser):
    before = count(app, Person)
    r = _face(browser, "李四", family.payer.id_number)
    assert r.status_code == 422 and _notice(r) == "人脸识别未通过：" + NEUTRAL
    assert browser.get("/rm/pay").status_code == 302 and count(app, Person) == before
    with app.extensions["db_sessionmaker"]() as s:
        assert s.get(Person, family.payer.id).name == "王建国"


def test_R_ID_4_a_squatter_with_a_wrong_name_cannot_log_in_as_an_unknown_id(app, browser):
    number = id_number()
    before = count(app, Person)
    r = _face(browser, "张三", number)
    assert r.status_code == 422 and _notice(r) == "人脸识别未通过：" + NEUTRAL
    assert count(app, Person) == before  # no row for a refused login: the real holder is not locked out
    r = _face(
        Browser(app), holder_name(register_key("test"), "resident_id", number), number
    )  # the holder, whom the register knows
    assert r.status_code == 303
    with app.extensions["db_sessionmaker"]() as s:
        p = s.scalar(select(Person).where(Person.id_number == number))
        assert p.name == holder_name(register_key("test"), "resident_id", number)


def test_R_ID_4_before_login_no_message_tells_whether_an_id_is_enrolled(app, family, stranger, browser):
    """A wrong name on an enrolled ID, on a known but unenrolled ID and on an ID nobody used: the same page."""
    pages = [
        _face(Browser(app), "李四", number) for number in (family.payer.id_number, stranger.id_number, id_number())
    ]
    assert {r.status_code for r in pages} == {422}
    assert len({_notice(r) for r in pages}) == 1
    bodies = {re.sub(r'value="[^"]*"|（[^）]*）|"X-CSRFToken": "[^"]*"', "", text(r)) for r in pages}
    assert len(bodies) == 1


def test_R_ID_4_no_person_row_before_the_face_check_succeeds(app, browser):
    number = id_number()
    before = count(app, Person)
    browser.get("/login")
    browser.post(
        "/login",
        {
            "name": holder_name(register_key("test"), "resident_id", number),
            "id_type": "resident_id",
            "id_number": number,
            "agree": "1",
        },
    )
    assert count(app, Person) == before
    browser.get("/login/face")  # the login form started a new session, with its own token (D4)
    assert browser.post("/login/face").status_code == 303
    assert count(app, Person) == before + 1


def test_R_ID_4_the_holder_takes_back_a_row_a_squatter_wrote_under_an_older_version(app, browser):
    number = id_number()
    with app.extensions["db_sessionmaker"]() as s:
        s.add(Person(name="冒名者", id_type="resident_id", id_number=number))
        s.commit()
    assert _face(browser, "冒名者", number).status_code == 422
    assert _face(Browser(app), holder_name(register_key("test"), "resident_id", number), number).status_code == 303
    with app.extensions["db_sessionmaker"]() as s:
        assert s.scalar(select(Person.name).where(Person.id_number == number)) == holder_name(
            register_key("test"), "resident_id", number
        )


def test_R_ID_4_failed_face_checks_are_audited_without_the_id_number(app, family, browser):
    _face(browser, "李四", family.payer.id_number)
    with app.extensions["db_sessionmaker"]() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.kind == "login.face_failed")).all()
    assert len(rows) == 1 and family.payer.id_number not in rows[0].subject + rows[0].detail


def test_R_ID_4_the_other_lookup_says_only_the_guides_q21_message(app, wechat_user, family, stranger):
    """他人: not enrolled, unknown, or a name that does not match: one message, the guide's (Q21)."""
    pages = [
        wechat_user.post("/rm/pay", {"who": "other", "name": name, "id_type": "resident_id", "id_number": number})
        for name, number in (
            (family.father.name + "X", family.father.id_number),
            (stranger.name, stranger.id_number),
            ("张三", id_number()),
        )
    ]
    assert {r.status_code for r in pages} == {422}
    assert {_notice(r) for r in pages} == {MSG_NOT_FOUND}
    assert "姓名与证件号码不一致" not in "".join(text(r) for r in pages)


def test_the_register_lists_demo_people_with_their_face_failure(app):
    from webapp import demo

    with app.extensions["db_sessionmaker"]() as s:
        demo.seed(s, app.extensions["clock"].today())
        s.commit()
        zhou = s.scalar(select(RegisteredHolder).where(RegisteredHolder.name == "周敏"))
        assert zhou is not None and "光线" in (zhou.face_fail_reason or "")
        check = identity.face_check(s, "resident_id", zhou.id_number, "周敏", register_key("test"))
        assert not check.passed and check.reason == NEUTRAL and check.cause == zhou.face_fail_reason


# ----------------------------------------------------------------------------------------- 人员编号 (R-ID-3)


def test_R_ID_3_person_no_comes_from_the_bureau_sequence_not_from_the_id(app):
    with app.extensions["db_sessionmaker"]() as s:
        first = make_person(s, "甲", "110105198003120032")
        second = make_person(s, "乙", "11010219520918002X")
        s.commit()
        assert int(second.person_no) == int(first.person_no) + 1
        for p in (first, second):
            assert len(p.person_no) == 16 and p.id_number[6:14] not in p.person_no
    with app.extensions["db_sessionmaker"]() as s:  # the same ID, registered later, gets the next number
        third = make_person(s, "丙", "110108198507220028")
        s.commit()
        assert int(third.person_no) == int(second.person_no) + 1


def test_R_ID_3_the_record_page_shows_the_bureaus_person_no(app, family, wechat_user):
    from .flows import declare_for

    wechat_user.get(declare_for(wechat_user, family.father.id))
    with app.extensions["db_sessionmaker"]() as s:
        person_no = s.get(Person, family.father.id).person_no
    assert person_no and person_no[-6:] != family.father.id_number[-6:]


# ----------------------------------------------------------------------------------------- rate limits


def test_the_11th_login_attempt_within_a_minute_from_one_address_gets_429(app, family, browser):
    browser.get("/login")
    form = {"name": "王建国", "id_type": "resident_id", "id_number": "110105198003120031", "agree": "1"}
    for _ in range(10):
        assert browser.post("/login", form).status_code == 422
    r = browser.post("/login", form)
    assert r.status_code == 429
    assert "操作过于频繁" in text(r) and re.search(r"请\d+秒后再试", text(r))
    assert 0 < int(r.headers["Retry-After"]) <= 60
    other = Browser(app)  # another address is not held back
    other.get("/login", environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert other.post("/login", form, environ_base={"REMOTE_ADDR": "10.0.0.2"}).status_code == 422


def test_login_limits_are_configurable(tmp_path, template_dir):
    from tests.conftest import make_test_app

    app = make_test_app(tmp_path, template_dir, RATELIMIT_LOGIN="3 per minute")
    try:
        b = Browser(app)
        statuses = [b.post("/login", {"name": "x"}).status_code for _ in range(4)]
        assert statuses == [422, 422, 422, 429]
    finally:
        app.extensions["db_engine"].dispose()


def test_R_ID_4_the_other_lookup_is_rate_limited_per_payer(app, wechat_user, family):
    form = {"who": "other", "name": "张三", "id_type": "resident_id", "id_number": family.father.id_number}
    statuses = [wechat_user.post("/rm/pay", form).status_code for _ in range(11)]
    assert statuses == [422] * 10 + [429]
    assert wechat_user.post("/rm/pay", {"who": "self"}).status_code == 303  # 本人 is not a look-up


def test_R_PA_5_forged_notifications_are_counted_not_audited_and_limited_per_address(app):
    from webapp.models import NotificationTally

    client = app.test_client()
    statuses = [
        client.post(
            "/pay/notify/alipay", data=b"out_trade_no=SB1&sign=forged", content_type="application/x-www-form-urlencoded"
        ).status_code
        for _ in range(61)
    ]
    assert statuses[:60] == [200] * 60 and statuses[60] == 429
    with app.extensions["db_sessionmaker"]() as s:
        rows = s.scalars(select(NotificationTally)).all()
        assert [(r.provider, r.outcome, r.count) for r in rows] == [("alipay", "bad_signature", 60)]
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 0
    elsewhere = app.test_client()
    r = elsewhere.post("/pay/notify/alipay", data=b"x=1", environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert r.status_code == 200 and r.get_data() == b"fail"


# ----------------------------------------------------------------------------------------- headers


def _sample_paths(app, family) -> list[str]:  # type: ignore[no-untyped-def]
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        args = {a: ("1" if type(rule._converters[a]).__name__ == "IdConverter" else "x") for a in rule.arguments}
        if rule.endpoint == "static":
            args = {"filename": "css/app.css"}
        paths.append(rule.build(args)[1] if rule.arguments else rule.rule)
    return sorted(set(paths)) + ["/no/such/page", "/logout", "/pay/orders/%00", "/static/vendor/htmx.min.js"]


def test_security_headers_are_on_every_page_anonymous_or_logged_in(app, family, wechat_user):
    anonymous = app.test_client()
    for path in _sample_paths(app, family):
        for client in (anonymous, wechat_user.client):
            r = client.get(path)
            r.close()  # static files are streamed
            h = r.headers
            assert "frame-ancestors 'none'" in h.get("Content-Security-Policy", ""), (path, r.status_code)
            assert h["X-Content-Type-Options"] == "nosniff" and h["X-Frame-Options"] == "DENY", path
            assert h["Referrer-Policy"] == "same-origin" and "Server" not in h, path
            assert r.status_code < 500 or path == "/readyz", path  # readyz: 503 names what is down


def test_the_csp_allows_no_inline_script_or_style_and_forms_only_to_us_and_the_cashiers(browser):
    csp = browser.get("/").headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert "unsafe" not in csp and directives["object-src"] == "'none'" and directives["base-uri"] == "'none'"
    assert directives["form-action"] == "'self' http://providers.test"


def test_templates_have_no_inline_script_or_style_and_htmx_injects_none():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "templates"
    for path in root.rglob("*.html"):
        if "sim" in path.parts:
            continue  # the simulated cashier is the providers' own page
        src = path.read_text(encoding="utf-8")
        assert 'style="' not in src and "<style" not in src, path
        assert not re.search(r"<script(?![^>]*\bsrc=)", src), path
        assert not re.search(r"<[^>]+\son[a-z]+\s*=", src), path  # no onclick=… handlers either
    layout = (root / "layout.html").read_text(encoding="utf-8")
    assert '"includeIndicatorStyles":false' in layout and '"allowEval":false' in layout


# ----------------------------------------------------------------------------------------- error pages


@pytest.mark.parametrize(
    "method, path, kwargs, status, title",
    [
        ("get", "/logout", {}, 405, "操作不支持"),
        ("get", "/no/such/page", {}, 404, "未找到"),
        ("get", "/?q=" + "x" * 5000, {}, 414, "网址过长"),
        ("post", "/login", {"data": {"name": "x" * (1100 * 1024)}}, 413, "内容过大"),
        ("get", "/rm/records?start=%00", {}, 400, "请求有误"),
        ("post", "/login", {"data": {"name": "a"}}, 400, "页面已过期"),
        ("put", "/login", {}, 405, "操作不支持"),
    ],
)
def test_error_pages_are_chinese_in_the_apps_layout(browser, method, path, kwargs, status, title):
    r = getattr(browser.client, method)(path, **kwargs)
    assert r.status_code == status
    page = text(r)
    assert f'<h1 class="app-bar__title">{title}</h1>' in page and 'class="weui-tabbar' in page
    for english in ("Method Not Allowed", "Not Found", "Request-URI Too", "Bad Request", "Request Entity"):
        assert english not in page


def test_the_429_page_is_chinese_in_the_layout_and_says_when(app, browser):
    for _ in range(11):
        r = browser.post("/login", {"name": "x"})
    assert r.status_code == 429 and 'class="weui-tabbar' in text(r) and "秒后再试" in text(r)


def test_R_ID_5_the_periodic_job_drops_ended_sessions(app, wechat_user, family):
    from webapp import jobs

    assert jobs.purge_sessions(app) == 0
    interface = app.session_interface
    real_now = interface.now
    interface.now = lambda: real_now() + timedelta(hours=2, minutes=1)
    try:
        assert jobs.purge_sessions(app) >= 1
    finally:
        interface.now = real_now
    assert count(app, WebSession) == 0 and wechat_user.get("/rm/pay").status_code == 302
