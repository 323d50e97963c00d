"""The one import pipeline (``services.imports``, issue 18 item 2): every row checked, errors by line, all or
nothing; the special items of both schemes go through it and refuse the same things."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from tests.factories import make_flex_worker, make_pension_payer
from webapp.models import Person, Receivable
from webapp.services import flexible, resident_pension
from webapp.services.imports import (
    SPECIAL_COLUMNS,
    ImportFileError,
    ImportSpec,
    Loaded,
    RowError,
    insert_new,
    run_import,
)

HEADER = ",".join(SPECIAL_COLUMNS) + "\n"


@pytest.fixture
def people(db: Session) -> dict[str, Person]:
    flex = make_flex_worker(db, "钱一")
    pension = make_pension_payer(db, "孙二")
    db.commit()
    return {"flex": flex, "pension": pension}


def _specials(db: Session) -> int:
    return (
        db.scalar(
            sa.select(sa.func.count())
            .select_from(Receivable)
            .where(Receivable.charge_type.in_(("missed_enrolment", "policy_backpay", "other")))
        )
        or 0
    )


@pytest.mark.parametrize("scheme", ["flex", "pension"])
@pytest.mark.parametrize("notice", ["征集01", "N-01", "Ｎ01", "", "N" * 41])
def test_both_special_item_files_refuse_the_same_notice_numbers(db, people, scheme, notice):
    """The drift of issue 18: flexible accepted 征集01 (``str.isalnum`` is True for 汉字); both refuse it now."""
    person = people[scheme]
    spec = flexible.SPECIAL_ITEMS if scheme == "flex" else resident_pension.SPECIAL_ITEMS
    row = (
        f"resident_id,{person.id_number},pension,2026-03,120.00,policy_backpay,{notice}\n"
        if scheme == "flex"
        else f"resident_id,{person.id_number},rp_pension,2024,120.00,policy_backpay,{notice}\n"
    )
    report = run_import(db, spec, HEADER + row)
    assert report.errors == [(2, "征集通知流水号不正确")]
    assert _specials(db) == 0


def test_every_row_is_checked_errors_come_by_line_and_nothing_loads(db, people):
    number = people["flex"].id_number
    rows = [
        f"resident_id,{number},pension,2026-03,120.00,policy_backpay,N1\n",  # 2: good
        f"resident_id,{number},pension,2026-13,120.00,policy_backpay,N2\n",  # 3: no such month
        f"resident_id,{number},pension,2026-03,NaN,policy_backpay,N3\n",  # 4
        f"resident_id,{number},pension,2026-03,Infinity,policy_backpay,N4\n",  # 5
        f"resident_id,{number},pension,2026-03,1.005,policy_backpay,N5\n",  # 6: three decimals
        f"resident_id,{number},rp_pension,2026-03,1.00,policy_backpay,N6\n",  # 7: not a flex insurance
        f"resident_id,{people['pension'].id_number},pension,2026-03,1.00,other,N7\n",  # 8: not a flex worker
        f"idcard,{number},pension,2026-03,1.00,other,N8\n",  # 9: no such id type
        f"resident_id,{number},pension,2026-03,120.00,policy_backpay,N1\n",  # 10: line 2 again
        f"resident_id,{number},pension,2026-03,1.00,normal,N9\n",  # 11: not a special charge type
    ]
    report = run_import(db, flexible.SPECIAL_ITEMS, HEADER + "".join(rows))
    assert [line for line, _ in report.errors] == [3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert dict(report.errors)[10] == "与第2行重复"
    assert dict(report.errors)[8] == "未查询到该人员的灵活就业参保信息"
    assert report.rows == 10 and report.created == 0
    with pytest.raises(ImportFileError):
        report.raise_for_errors()
    assert _specials(db) == 0


def test_a_good_file_loads_once_and_again_changes_nothing(db, people):
    flex, pension = people["flex"].id_number, people["pension"].id_number
    text = HEADER + (
        f"resident_id,{flex},pension,2026-03,120.00,policy_backpay,N1\n"
        f"resident_id,{flex},medical,202603,30.5,missed_enrolment,N1\n"
    )
    first = run_import(db, flexible.SPECIAL_ITEMS, text)
    assert first.ok and (first.created, first.skipped) == (2, 0)
    again = run_import(db, flexible.SPECIAL_ITEMS, text)
    assert again.ok and (again.created, again.skipped) == (0, 2)
    rp = run_import(
        db, resident_pension.SPECIAL_ITEMS, HEADER + f"resident_id,{pension},rp_pension,2024,1000,other,R1\n"
    )
    assert rp.ok and rp.created == 1
    db.commit()
    amounts = sorted(db.scalars(sa.select(Receivable.amount_fen).where(Receivable.notice_no.in_(("N1", "R1")))))
    assert amounts == [3050, 12000, 100000]
    item = db.scalar(sa.select(Receivable).where(Receivable.notice_no == "R1"))
    assert item is not None and item.status == "due" and item.si_serial == "R1" and item.created_at is not None
    assert (item.fee_period_start.isoformat(), item.fee_period_end.isoformat()) == ("2024-01-01", "2024-12-01")


def test_the_header_is_checked_first_and_a_file_that_is_not_utf8_is_refused(db, people):
    assert run_import(db, flexible.SPECIAL_ITEMS, "id_type,id_number\nresident_id,1\n").errors == [
        (1, "缺少列：insurance, fee_period, amount, charge_type, notice_no")
    ]
    assert run_import(db, flexible.SPECIAL_ITEMS, "").errors[0][0] == 1
    assert run_import(db, flexible.SPECIAL_ITEMS, "证件".encode("gbk")).errors == [(1, "文件应为UTF-8编码的CSV")]
    bom = "\ufeff" + HEADER + f"resident_id,{people['flex'].id_number},pension,2026-03,1.00,other,B1\n"
    assert run_import(db, flexible.SPECIAL_ITEMS, bom).created == 1


def test_lines_are_the_files_lines_with_blank_lines_and_quoted_line_breaks(db, people):
    number = people["flex"].id_number
    text = HEADER + (
        "\n"  # line 2, blank: skipped
        f'resident_id,{number},pension,2026-03,1.00,other,"N\n1"\n'  # lines 3-4: a quoted line break
        f"resident_id,{number},pension,2026-03,1.00,other,征集\n"  # line 5
        f"resident_id,{number}\n"  # line 6: short row
    )
    report = run_import(db, flexible.SPECIAL_ITEMS, text)
    assert [line for line, _ in report.errors] == [4, 5, 6]


def test_a_load_that_fails_half_way_leaves_nothing_and_keeps_the_callers_work(db, people):
    """All or nothing even when the loader fails after writing: the load runs in a savepoint."""
    table = Receivable.__table__
    base = insert_new(Receivable)

    def load(session: Session, rows: list[dict[str, Any]]) -> Loaded:
        base(session, rows[:1])
        raise RuntimeError("disk full")

    check = flexible.SPECIAL_ITEMS.prepare
    spec: ImportSpec[Any, Any] = ImportSpec(
        name="t", columns=flexible.SPECIAL_ITEMS.columns, parse=flexible.SPECIAL_ITEMS.parse, prepare=check, load=load
    )
    people["flex"] = db.merge(people["flex"])
    people["flex"].name = "钱一改"  # the caller's own pending work
    number = people["flex"].id_number
    text = HEADER + "".join(f"resident_id,{number},pension,2026-0{m},1.00,other,S{m}\n" for m in (1, 2))
    with pytest.raises(RuntimeError):
        run_import(db, spec, text)
    assert db.scalar(sa.select(sa.func.count()).select_from(table).where(Receivable.notice_no.like("S%"))) == 0
    assert db.scalar(sa.select(Person.name).where(Person.id == people["flex"].id)) == "钱一改"


def test_a_parser_may_refuse_with_row_error(db):
    spec: ImportSpec[int, int] = ImportSpec(
        name="numbers",
        columns=("n",),
        parse=lambda f: int(f["n"]) if f["n"].isdigit() else (_ for _ in ()).throw(RowError("应为数字")),
        load=lambda s, rows: Loaded(len(rows)),
        key=lambda n: n,
    )
    assert run_import(db, spec, "n\n1\nx\n1\n").errors == [(3, "应为数字"), (4, "与第2行重复")]
    assert run_import(db, spec, "n\n1\n2\n").created == 2


def test_a_loader_that_refuses_a_row_leaves_nothing_and_warnings_come_by_line(db, people):
    """A loader applying rows one by one (the changes file) reports refusals and warnings by the rows' lines."""
    base = insert_new(Receivable)
    number = people["flex"].id_number
    spec = flexible.SPECIAL_ITEMS

    def load(refuse: bool):
        def run(session: Session, rows: list[dict[str, Any]]) -> Loaded:
            done = base(session, rows)  # written, then refused
            return Loaded(done.created, errors=((1, "第二行不行"),) if refuse else (), warnings=((0, "注意"),))

        return ImportSpec(name="t", columns=spec.columns, parse=spec.parse, prepare=spec.prepare, load=run)

    text = HEADER + "\n" + "".join(f"resident_id,{number},pension,2026-0{m},1.00,other,W{m}\n" for m in (1, 2))
    refused = run_import(db, load(True), text)
    assert refused.errors == [(4, "第二行不行")] and refused.created == 0
    assert db.scalar(sa.select(sa.func.count()).select_from(Receivable).where(Receivable.notice_no.like("W%"))) == 0
    loaded = run_import(db, load(False), text)
    assert loaded.ok and loaded.created == 2 and loaded.warnings == [(3, "注意")]
