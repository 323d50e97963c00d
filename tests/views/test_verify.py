"""记录查验 without login (R-CE-5, R-ID-3): 纳税人识别号 + 16-digit 证明校验码 + a captcha (an image that
can be changed, or a sum in words), a plain 校验不通过, masked details, and limits per address and per
document."""

from __future__ import annotations

import logging
import re
from datetime import date

import pytest

from tests.conftest import Browser, text
from tests.factories import make_certificate, make_resident
from webapp.config import load_config
from webapp.domain import captcha
from webapp.domain.certificates import verify_key
from webapp.models import Person

ANSWER = "7K3Q"
ID_X = "11010519830619002X"


@pytest.fixture
def cert(app):  # type: ignore[no-untyped-def]
    """吴芳's made certificate, and every captcha answered by ANSWER (CAPTCHA_TEST_ANSWER, a test run)."""
    app.config["CAPTCHA_TEST_ANSWER"] = ANSWER
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        p = make_resident(s, "吴芳", paid=True, number=ID_X, birth=date(1983, 6, 19))
        c = make_certificate(s, p)
        s.commit()
    return c


def check(b: Browser, id_number: str, code: str, answer: str = ANSWER, ip: str = "203.0.113.7", **extra):  # type: ignore[no-untyped-def]
    """Open 记录查验, fill it in, 开始校验."""
    b.client.environ_base["REMOTE_ADDR"] = ip
    b.get("/verify")
    return b.post("/verify", {"id_number": id_number, "code": code, "captcha": answer, **extra})


def test_R_CE_5_the_right_number_and_code_show_the_certificate_masked(app, browser, cert):
    r = check(browser, ID_X.lower(), " ".join([cert.check_code[:8], cert.check_code[8:]]))
    page = text(r)
    assert r.status_code == 200 and "校验通过" in page and cert.number in page
    assert "吴*" in page and "110105********002X" in page and "¥795.00" in page
    assert "城乡居民基本医疗保险" in page or "基本医疗保险费" in page
    assert ID_X not in page and "吴芳" not in page  # R-ID-3
    assert cert.items[0].payment.e_ticket_no not in page


def test_R_CE_5_a_wrong_code_or_number_says_only_校验不通过(app, browser, cert):
    wrong_code = str((int(cert.check_code) + 7) % 10**16).zfill(16)
    pages = [check(browser, ID_X, wrong_code), check(browser, "110105198306190010", cert.check_code)]
    for r in pages:
        assert r.status_code == 200 and "校验不通过" in text(r) and "校验通过 " not in text(r)
    strip = [re.sub(r'value="[^"]*"|/verify/captcha/[^"]+', "", text(r)) for r in pages]
    assert strip[0] == strip[1]  # nothing tells which field was wrong


@pytest.mark.parametrize(
    "code, message",
    [("123456789012345", "应为16位数字"), ("12345678901234AB", "应为16位数字"), ("", "请输入16位证明校验码")],
)
def test_R_CE_5_a_malformed_check_code_is_refused_next_to_the_field(app, browser, cert, code, message):
    r = check(browser, ID_X, code)
    assert r.status_code == 422 and message in text(r) and "校验不通过" not in text(r)
    assert f'value="{ID_X}"' in text(r)  # what was typed is kept


def test_R_CE_5_a_wrong_captcha_is_refused_and_a_new_one_drawn(app, browser, cert):
    browser.get("/verify")
    first = re.search(r"/verify/captcha/([\w-]+)\.png", text(browser.get("/verify"))).group(1)
    r = browser.post("/verify", {"id_number": ID_X, "code": cert.check_code, "captcha": "WRONG"})
    assert r.status_code == 422 and "验证码不正确" in text(r) and "校验通过" not in text(r)
    assert re.search(r"/verify/captcha/([\w-]+)\.png", text(r)).group(1) != first
    missing = browser.post("/verify", {"id_number": ID_X, "code": cert.check_code, "captcha": " "})
    assert missing.status_code == 422 and "请输入验证码" in text(missing)


def test_R_CE_5_the_image_captcha_can_be_changed_看不清换一张(app, browser, cert):
    page = text(browser.get("/verify"))
    assert "看不清，换一张" in page and "改用语音验证码" in page
    nonce = re.search(r"/verify/captcha/([\w-]+)\.png", page).group(1)
    image = browser.client.get(f"/verify/captcha/{nonce}.png")
    assert image.status_code == 200 and image.data.startswith(b"\x89PNG")
    fragment = text(browser.post("/verify/captcha", {"kind": "image"}, headers={"HX-Request": "true"}))
    other = re.search(r"/verify/captcha/([\w-]+)\.png", fragment).group(1)
    assert "<html" not in fragment and other != nonce
    assert browser.client.get(f"/verify/captcha/{nonce}.png").status_code == 404  # the old one is gone


def test_R_CE_5_the_non_image_alternative_is_a_recording_answered_in_digits(app, browser, cert):
    """MIIT 适老化: 改用语音验证码 gives a recording (Mandarin digits over noise), never text a program reads."""
    app.config["CAPTCHA_TEST_ANSWER"] = None  # the real answer this time
    fragment = text(browser.post("/verify/captcha", {"kind": "audio"}, headers={"HX-Request": "true"}))
    assert "<audio" in fragment and "<img" not in fragment and "请输入听到的4位数字" in fragment
    nonce = re.search(r"/verify/captcha/([\w-]+)\.wav", fragment).group(1)
    answer = captcha.audio_digits("test", nonce)
    assert answer not in fragment
    wav = browser.client.get(f"/verify/captcha/{nonce}.wav")
    assert wav.status_code == 200 and wav.mimetype == "audio/wav" and wav.data[:4] == b"RIFF"
    assert 3 * 8000 < len(wav.data) < 30 * 8000  # seconds of 8 kHz sound: four digits and the pauses
    assert browser.client.get(f"/verify/captcha/{nonce}.png").status_code == 404  # the image of it is not drawn
    r = browser.post("/verify", {"id_number": ID_X, "code": cert.check_code, "captcha": answer, "kind": "audio"})
    assert r.status_code == 200 and "校验通过" in text(r)


def test_R_CE_5_a_solved_captcha_cannot_be_replayed(app, browser, cert):
    """Sessions live on the server, so an old cookie brings no old challenge back; and should a solved
    challenge come back anyway (here: written back into the session), its nonce is spent."""
    browser.get("/verify")
    with browser.client.session_transaction() as sess:
        solved = dict(sess["captcha"])
    ok = browser.post("/verify", {"id_number": ID_X, "code": cert.check_code, "captcha": ANSWER})
    assert "校验通过" in text(ok)
    with browser.client.session_transaction() as sess:
        assert sess["captcha"]["n"] != solved["n"]  # a new challenge replaced the solved one
        sess["captcha"] = solved  # the same solved challenge again
    again = browser.post("/verify", {"id_number": ID_X, "code": cert.check_code, "captcha": ANSWER})
    assert again.status_code == 422 and "验证码不正确" in text(again)


def test_R_CE_5_the_qr_code_opens_the_check_pre_filled_without_the_document_number(app, browser, cert):
    key = verify_key("test", cert.check_code, ID_X)
    url = f"/verify?code={cert.check_code}&k={key}"
    page = text(browser.get(url))
    assert "已由二维码填入" in page and f'value="{cert.check_code}"' in page and ID_X not in page
    r = browser.post("/verify", {"code": cert.check_code, "k": key, "captcha": ANSWER})
    assert "校验通过" in text(r) and "110105********002X" in text(r)
    forged = browser.post("/verify", {"code": cert.check_code, "k": "0" * 16, "captcha": ANSWER})
    assert "校验不通过" in text(forged)


def test_R_CE_5_twenty_wrong_attempts_a_minute_from_one_address_get_429(app, browser, cert):
    for i in range(20):
        r = check(browser, f"1101051983061900{i:02d}", cert.check_code)
        assert r.status_code == 200 and "校验不通过" in text(r), i
    r = check(browser, ID_X, cert.check_code)
    assert r.status_code == 429 and re.search(r"校验失败次数过多，请\d+秒后再试", text(r))
    assert 0 < int(r.headers["Retry-After"]) <= 60
    assert check(browser, ID_X, cert.check_code, ip="198.51.100.1").status_code == 200  # another address


def test_R_CE_5_ten_wrong_attempts_on_one_document_from_one_address_get_429(app, browser, cert):
    for _ in range(10):
        r = check(browser, ID_X, "1" * 16, ip="198.51.100.1")
        assert r.status_code == 200 and "校验不通过" in text(r)
    r = check(browser, ID_X, cert.check_code, ip="198.51.100.1")
    assert r.status_code == 429 and "校验失败次数过多" in text(r)
    other = check(browser, "110105198001010032", "1" * 16, ip="198.51.100.1")
    assert other.status_code == 200  # another document is not held up


def test_D9_wrong_attempts_on_a_document_from_other_addresses_never_lock_out_its_owner(app, browser, cert):
    """The probe: 20 wrong attempts for an ID from other addresses locked out its rightful owner."""
    for i in range(40):
        r = check(Browser(app), ID_X, "1" * 16, ip=f"198.51.100.{i + 1}")
        assert r.status_code == 200 and "校验不通过" in text(r), i
    assert "校验通过" in text(check(browser, ID_X, cert.check_code, ip="203.0.113.50"))


def test_R_CE_5_right_answers_do_not_count_towards_the_limit(app, browser, cert):
    for _ in range(25):
        assert "校验通过" in text(check(browser, ID_X, cert.check_code))


def test_CAPTCHA_TEST_ANSWER_is_honoured_only_with_APP_TODAY(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        cfg = load_config(str(tmp_path), env={"CAPTCHA_TEST_ANSWER": "X1"})
    assert cfg["CAPTCHA_TEST_ANSWER"] is None and "CAPTCHA_TEST_ANSWER is ignored" in caplog.text
    assert (
        load_config(str(tmp_path), env={"CAPTCHA_TEST_ANSWER": "X1", "APP_TODAY": "2026-11-22"})["CAPTCHA_TEST_ANSWER"]
        == "X1"
    )


def test_R_CE_5_verify_needs_no_login_and_a_logged_in_user_sees_the_same(app, phone_user, cert):
    with app.extensions["db_sessionmaker"]() as s:
        payer = s.get(Person, cert.payer_id)
    b = phone_user(payer)
    assert "校验通过" in text(check(b, ID_X, cert.check_code))
