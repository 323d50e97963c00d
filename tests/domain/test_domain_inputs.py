"""What a browser may type, folded and bounded (no 5xx by construction), and the identity rules that read
it (R-ID-2, R-ID-4)."""

import pytest

from webapp.domain.identity import IdentityError, facts_from_id, holder_name, normalize_id_number, register_key
from webapp.domain.inputs import MAX_DB_ID, ascii_digits, fold_fullwidth, parse_id
from webapp.domain.money import parse_whole_yuan


def test_full_width_forms_fold_to_ascii_and_nothing_else_does():
    assert fold_fullwidth("１２３ＡＢｘ　") == "123ABx "
    assert fold_fullwidth("²①٣𝟙") == "²①٣𝟙"  # NFKC would make digits of these; we do not


@pytest.mark.parametrize(
    "text, expected",
    [
        ("12", 12),
        (" 12 ", 12),
        ("１２", 12),
        (str(MAX_DB_ID), MAX_DB_ID),
        (str(MAX_DB_ID + 1), None),
        ("99999999999999999999", None),
        ("９" * 30, None),
        ("0", None),
        ("-1", None),
        ("²", None),
        ("①", None),
        ("1²", None),
        ("٣", None),
        ("𝟙", None),
        ("1\x00", None),
        ("", None),
        ("1e3", None),
        ("0x1F", None),
        ("1_000", None),
        ("😀", None),
        ("1" * 10240, None),
    ],
)
def test_parse_id_reads_ascii_digits_after_full_width_folding_within_the_integer_range(text, expected):
    assert parse_id(text) == expected


def test_parse_id_refuses_what_is_not_text():
    assert parse_id(None) is None and parse_id(12) is None and parse_id(["1"]) is None


def test_ascii_digits_is_bounded():
    assert ascii_digits("１２３", max_len=3) == "123"
    assert ascii_digits("1234", max_len=3) is None


@pytest.mark.parametrize("raw", ["11010519800312003²", "1101051980031200①2", "11010519800312003²"])
def test_R_ID_2_unicode_digits_that_pass_isdigit_are_refused_with_the_id_message(raw):
    with pytest.raises(IdentityError, match="前17位应为数字|校验位"):
        normalize_id_number("resident_id", raw)


def test_R_ID_2_full_width_id_numbers_are_folded_and_accepted():
    assert normalize_id_number("resident_id", "１１０１０５１９８００３１２００３２") == "110105198003120032"
    assert normalize_id_number("resident_id", "１１０１０２１９５２０９１８００２ｘ") == "11010219520918002X"


def test_R_ID_2_a_county_python_stdnum_does_not_know_gets_the_id_message_not_a_key_error():
    """440108199001011238 has a valid check digit; stdnum raises KeyError('county') on it."""
    with pytest.raises(IdentityError, match="地区码"):
        normalize_id_number("resident_id", "440108199001011238")


@pytest.mark.parametrize("raw", ["", "1" * 41, "x" * 10240, "\x00" * 18, "11010519800312003\x00", "😀" * 18])
def test_R_ID_2_any_text_gets_a_message_never_an_exception_of_another_kind(raw):
    for id_type in ("resident_id", "passport", "hmt_residence", "bogus"):
        with pytest.raises(IdentityError):
            normalize_id_number(id_type, raw)


def test_facts_of_a_number_with_unicode_digits_are_empty_not_a_crash():
    assert facts_from_id("resident_id", "1101051980031²0032") == facts_from_id("passport", "E1")
    assert facts_from_id("resident_id", "440108199001011238").sex == "M"


def test_R_ID_4_the_register_names_an_unknown_document_the_same_way_every_time():
    key = register_key("instance secret")
    a = holder_name(key, "resident_id", "110101199003070054")
    assert a == holder_name(key, "resident_id", "110101199003070054") and 2 <= len(a) <= 3
    assert a != holder_name(key, "resident_id", "110105198003120032") or a != holder_name(key, "passport", "E12345678")


def test_D5_the_registers_names_depend_on_the_instances_key_not_on_the_number_alone():
    """The probe computed 110101199003070054 → a name with a public hash; another instance's key names the
    same numbers differently, so a name cannot be worked out without the key."""
    numbers = [f"1101011990010112{i:02d}" for i in range(40)]
    mine = [holder_name(register_key("one instance"), "resident_id", n) for n in numbers]
    theirs = [holder_name(register_key("another instance"), "resident_id", n) for n in numbers]
    assert sum(a != b for a, b in zip(mine, theirs, strict=True)) >= 30


@pytest.mark.parametrize("text", ["7²00", "①", "٣٠٠٠", "𝟟𝟘𝟘𝟘"])
def test_R_MO_1_a_base_in_unicode_digits_is_refused(text):
    with pytest.raises(ValueError, match="阿拉伯数字"):
        parse_whole_yuan(text)


def test_R_MO_1_a_base_in_full_width_digits_is_accepted():
    assert parse_whole_yuan("７，０００") == 7000
