"""R-MO-1: money is Decimal yuan rounded half-up to 0.01; bases are whole yuan."""

from decimal import Decimal

import pytest

from webapp.domain.money import fen_to_yuan, format_yuan, parse_whole_yuan, round_money, yuan_to_fen


@pytest.mark.parametrize(
    ("raw", "rounded"),
    [
        ("0.005", "0.01"),
        ("1.005", "1.01"),
        ("2.675", "2.68"),
        ("421.7333", "421.73"),
        ("21.0866", "21.09"),
        ("-1.005", "-1.01"),
        ("7", "7.00"),
    ],
)
def test_R_MO_1_round_money_half_up(raw, rounded):
    assert round_money(Decimal(raw)) == Decimal(rounded)
    assert str(round_money(Decimal(raw))) == rounded


def test_R_MO_1_fen_round_trip():
    assert yuan_to_fen(Decimal("1265.20")) == 126520
    assert yuan_to_fen(Decimal("0.005")) == 1
    assert fen_to_yuan(126520) == Decimal("1265.20")
    assert str(fen_to_yuan(5)) == "0.05"
    for fen in (0, 1, 99, 55356, 677820):
        assert yuan_to_fen(fen_to_yuan(fen)) == fen


def test_R_MO_1_float_is_refused():
    with pytest.raises(TypeError):
        round_money(0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        fen_to_yuan(1.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        ("1265.2", "1,265.20"),
        ("6778.2", "6,778.20"),
        ("553.56", "553.56"),
        ("0", "0.00"),
        ("1234567.891", "1,234,567.89"),
    ],
)
def test_R_MO_1_format_yuan(amount, text):
    assert format_yuan(Decimal(amount)) == text


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("7000", 7000),
        (" 7000 ", 7000),
        ("\u30007000\u3000", 7000),
        ("７０００", 7000),
        ("7,000", 7000),
        ("33,891", 33891),
        ("7000.00", 7000),
        ("7000.0", 7000),
        ("07000", 7000),
    ],
)
def test_R_MO_1_parse_whole_yuan_accepts(text, value):
    assert parse_whole_yuan(text) == value


@pytest.mark.parametrize(
    "text", ["7000.5", "七千", "", "   ", "-7000", "+7000", "0", "7,00", "1e3", "7000元", "12345678901234"]
)
def test_R_MO_1_parse_whole_yuan_refuses_with_chinese_message(text):
    with pytest.raises(ValueError) as e:
        parse_whole_yuan(text)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in str(e.value))
