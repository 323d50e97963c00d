"""依据 of the flexible-worker numbers (R-FB-6, issue 20.17): each number with how sure it is and its source."""

from __future__ import annotations

from datetime import date

from webapp.domain import basis
from webapp.domain.policy import PolicyTable, flex_policy


def test_R_FB_6_every_policy_row_has_a_source_a_payer_can_read():
    table = PolicyTable.load()
    for row in table.flex:
        assert basis._sources().get((row.region, row.contribution_year)), (row.region, row.contribution_year)


def test_R_FB_6_derived_numbers_are_marked_derived_and_unconfirmed_ones_public_material():
    b = basis.flex_basis(flex_policy("beijing", date(2025, 9, 1)))
    status = {r.label: r.status for r in b.rows}
    assert status["职工基本医疗保险月缴费额"] == basis.DERIVED
    assert status["缴费基数下限"] == basis.PUBLIC and status["缴费基数上限"] == basis.PUBLIC
    assert b.provisional is None and any("推算值" in n for n in b.notes)
    official = basis.flex_basis(flex_policy("beijing", date(2023, 9, 1)))
    assert {r.status for r in official.rows} == {basis.PUBLISHED} and "京人社发〔2023〕8号" in official.source


def test_R_FB_6_a_provisional_year_says_whose_numbers_it_uses_once():
    p = flex_policy("beijing", date(2026, 9, 1))
    b = basis.flex_basis(p)
    assert b.provisional and "暂按上年度（2025缴费年度）标准" in b.provisional
    assert not any("尚未公布" in n for n in b.notes)  # said once, above the table
    assert basis.line_zh([p]) == "2026缴费年度标准尚未公布，暂按上年度（2025缴费年度）标准计算，公布后补收差额"
    assert basis.line_zh([flex_policy("beijing", date(2024, 9, 1))]) == "按2024缴费年度标准计算"
