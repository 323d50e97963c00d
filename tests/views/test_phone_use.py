"""Phone use outside the payment flows (issue 11): the face page gives back what was typed, the consent's
documents are real pages, a favicon answers."""

from ..conftest import text


def test_R_UX_2_back_from_the_face_page_keeps_what_was_typed(wechat_user):
    wechat_user.get("/login")
    r = wechat_user.post(
        "/login",
        data={
            "name": "刘鹏",
            "id_type": "resident_id",
            "id_number": "110108198704150030",
            "agree": "1",
            "remember": "1",
        },
    )
    assert r.status_code == 303
    page = text(wechat_user.get("/login"))  # 返回修改信息
    assert 'value="刘鹏"' in page and 'value="110108198704150030"' in page
    assert 'name="agree" value="1" checked' in page and 'name="remember" value="1" checked' in page


def test_the_consent_links_open_the_user_agreement_and_the_privacy_policy(wechat_user):
    login = text(wechat_user.get("/login"))
    assert 'href="/terms"' in login and 'href="/privacy"' in login and 'href="#"' not in login
    terms, privacy = wechat_user.get("/terms"), wechat_user.get("/privacy")
    assert terms.status_code == privacy.status_code == 200
    assert "用户服务协议" in text(terms) and "人脸识别" in text(terms)
    assert "隐私政策" in text(privacy) and "不保存人脸图像" in text(privacy)


def test_favicon_answers(app):
    r = app.test_client().get("/favicon.ico")
    try:
        assert r.status_code == 200 and r.get_data()[:4] == b"\x00\x00\x01\x00"  # an ICO file
    finally:
        r.close()
