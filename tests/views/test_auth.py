"""Real-name login, the face check, logout and the way back to where the user was going (R-ID-1)."""

from sqlalchemy import func, select

from tests.factories import make_resident
from webapp.models import Person
from webapp.services.identity import MSG_NOT_VERIFIED

from ..conftest import text


def _people(app):
    with app.extensions["db_sessionmaker"]() as s:
        return s.scalar(select(func.count()).select_from(Person))


def test_R_ID_1_login_with_face_check_lands_on_the_page_the_user_was_going_to(family, browser):
    r = browser.get("/rm/declared")
    assert r.status_code == 302 and "/login" in r.location
    browser.get(r.location)
    browser.post(
        "/login",
        {
            "name": "王建国",
            "id_type": "resident_id",
            "id_number": "110105198003120032",
            "agree": "1",
            "next": "/rm/declared",
        },
    )
    browser.get("/login/face")  # the login form started a new session, with its own token (D4)
    r = browser.post("/login/face")
    assert r.status_code == 303 and r.location.endswith("/rm/declared")
    assert "已申报查询" in text(browser.get("/rm/declared"))


def test_R_ID_2_wrong_check_digit_is_refused_on_the_same_screen_keeping_what_was_typed(family, browser):
    before = _people(browser.app)
    browser.get("/login")
    r = browser.post(
        "/login", {"name": "王建国", "id_type": "resident_id", "id_number": "110105198003120031", "agree": "1"}
    )
    assert r.status_code == 422
    assert "证件号码校验位不正确" in text(r)
    assert 'value="110105198003120031"' in text(r) and 'value="王建国"' in text(r)
    assert _people(browser.app) == before


def test_R_ID_1_consent_is_required(family, browser):
    browser.get("/login")
    r = browser.post("/login", {"name": "王建国", "id_type": "resident_id", "id_number": "110105198003120032"})
    assert r.status_code == 422 and "请阅读并同意" in text(r)


def test_R_ID_1_failed_face_check_says_why_and_logs_nobody_in(app, browser):
    with app.extensions["db_sessionmaker"]() as s:
        make_resident(
            s, "周敏", number="110106197811030029", face_fail_reason="未能识别到本人面部，请在光线充足处正对屏幕重试"
        )
        s.commit()
    browser.get("/login")
    browser.post("/login", {"name": "周敏", "id_type": "resident_id", "id_number": "110106197811030029", "agree": "1"})
    browser.get("/login/face")  # the login form started a new session, with its own token (D4)
    r = browser.post("/login/face")
    assert r.status_code == 422 and "人脸识别未通过" in text(r) and "光线" in text(r)
    assert browser.get("/rm/pay").status_code == 302


def test_R_ID_1_name_that_does_not_match_the_id_fails_the_face_check(family, browser):
    browser.get("/login")
    browser.post("/login", {"name": "李四", "id_type": "resident_id", "id_number": "110105198003120032", "agree": "1"})
    browser.get("/login/face")  # the login form started a new session, with its own token (D4)
    r = browser.post("/login/face")
    assert r.status_code == 422 and "人脸识别未通过：" + MSG_NOT_VERIFIED in text(r)


def test_no_open_redirect_after_login(family, browser):
    browser.get("/login")
    browser.post(
        "/login",
        {
            "name": "王建国",
            "id_type": "resident_id",
            "id_number": "110105198003120032",
            "agree": "1",
            "next": "https://evil.example/steal",
        },
    )
    browser.get("/login/face")  # the login form started a new session, with its own token (D4)
    r = browser.post("/login/face")
    assert r.location == "/"
    browser.get("/login")
    browser.post(
        "/login",
        {
            "name": "王建国",
            "id_type": "resident_id",
            "id_number": "110105198003120032",
            "agree": "1",
            "next": "//evil.example",
        },
    )
    browser.get("/login/face")  # the login form started a new session, with its own token (D4)
    assert browser.post("/login/face").location == "/"


def test_R_ID_1_logout_under_settings(wechat_user, family):
    r = wechat_user.get("/me/settings")
    assert "退出登录" in text(r)
    r = wechat_user.post("/logout")
    assert r.status_code == 303
    assert wechat_user.get("/rm/pay").status_code == 302


def test_R_ID_1_seven_day_login_is_a_permanent_cookie(family, browser):
    browser.get("/login")
    browser.post(
        "/login",
        {"name": "王建国", "id_type": "resident_id", "id_number": "110105198003120032", "agree": "1", "remember": "1"},
    )
    browser.get("/login/face")  # the login form started a new session, with its own token (D4)
    r = browser.post("/login/face")
    cookie = r.headers["Set-Cookie"]
    assert "Expires=" in cookie


def test_post_without_csrf_token_is_refused_with_400(family, browser):
    r = browser.post("/login", {"name": "王建国"}, csrf=False)
    assert r.status_code == 400 and "页面已过期" in text(r)


def test_expired_session_mid_flow_goes_to_login_then_back_to_the_step(wechat_user, family):
    with wechat_user.client.session_transaction() as sess:
        sess["login_expires"] = "2000-01-01T00:00:00+00:00"
    r = wechat_user.get("/rm/pay/select?insured=2")
    assert r.status_code == 302 and "expired=1" in r.location
    page = wechat_user.get(r.location)
    assert "登录已过期" in text(page)
    wechat_user.post(
        "/login",
        {
            "name": "王建国",
            "id_type": "resident_id",
            "id_number": "110105198003120032",
            "agree": "1",
            "next": "/rm/pay/select?insured=2",
        },
    )
    wechat_user.get("/login/face")  # the login form started a new session, with its own token (D4)
    r = wechat_user.post("/login/face")
    assert r.location == "/rm/pay/select?insured=2"
