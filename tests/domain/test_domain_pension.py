"""Resident pension rules (城乡居民养老, R-RP-1 … R-RP-3), pure: grades, validity, carried amounts, the
special-item selection and the declaration states."""

import ast
import inspect
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from webapp.domain import pension
from webapp.domain.channels import methods_for
from webapp.domain.errors import RuleViolation
from webapp.domain.levy import LABELS, levy_of
from webapp.domain.pension import (
    SpecialItem,
    carried_amount,
    declaration_state,
    parse_grade,
    pension_year,
    validate_special_selection,
    validity,
)
from webapp.domain.policy import NoPolicyError, PolicyTable, ResidentPensionRow, resident_pension_grades
from webapp.domain.schemes import SCHEMES

D = Decimal
GRADES = resident_pension_grades("beijing", 2026)


@pytest.mark.parametrize("typed", ["1000", "9000", "2000.00", "3,000", " 4000 ", "５０００", "6000元"])
def test_R_RP_1_a_grade_of_the_year_is_accepted(typed):
    assert parse_grade(typed, GRADES, 2026) in GRADES


@pytest.mark.parametrize("typed", ["999", "9001", "2500", "0", "-1000", "abc", "NaN", "Infinity", "sNaN", "1e400"])
def test_R_RP_1_anything_else_is_refused_with_the_range(typed):
    with pytest.raises(RuleViolation, match="缴费金额须为2026年度的缴费档次之一（1,000.00元至9,000.00元）"):
        parse_grade(typed, GRADES, 2026)


def test_R_RP_1_no_choice_is_asked_for():
    with pytest.raises(RuleViolation, match="请选择缴费金额"):
        parse_grade("", GRADES, 2026)


def test_R_RP_1_validity_runs_from_the_day_set_to_the_end_of_the_year():
    assert validity(2026, date(2026, 11, 22)) == (date(2026, 11, 22), date(2026, 12, 31))
    assert validity(2027, date(2026, 12, 20)) == (date(2027, 1, 1), date(2027, 12, 31))
    with pytest.raises(RuleViolation, match="2025年度已结束"):
        validity(2025, date(2026, 1, 2))


def test_R_RP_1_a_carried_amount_moves_onto_the_new_grades():
    grades = (D("1200.00"), D("2400.00"), D("3600.00"))
    assert carried_amount(D("2400.00"), grades) == D("2400.00")
    assert carried_amount(D("3000.00"), grades) == D("2400.00")  # the highest grade not above it
    assert carried_amount(D("9000.00"), grades) == D("3600.00")
    assert carried_amount(D("1000.00"), grades) == D("1200.00")  # below them all: the minimum


def test_R_RP_1_the_pension_year_is_the_calendar_year():
    assert pension_year(date(2026, 1, 1)) == pension_year(date(2026, 12, 31)) == 2026


def test_R_RP_1_grades_come_from_the_policy_table_and_an_unknown_year_says_so():
    assert GRADES == tuple(D(g).quantize(D("0.01")) for g in range(1000, 9001, 1000))
    with pytest.raises(NoPolicyError, match="暂无北京市2027年度城乡居民养老保险缴费标准"):
        resident_pension_grades("beijing", 2027)
    table = PolicyTable.load().with_resident_pension(
        {
            "region": "beijing",
            "year": "2027",
            "min": "1000",
            "max": "9500",
            "step": "1000",
            "derived": "step",
            "source": "test",
        }
    )
    assert resident_pension_grades("beijing", 2027, table)[-2:] == (D("9000.00"), D("9500.00"))


@pytest.mark.parametrize(
    "row",
    [
        {"min": "0", "max": "9000", "step": "1000"},
        {"min": "2000", "max": "1000", "step": "1000"},
        {"min": "1000", "max": "9000", "step": "0"},
        {"min": "1000", "max": "9000", "step": "1000", "derived": "max"},
    ],
)
def test_R_RP_1_a_bad_pension_row_fails_the_load(row):
    with pytest.raises(ValueError):
        ResidentPensionRow.from_record({"region": "beijing", "year": "2027", "source": "test", **row})


def test_R_RP_1_the_beijing_row_names_its_source_and_marks_the_step_as_the_apps():
    row = PolicyTable.load().resident_pension_row("beijing", 2026)
    assert "京人社发〔2026〕1号" in row.source and "APP DECISION" in row.source and row.derived == {"step"}


def test_R_RP_2_special_items_sharing_a_notice_number_go_together():
    items = [SpecialItem(1, "N1"), SpecialItem(2, "N1"), SpecialItem(3, "N2")]
    assert [i.id for i in validate_special_selection([1, 2], items)] == [1, 2]
    assert [i.id for i in validate_special_selection([3], items)] == [3]
    with pytest.raises(RuleViolation, match="同一征集通知流水号的待缴信息必须一起缴费.*N1"):
        validate_special_selection([1, 3], items)
    with pytest.raises(RuleViolation, match="请选择需要缴费的信息"):
        validate_special_selection([], items)
    with pytest.raises(RuleViolation, match="所选缴费信息有误"):
        validate_special_selection([4], items)


def test_R_RP_3_declaration_states():
    assert declaration_state("declared", False) == "申报成功"
    assert declaration_state("paid", False) == "申报成功"
    assert declaration_state("declared", True) == "申报处理中"
    assert declaration_state("void", False) == "已作废"


def test_R_CH_1_resident_pension_in_alipay_offers_alipay_and_agreement_payment():
    assert methods_for("alipay", "rp") == ["alipay", "agreement"]
    assert methods_for("alipay", "rp", agreements_available=False) == ["alipay"]
    assert methods_for("wechat", "rp") == ["wechat"]


def test_R_CE_1_the_pension_has_its_levy_names_and_a_registry_entry():
    assert LABELS["rp_pension"] == "城乡居民基本养老保险"
    levy = levy_of("rp_pension")
    assert (levy.item, levy.subject) == ("城乡居民基本养老保险费", "城乡居民基本养老保险")
    s = SCHEMES["rp"]
    assert (s.entry, s.declared_label, s.records_label, s.pays_for_others) == (
        "resident_pension.pay",
        "申报记录查询",
        "已缴费查询",
        False,
    )
    assert s.steps[-1] == "选择支付方式"


def test_the_pension_rules_are_pure_and_documented():
    tree = ast.parse(Path(pension.__file__).read_text(encoding="utf-8"))
    imported = {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not imported & {"flask", "sqlalchemy", "werkzeug"}
    for name, obj in vars(pension).items():
        if not name.startswith("_") and inspect.isfunction(obj) and obj.__module__ == pension.__name__:
            assert obj.__doc__, name
