"""Qingdao's 核定 file (R-QD-5): the bureau's amounts, loaded all or nothing, bad rows reported by line; a chosen
base applies to the bills the next file brings (R-QD-4)."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.qd_factories import NOW, assess, make_qd_worker, numbers_of
from webapp.domain.calendar import Month
from webapp.models import QdBaseChoice, Receivable
from webapp.services import qd_import, qingdao

HEADER = "个人参保编号,险种类型,缴费基数,费款所属期,金额\n"


def _count(s) -> int:  # type: ignore[no-untyped-def]
    return s.scalar(select(func.count()).select_from(Receivable))


def test_R_QD_5_a_file_loads_the_bureaus_amounts_as_bills(app: Flask) -> None:
    with app.extensions["db_sessionmaker"]() as s:
        p = make_qd_worker(s)
        nos = numbers_of(s, p)
        result = assess(s, [(nos["pension"], "企业职工基本养老保险", "5000", "2026-11", "812.34")])
        assert (result.rows, result.created) == (1, 1)
        r = s.scalar(select(Receivable))
        assert (r.scheme, r.insurance, r.base, r.amount_fen, r.charge_type) == ("qd", "pension", 5000, 81234, "normal")
        assert assess(s, [(nos["pension"], "pension", "5000", "2026-11", "812.34")]).unchanged == 1  # idempotent
        assert _count(s) == 1


def test_R_QD_5_a_bad_row_is_reported_by_line_and_nothing_loads(app: Flask) -> None:
    with app.extensions["db_sessionmaker"]() as s:
        p = make_qd_worker(s)
        nos = numbers_of(s, p)
        text = HEADER + "\n".join(
            [
                f"{nos['pension']},养老,5000,2026-10,800.00",  # line 2: good
                f"{nos['medical']},工伤,5000,2026-10,300.00",  # line 3: no such 险种类型
                "370299999999,养老,5000,2026-10,800.00",  # line 4: unknown 个人参保编号
                f"{nos['medical']},医疗,5000,2026-13,300.00",  # line 5: bad month
                f"{nos['medical']},医疗,,2026-09,300.00",  # line 6: this year without 缴费基数
                f"{nos['medical']},医疗,5000,2026-08,-1",  # line 7: bad amount
                f"{nos['pension']},养老,5000,2026-10,800.00",  # line 8: repeats line 2
                f"{nos['medical']},养老,5000,2026-07,300.00",  # line 9: the number is medical's
            ]
        )
        with pytest.raises(qd_import.ImportFileError) as e:
            qd_import.load(s, text, 2026, NOW)
        lines = [line for line, _ in e.value.errors]
        assert lines == [3, 4, 5, 6, 7, 8, 9]  # every bad row, by line (issue 18's pipeline)
        errors = dict(e.value.errors)
        assert "险种类型不正确" in errors[3] and "与第2行重复" in errors[8] and "未查询到个人参保编号" in errors[4]
        assert "险种类型为职工基本医疗保险" in errors[9]
        with pytest.raises(qd_import.ImportFileError) as e:
            qd_import.load(
                s,
                HEADER + f"{nos['pension']},养老,5000,2026-10,800.00\n370299999999,养老,5000,2026-10,1\n"
                f"{nos['medical']},养老,5000,2026-07,300.00\n",
                2026,
                NOW,
            )
        assert [line for line, _ in e.value.errors] == [3, 4]
        assert "未查询到个人参保编号" in e.value.errors[0][1] and "险种类型为职工基本医疗保险" in e.value.errors[1][1]
        assert _count(s) == 0  # nothing half-written


def test_R_QD_5_a_file_cannot_change_a_bill_already_there(app: Flask) -> None:
    with app.extensions["db_sessionmaker"]() as s:
        p = make_qd_worker(s)
        nos = numbers_of(s, p)
        assess(s, [(nos["pension"], "养老", "5000", "2026-10", "800.00")])
        with pytest.raises(qd_import.ImportFileError) as e:
            assess(s, [(nos["pension"], "养老", "5000", "2026-10", "900.00")])
        assert e.value.errors[0][0] == 2
        assert s.scalar(select(Receivable.amount_fen)) == 80000


def test_R_QD_6_rows_of_earlier_years_are_special_items_without_base(app: Flask) -> None:
    with app.extensions["db_sessionmaker"]() as s:
        p = make_qd_worker(s)
        nos = numbers_of(s, p)
        assess(
            s,
            [(nos["medical"], "医疗", "", "2024-05", "300.00"), (nos["medical"], "医疗", "4000", "2026-11", "360.00")],
        )
        today = Month(2026, 11).first_day
        special = qingdao.insured_numbers(s, p.id, today, special=True)
        normal = qingdao.insured_numbers(s, p.id, today, special=False)
        assert [len(n.bills) for n in special] == [0, 1] or [len(n.bills) for n in special] == [1, 0]
        assert sum(len(n.bills) for n in normal) == 1
        assert next(b for n in special for b in n.bills).charge_type == "policy_backpay"


def test_R_QD_4_a_chosen_base_waits_in_the_queue_until_a_file_prices_it(app: Flask) -> None:
    with app.extensions["db_sessionmaker"]() as s:
        p = make_qd_worker(s)
        nos = numbers_of(s, p)
        today = Month(2026, 11).first_day
        pension = next(
            n for n in qingdao.insured_numbers(s, p.id, today, special=False) if n.row.insurance == "pension"
        )
        qingdao.choose_base(s, p.id, pension.row.id, "7000", channel="qd-wechat", now=NOW)
        n = next(n for n in qingdao.insured_numbers(s, p.id, today, special=False) if n.row.insurance == "pension")
        assert n.waiting_for_bill and n.base == 7000
        assert assess(s, [(nos["pension"], "养老", "7000", "2026-11", "1400.00")]).bases_applied == 1
        assert s.scalar(select(QdBaseChoice.state)) == "applied"
        n = next(n for n in qingdao.insured_numbers(s, p.id, today, special=False) if n.row.insurance == "pension")
        assert not n.waiting_for_bill and n.total_fen == 140000


def test_R_QD_5_the_command_loads_a_file_and_refuses_a_bad_one(app: Flask, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with app.extensions["db_sessionmaker"]() as s:
        p = make_qd_worker(s)
        nos = numbers_of(s, p)
        s.commit()
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + f"{nos['pension']},养老,5000,2026-10,800.00\n{nos['pension']},养老,abc,2026-11,800.00\n")
    r = app.test_cli_runner().invoke(args=["receivables", "import-qd", str(bad)])
    assert r.exit_code == 1 and "第3行：缴费基数应为整数" in r.output and "未导入任何数据" in r.output
    good = tmp_path / "good.csv"
    good.write_text(HEADER + f"{nos['pension']},养老,5000,2026-10,800.00\n")
    r = app.test_cli_runner().invoke(args=["receivables", "import-qd", str(good)])
    assert r.exit_code == 0 and "1 bills imported" in r.output, r.output
