"""Policy table (SPEC §14): numbers come from data files keyed by region and contribution year."""

import ast
import csv
import inspect
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from webapp.domain import calendar as cal_mod
from webapp.domain import flexible, money, policy
from webapp.domain.policy import (
    FlexRow,
    NoPolicyError,
    PolicyTable,
    base_window,
    contribution_year,
    derive_medical_monthly,
    derive_subsidized,
    flex_policy,
    resident_medical_category,
    resident_medical_premium,
    resident_pension_grades,
)

DATA = Path(policy.__file__).parent / "data"
D = Decimal


def test_R_FB_1_beijing_2023_numbers_from_the_guide():
    p = flex_policy("beijing", date(2023, 9, 1))
    assert (p.contribution_year, p.applied_year, p.base_min, p.base_max) == (2023, 2023, 6326, 33891)
    assert (p.pension_rate, p.unemployment_rate, p.medical_rate) == (D("0.20"), D("0.01"), D("0.07"))
    assert p.medical_monthly == D("553.56")
    assert (p.subsidized_pension, p.subsidized_unemployment, p.subsidized_medical) == (
        D("421.73"),
        D("21.09"),
        D("184.52"),
    )
    assert not p.provisional and p.confirmed and not p.derived
    assert p.year_label_zh() == "2023缴费年度（2023年7月至2024年6月）"


def test_R_FB_1_derivation_reproduces_the_2023_guide_figures():
    assert derive_medical_monthly(33891, D("0.07")) == D("553.56")
    assert derive_subsidized(D("1265.20")) == D("421.73")
    assert derive_subsidized(D("63.26")) == D("21.09")
    assert derive_subsidized(D("553.56")) == D("184.52")


def test_R_FB_1_later_beijing_years_are_derived_and_marked():
    p24 = flex_policy("beijing", date(2024, 7, 1))
    assert (p24.base_min, p24.base_max, p24.medical_monthly) == (6821, 35283, D("576.31"))
    assert "medical_monthly" in p24.derived and p24.confirmed
    p25 = flex_policy("beijing", date(2026, 6, 30))
    assert (p25.contribution_year, p25.base_min, p25.base_max, p25.medical_monthly) == (2025, 7162, 35811, D("584.92"))
    assert not p25.confirmed, "2025 is from one public calculator: unconfirmed"
    assert any("以官方公告为准" in n for n in p25.notices_zh)


def test_contribution_year_runs_july_to_june():
    assert contribution_year(date(2024, 6, 30)) == 2023
    assert contribution_year(date(2024, 7, 1)) == 2024
    assert contribution_year(cal_mod.Month(2026, 1)) == 2025
    assert PolicyTable.load().contribution_year_months("beijing", 2023) == (
        cal_mod.Month(2023, 7),
        cal_mod.Month(2024, 6),
    )


def test_R_FB_6_year_without_row_runs_on_last_years_numbers_flagged_provisional():
    p = flex_policy("beijing", date(2026, 7, 1))
    assert (p.contribution_year, p.applied_year, p.provisional) == (2026, 2025, True)
    assert (p.base_min, p.base_max) == (7162, 35811)
    assert "暂按上年度（2025缴费年度）标准" in p.notices_zh[0]


def test_no_policy_before_any_row_gives_a_chinese_message():
    with pytest.raises(NoPolicyError) as e:
        flex_policy("beijing", date(2019, 8, 1))
    assert str(e.value) == "暂无北京市2019缴费年度的缴费标准"


def test_no_policy_two_years_after_the_last_row():
    with pytest.raises(NoPolicyError, match="暂无北京市2027缴费年度的缴费标准"):
        flex_policy("beijing", date(2027, 7, 1))


def test_no_policy_for_an_unknown_region():
    with pytest.raises(NoPolicyError, match="暂无该地区"):
        flex_policy("shanghai", date(2026, 1, 1))


def test_a_gap_in_the_middle_is_not_provisional():
    table = PolicyTable.load().without_flex("beijing", 2024)
    with pytest.raises(NoPolicyError, match="2024缴费年度"):
        table.flex_policy("beijing", date(2024, 8, 1))


def test_qingdao_base_range_is_known_and_the_rest_says_so_plainly():
    p = flex_policy("qingdao", date(2026, 3, 1))
    assert (p.base_min, p.base_max) == (3980, 19899)
    assert p.undated and not p.provisional
    assert p.known_insurances == ()
    with pytest.raises(NoPolicyError, match="暂无青岛市职工基本医疗保险的缴费标准"):
        p.medical_amount()
    with pytest.raises(NoPolicyError, match="青岛市"):
        p.rate("pension")
    assert any("未注明年度" in n for n in p.notices_zh)


def test_a_test_table_can_add_a_row_whose_derived_fields_are_computed():
    table = PolicyTable.load().with_flex(
        {
            "region": "beijing",
            "contribution_year": "2026",
            "base_min": "7600",
            "base_max": "36500",
            "pension_rate": "0.20",
            "unemployment_rate": "0.01",
            "medical_rate": "0.07",
            "derived": "medical_monthly;subsidized_pension;subsidized_unemployment;subsidized_medical",
            "source": "test",
        }
    )
    p = table.flex_policy("beijing", date(2026, 8, 1))
    assert not p.provisional and p.applied_year == 2026
    assert p.medical_monthly == D("596.19")  # round(0.7 × 36500 / 3) = 8517 × 7 %
    assert p.subsidized_pension == D("506.67")  # 1520.00 / 3


def test_a_filled_derived_value_that_disagrees_fails_the_load():
    with pytest.raises(ValueError, match="derivation"):
        FlexRow.from_record(
            {
                "region": "beijing",
                "contribution_year": "2030",
                "base_min": "6326",
                "base_max": "33891",
                "medical_rate": "0.07",
                "medical_monthly": "500.00",
                "derived": "medical_monthly",
            }
        )


def test_repeated_region_and_year_is_refused():
    row = PolicyTable.load().flex[0]
    with pytest.raises(ValueError):
        PolicyTable(regions=PolicyTable.load().regions, flex=(row, row))


def test_every_policy_file_has_source_and_derived_columns():
    for name in ("flex_policy.csv", "resident_medical.csv", "resident_pension.csv"):
        with open(DATA / name, encoding="utf-8") as f:
            header = next(csv.reader(f))
        assert "source" in header and "derived" in header, name
    for name in (
        "regions.csv",
        "flex_windows.csv",
        "resident_medical_categories.csv",
        "holidays.csv",
        "fixed_holidays.csv",
    ):
        with open(DATA / name, encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        assert rows and all(r["source"].strip() for r in rows), name


def test_R_FB_3_window_dates_are_data():
    w23 = base_window("beijing", 2023)
    assert (w23.opens, w23.closes, w23.approximate) == (date(2023, 6, 14), date(2023, 7, 25), False)
    w27 = base_window("beijing", 2027)
    assert (w27.opens, w27.closes, w27.approximate) == (date(2027, 6, 14), date(2027, 7, 25), True)
    q27 = base_window("qingdao", 2027)  # seed 002: a base may be chosen at any time
    assert (q27.opens, q27.closes) == (date(2027, 1, 1), date(2027, 12, 31))


def test_R_RM_2_resident_medical_2026_premiums():
    assert resident_medical_premium("beijing", 2026, "elderly") == D("460.00")
    assert resident_medical_premium("beijing", 2026, "student_child") == D("435.00")
    assert resident_medical_premium("beijing", 2026, "working_age") == D("795.00")
    assert policy.RM_CATEGORIES == {"elderly": "老年人", "student_child": "学生儿童", "working_age": "劳动年龄内居民"}


def test_R_RM_2_unknown_year_is_no_policy():
    with pytest.raises(NoPolicyError, match="暂无北京市2027年度城乡居民医疗保险缴费标准"):
        resident_medical_premium("beijing", 2027, "working_age")


@pytest.mark.parametrize(
    ("birth", "category"),
    [
        (date(2010, 3, 1), "student_child"),
        (date(2008, 1, 2), "student_child"),
        (date(2026, 5, 1), "student_child"),
        (date(2008, 1, 1), "working_age"),
        (date(1966, 1, 2), "working_age"),
        (date(1966, 1, 1), "elderly"),
        (date(1940, 7, 7), "elderly"),
    ],
)
def test_R_RM_2_category_from_age_on_1_january(birth, category):
    assert resident_medical_category(birth, 2026) == category


def test_R_RP_1_resident_pension_grades_2026():
    grades = resident_pension_grades("beijing", 2026)
    assert grades[0] == D("1000.00") and grades[-1] == D("9000.00") and len(grades) == 9
    with pytest.raises(NoPolicyError, match="城乡居民养老"):
        resident_pension_grades("beijing", 2027)


def test_domain_core_is_pure_and_documented():
    for mod in (money, policy, cal_mod, flexible):
        tree = ast.parse(Path(mod.__file__).read_text(encoding="utf-8"))
        imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not imported & {"flask", "sqlalchemy", "werkzeug"}, mod.__name__
        for name, obj in vars(mod).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != mod.__name__:
                continue
            if inspect.isfunction(obj):
                assert obj.__doc__ and obj.__doc__.strip(), f"{mod.__name__}.{name} needs a docstring"
