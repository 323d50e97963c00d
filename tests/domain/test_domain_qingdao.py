"""Qingdao's pure rules (seed 002) and the region registry (issue 19 item 1)."""

from __future__ import annotations

from datetime import date

import pytest

from webapp.domain import certificates, qingdao
from webapp.domain.calendar import Month
from webapp.domain.channels import CHANNELS
from webapp.domain.errors import RuleViolation
from webapp.domain.regions import REGIONS, EntryStyle, region, region_of_channel

DAY = date(2026, 11, 22)
# The handbook's five entries (seed 002, R-QD-1), as the ?ch= codes name them.
QINGDAO_CHANNELS = ("qd-wechat", "qd-city", "qd-alipay", "qd-sst", "qd-unionpay")


def test_R_QD_1_every_channel_belongs_to_exactly_one_region_and_the_code_picks_it() -> None:
    owners = [r.code for r in REGIONS.values() for ch in r.channels]
    assert len(owners) == len({ch for r in REGIONS.values() for ch in r.channels})
    assert all(ch in CHANNELS for r in REGIONS.values() for ch in r.channels)
    assert {region_of_channel(ch).code for ch in QINGDAO_CHANNELS} == {"qingdao"}
    assert region_of_channel("wechat").code == region_of_channel(None).code == "beijing"
    assert region("qingdao").entry is EntryStyle.NAME_ID and region("beijing").entry is EntryStyle.FACE
    assert region("qingdao").module_name("qd-sst") == "灵活就业、居民社保费缴纳"
    assert region("qingdao").module_name("qd-city") == "青岛税务社会保险缴费"


def test_certificate_numbers_take_the_regions_prefix_from_the_registry() -> None:
    assert certificates.certificate_number(DAY, 7) == "112026112200000007"  # Beijing, as before
    assert certificates.e_ticket_no(DAY, 5) == "41100026000000000005"
    assert certificates.e_ticket_no(DAY, 5, "qingdao") == "43702026000000000005"
    assert certificates.certificate_number(DAY, 7, "qingdao").startswith("37")


@pytest.mark.parametrize(
    "typed, base", [("3980", 3980), ("19899", 19899), ("６０００", 6000), ("6000元", 6000), (" 6000.00 ", 6000)]
)
def test_R_QD_4_a_base_in_the_tables_range_is_accepted(typed: str, base: int) -> None:
    assert qingdao.parse_base(typed, DAY) == base


@pytest.mark.parametrize(
    "typed, message",
    [
        ("3979", "缴费基数金额请在3980元-19899元之间选择"),
        ("19900", "缴费基数金额请在3980元-19899元之间选择"),
        ("", "请输入缴费基数金额"),
        ("6000.5", "缴费基数金额应为整数（元）"),
        ("-6000", "缴费基数金额应为整数（元）"),
        ("1e4", "缴费基数金额应为整数（元）"),
        ("9" * 40, "缴费基数金额应为整数（元）"),
    ],
)
def test_R_QD_4_a_base_outside_the_range_is_refused_in_the_handbooks_words(typed: str, message: str) -> None:
    with pytest.raises(RuleViolation) as e:
        qingdao.parse_base(typed, DAY)
    assert str(e.value) == message


def test_R_QD_4_the_range_comes_from_the_policy_table() -> None:
    assert qingdao.base_range(DAY) == (3980, 19899)


def test_R_QD_5_a_row_is_read_in_the_bureaus_words() -> None:
    row = qingdao.read_row(
        {
            "insured_no": "370200000001",
            "insurance": "企业职工基本养老保险",
            "base": "6000",
            "fee_period": "2026-11",
            "amount": "1200.00",
        },
        2026,
    )
    assert (row.insurance, row.base, row.month, row.amount_fen, row.special) == (
        "pension",
        6000,
        Month(2026, 11),
        120000,
        False,
    )
    old = qingdao.read_row(
        {"insured_no": "370200000001", "insurance": "医疗", "base": "", "fee_period": "2024-05", "amount": "3"}, 2026
    )
    assert old.special and old.base is None  # R-QD-6: an earlier year's item needs no 缴费基数


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("insured_no", "", "个人参保编号不正确"),
        ("insurance", "工伤", "险种类型不正确"),
        ("fee_period", "2027-01", "费款所属期不能晚于本年度"),
        ("fee_period", "11/2026", "费款所属期不正确"),
        ("base", "", "本年度缴费须有缴费基数"),
        ("amount", "0", "金额应为大于0"),
        ("amount", "1.001", "金额应为大于0"),
        ("amount", "NaN", "金额应为大于0"),
    ],
)
def test_R_QD_5_a_bad_row_says_what_is_wrong(field: str, value: str, message: str) -> None:
    row = {"insured_no": "370200000001", "insurance": "养老", "base": "6000", "fee_period": "2026-11", "amount": "1"}
    with pytest.raises(RuleViolation) as e:
        qingdao.read_row({**row, field: value}, 2026)
    assert message in str(e.value)
