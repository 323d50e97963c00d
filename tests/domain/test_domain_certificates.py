"""Pure rules of payment certificates: posting day, 大写金额, numbers, password, captcha (R-CE-2, R-CE-4,
R-CE-5, R-ID-3)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from webapp.domain import captcha
from webapp.domain.calendar import BEIJING
from webapp.domain.certificates import (
    certificate_number,
    e_ticket_no,
    is_check_code,
    mask_number,
    new_check_code,
    normalize_check_code,
    pdf_password,
    period_text,
    posting_date,
    verify_key,
)
from webapp.domain.money import amount_in_words


@pytest.mark.parametrize(
    "paid, posted",
    [
        (date(2026, 11, 23), date(2026, 11, 25)),  # Monday → Wednesday
        (date(2026, 11, 20), date(2026, 11, 24)),  # Friday → Tuesday (the weekend does not count)
        (date(2026, 11, 22), date(2026, 11, 24)),  # paid on a Sunday → the 2nd working day after it
        (date(2026, 9, 30), date(2026, 10, 9)),  # National Day 10-01..10-07 off: Thursday 10-08, Friday 10-09
        (date(2026, 10, 8), date(2026, 10, 10)),  # 10-10 is a 调休 working Saturday
    ],
)
def test_R_CE_2_an_item_is_posted_two_working_days_after_payment(paid, posted):
    assert posting_date(paid) == posted


def test_R_CE_2_a_payment_late_in_the_evening_counts_on_its_Beijing_day():
    from datetime import UTC

    sunday_night_in_beijing = datetime(2026, 11, 22, 15, 30, tzinfo=UTC)  # 23:30 Sunday in Beijing
    assert posting_date(sunday_night_in_beijing) == date(2026, 11, 24)
    assert posting_date(datetime(2026, 11, 23, 23, 59, tzinfo=BEIJING)) == date(2026, 11, 25)


@pytest.mark.parametrize(
    "amount, words",
    [
        ("795", "柒佰玖拾伍元整"),
        ("1000", "壹仟元整"),
        ("1265.20", "壹仟贰佰陆拾伍元贰角整"),
        ("6794.76", "陆仟柒佰玖拾肆元柒角陆分"),
        ("0.05", "伍分"),
        ("0.50", "伍角整"),
        ("10", "壹拾元整"),
        ("1001", "壹仟零壹元整"),
        ("1010", "壹仟零壹拾元整"),
        ("100000.01", "壹拾万元零壹分"),
        ("101000", "壹拾万壹仟元整"),
        ("100010000", "壹亿零壹万元整"),
        ("1000000001", "壹拾亿零壹元整"),
        ("27179.04", "贰万柒仟壹佰柒拾玖元零肆分"),
        ("0", "零元整"),
        ("-80", "负捌拾元整"),
        ("12.345", "壹拾贰元叁角伍分"),  # half-up to the fen first
    ],
)
def test_R_CE_4_the_total_in_capital_numerals(amount, words):
    assert amount_in_words(Decimal(amount)) == words


def test_R_CE_4_capital_numerals_refuse_floats():
    with pytest.raises(TypeError):
        amount_in_words(12.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "number, password",
    [
        ("110105198001010032", "010032"),
        ("11010519830619002X", "19002X"),
        ("11010519830619002x", "19002X"),
        ("AB123", "0AB123"),
        ("Ｅ１２３４５６７８", "345678"),  # full-width folded to ASCII
    ],
)
def test_R_CE_4_the_pdf_password_is_the_last_six_characters_left_padded_with_0(number, password):
    assert pdf_password(number) == password


def test_R_CE_4_a_password_that_cannot_be_ascii_is_refused():
    with pytest.raises(ValueError):
        pdf_password("护照号码一二三四")


def test_R_CE_4_check_codes_are_16_random_digits_and_do_not_repeat():
    codes = [new_check_code() for _ in range(2000)]
    assert all(is_check_code(c) and c[0] != "0" for c in codes)
    assert len(set(codes)) == len(codes)
    assert len({c[-1] for c in codes}) == 10  # every last digit shows up: not a counter


@pytest.mark.parametrize(
    "text, ok",
    [
        ("1234567890123456", True),
        ("123456789012345", False),
        ("12345678901234567", False),
        ("12345678901234a6", False),
        ("１２３４５６７８９０１２３４５６", False),
        ("", False),
    ],
)
def test_R_CE_5_a_check_code_is_exactly_16_ascii_digits(text, ok):
    assert is_check_code(text) is ok


def test_R_CE_5_typed_check_codes_forgive_spaces_and_full_width_digits():
    assert normalize_check_code(" 1234 5678 9012 345６ ") == "1234567890123456"


def test_numbers_printed_on_the_certificate():
    assert certificate_number(date(2026, 11, 22), 7) == "112026112200000007"
    assert e_ticket_no(date(2026, 11, 24), 35) == "41100026000000000035"
    assert period_text(date(2026, 1, 1), date(2026, 12, 1)) == "2026-01 至 2026-12"


def test_R_ID_3_numbers_are_masked_in_the_middle():
    assert mask_number("41100026000000000035") == "4110************0035"
    assert mask_number(None) == "--"
    assert mask_number("123456") == "12**56"


def test_R_ID_3_the_qr_key_depends_on_the_secret_and_the_document_and_hides_it():
    key = verify_key("s1", "1234567890123456", "110105198001010032")
    assert len(key) == 16 and "010032" not in key
    assert key == verify_key("s1", "1234567890123456", "110105198001010032")
    assert key != verify_key("s2", "1234567890123456", "110105198001010032")
    assert key != verify_key("s1", "1234567890123456", "110105198001010040")


def test_R_CE_5_the_captcha_answer_follows_from_the_nonce_and_the_secret():
    nonce = captcha.new_nonce()
    text = captcha.image_text("secret", nonce)
    assert len(text) == captcha.LENGTH and set(text) <= set(captcha.ALPHABET)
    assert captcha.image_text("secret", nonce) == text
    assert len({captcha.image_text(f"secret{i}", nonce) for i in range(20)}) > 1  # the secret matters
    assert captcha.matches(text.lower(), captcha.expected("secret", nonce, "image"))
    assert not captcha.matches("", captcha.expected("secret", nonce, "image"))


def test_R_CE_5_the_non_image_alternative_is_four_digits_read_out_never_a_text():
    """D9: the sum in Chinese words it replaces was text, and a parser read it ten times out of ten."""
    seen: set[str] = set()
    for _ in range(200):
        nonce = captcha.new_nonce()
        digits = captcha.audio_digits("secret", nonce)
        assert len(digits) == captcha.LENGTH and set(digits) <= set(captcha.AUDIO_DIGITS)
        assert captcha.expected("secret", nonce, "audio") == digits
        assert captcha.matches(f" {digits}".translate(str.maketrans("0123456789", "０１２３４５６７８９")), digits)
        seen |= set(digits)
    assert seen == set(captcha.AUDIO_DIGITS) and not {"1", "7"} & seen
    assert captcha.KINDS == ("image", "audio")


def test_R_CE_5_a_test_answer_replaces_every_derived_answer():
    assert captcha.expected("secret", captcha.new_nonce(), "image", "TEST") == "TEST"
    assert captcha.expected("secret", captcha.new_nonce(), "text", "TEST") == "TEST"
