"""Identity documents, masking and channels (R-ID-2, R-ID-3, R-CH-1)."""

import pytest

from webapp.domain.channels import channel_from, methods_for
from webapp.domain.identity import IdentityError, facts_from_id, mask_bank_account, mask_id_number, normalize_id_number


def test_R_ID_2_resident_id_with_right_check_digit_is_accepted_and_normalised():
    assert normalize_id_number("resident_id", " 11010219520918002x ") == "11010219520918002X"


def test_R_ID_2_wrong_check_digit_gets_a_message_naming_the_last_digit():
    with pytest.raises(IdentityError, match="校验位"):
        normalize_id_number("resident_id", "110105198003120031")


@pytest.mark.parametrize(
    "raw, message",
    [
        ("", "请输入"),
        ("11010519800312003", "18位"),
        ("11010519800312A032", "前17位"),
        ("110105198013120036", "出生日期"),
    ],
)
def test_R_ID_2_malformed_resident_ids_are_refused_in_chinese(raw, message):
    with pytest.raises(IdentityError, match=message):
        normalize_id_number("resident_id", raw)


def test_R_ID_2_passport_numbers_are_not_held_to_the_resident_id_rule():
    assert normalize_id_number("passport", "E12345678") == "E12345678"


def test_birth_date_and_sex_come_from_the_id_number():
    facts = facts_from_id("resident_id", "11010219520918002X")
    assert (facts.birth_date.isoformat(), facts.sex) == ("1952-09-18", "F")


def test_R_ID_3_masks():
    assert mask_id_number("110101199003070054") == "110101********0054"
    assert mask_bank_account("6228480402564890005") == "6228 **** **** 0005"


@pytest.mark.parametrize(
    "channel, scheme, methods",
    [
        ("wechat", "rm", ["wechat"]),
        ("alipay", "rm", ["alipay", "agreement"]),
        ("alipay", "flex", ["alipay", "agreement"]),
        ("baidu", "rm", ["wechat", "alipay", "unionpay", "agreement"]),
        ("baidu", "flex", ["wechat", "alipay", "unionpay"]),
        ("etax-app", "rm", ["wechat", "alipay", "unionpay", "agreement"]),
        ("etax-app", "rp", ["wechat", "alipay", "unionpay", "agreement"]),
        ("etax-app", "flex", ["wechat", "alipay", "unionpay"]),
        ("etax-web", "flex", ["unionpay"]),
        ("window", "rm", ["agreement"]),
    ],
)
def test_R_CH_1_methods_depend_on_the_channel(channel, scheme, methods):
    """SPEC.md's R-CH-1 table, row by row."""
    assert methods_for(channel, scheme) == methods


def test_R_CH_1_channel_comes_from_the_query_then_the_user_agent():
    assert channel_from("alipay", "MicroMessenger") == "alipay"
    assert channel_from(None, "Mozilla/5.0 AlipayClient/10.5") == "alipay"
    assert channel_from("bogus", "Mozilla/5.0 baiduboxapp/13") == "baidu"
    assert channel_from(None, "Mozilla/5.0") is None


def test_R_CH_1_the_channel_of_the_visit_stays_until_another_code_names_one():
    """``?ch=`` sets the channel for the whole visit; the user agent only fills in a visit without one."""
    from webapp.domain.channels import visit_channel

    assert visit_channel("baidu", "MicroMessenger/8.0", None) == "baidu"
    assert visit_channel(None, "MicroMessenger/8.0", "baidu") == "baidu"  # WeChat's UA does not undo ?ch=baidu
    assert visit_channel("alipay", "MicroMessenger/8.0", "baidu") == "alipay"  # a new code names a new channel
    assert visit_channel(None, "MicroMessenger/8.0", None) == "wechat"
    assert visit_channel("window", "Mozilla/5.0", None) is None  # no code leads to the window or the bank
    assert visit_channel(None, "Mozilla/5.0", "batch") is None
