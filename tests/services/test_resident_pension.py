"""Resident pension use cases over the database (R-RP-1): the yearly generation that carries the last set
amount, what a batch debit may collect, and a declaration that never takes a stale amount (R-MO-2)."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from tests.factories import make_pension_payer
from webapp.domain.calendar import BEIJING
from webapp.domain.errors import RuleViolation
from webapp.domain.policy import PolicyTable
from webapp.models import Declaration, PensionAmount, Receivable
from webapp.services import declarations
from webapp.services import resident_pension as rp

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=BEIJING)
# A 2027 row for the tests (none is published): other grades, so carrying has to move an amount.
TABLE_2027 = PolicyTable.load().with_resident_pension(
    {
        "region": "beijing",
        "year": "2027",
        "min": "1200",
        "max": "9600",
        "step": "1200",
        "derived": "step",
        "source": "test",
    }
)


@pytest.fixture
def s(app):
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as session:
        yield session


def test_R_RP_1_the_next_year_is_generated_at_the_last_set_amount_moved_onto_its_grades(s):
    kept = make_pension_payer(s, "甲", amount=2000)  # → 1200 (the highest 2027 grade not above 2000)
    top = make_pension_payer(s, "乙", amount=9000)  # → 8400
    voided = make_pension_payer(s, "丙", amount=3000)  # voided: the payer asked to stop, nothing carried
    rp.void_amount(s, voided.id, rp.active_amount(s, rp.enrolment_of(s, voided.id).id, "rp_pension", 2026).id, NOW)
    never = make_pension_payer(s, "丁", amount=None)
    early = make_pension_payer(s, "戊", amount=None)  # already set 2027 itself in December
    rp.set_amount(
        s,
        early.id,
        insurance="rp_pension",
        year=2027,
        amount_text="6000",
        now=datetime(2026, 12, 20, 9, tzinfo=BEIJING),
        table=TABLE_2027,
    )
    s.commit()

    result = rp.generate_year(s, 2027, "beijing", NOW, TABLE_2027)
    s.commit()
    assert (result.created, result.carried, result.waiting) == (2, 2, 2)
    assert rp.generate_year(s, 2027, "beijing", NOW, TABLE_2027) == rp.GenerateResult(0, 0, 2)  # idempotent

    def year_2027(person):
        r = rp.year_receivable(s, person.id, "rp_pension", 2027)
        return None if r is None else (str(r.amount), str(r.status), (r.fee_period_start, r.fee_period_end))

    assert year_2027(kept) == ("1200.00", "due", (date(2027, 1, 1), date(2027, 12, 1)))
    assert year_2027(top)[0] == "8400.00"
    assert year_2027(voided) is None and year_2027(never) is None
    assert year_2027(early)[0] == "6000.00"
    carried = rp.active_amount(s, rp.enrolment_of(s, kept.id).id, "rp_pension", 2027)
    assert (carried.source, carried.valid_from, carried.valid_to) == ("carried", date(2027, 1, 1), date(2027, 12, 31))
    assert carried.receivable_id == rp.year_receivable(s, kept.id, "rp_pension", 2027).id


def test_R_RP_1_a_batch_debit_collects_only_at_an_active_amount_within_its_validity_period(s):
    payer = make_pension_payer(s, "甲", amount=2000)
    r = rp.year_receivable(s, payer.id, "rp_pension", 2026)
    setting = rp.active_amount(s, rp.enrolment_of(s, payer.id).id, "rp_pension", 2026)
    assert rp.amount_for_batch_debit(s, r, date(2026, 12, 8)) == setting
    assert rp.amount_for_batch_debit(s, r, date(2026, 11, 9)) is None  # before it was set
    assert rp.amount_for_batch_debit(s, r, date(2027, 1, 8)) is None  # after its period
    rp.void_amount(s, payer.id, setting.id, NOW)
    assert rp.amount_for_batch_debit(s, r, date(2026, 12, 8)) is None  # 作废: skipped within the period
    rp.set_amount(s, payer.id, insurance="rp_pension", year=2026, amount_text="4000", now=NOW)
    assert rp.amount_for_batch_debit(s, r, date(2026, 12, 8)).amount_fen == 400000  # set again: collected again


def test_R_RP_1_a_refused_setting_leaves_nothing(s):
    payer = make_pension_payer(s, "甲", amount=None)
    s.commit()
    with pytest.raises(rp.AmountRefused) as refused:
        rp.set_amounts(s, payer.id, {"rp_pension": "2500"}, year=2026, now=NOW)
    assert "rp_pension" in refused.value.errors
    assert s.scalars(select(PensionAmount)).all() == [] and rp.year_receivable(s, payer.id, "rp_pension", 2026) is None
    with pytest.raises(rp.AmountRefused, match="请选择缴费金额"):
        rp.set_amounts(s, payer.id, {}, year=2026, now=NOW)


def test_R_MO_2_a_declaration_never_takes_a_stale_amount(app, s):
    """The page showed 2000; another tab set 3000 before 提交 reached the rows: the declaration is refused
    rather than declared at a total the receivable no longer has."""
    payer = make_pension_payer(s, "甲", amount=2000)
    s.commit()
    receivable = rp.year_receivable(s, payer.id, "rp_pension", 2026)
    assert receivable.amount_fen == 200000  # held by this session (stale from here on)
    s.commit()  # (the object stays loaded; SQLite lets the other session write now)
    with app.extensions["db_sessionmaker"]() as other:
        rp.set_amount(other, payer.id, insurance="rp_pension", year=2026, amount_text="3000", now=NOW)
        other.commit()
    with pytest.raises(RuleViolation, match="缴费金额已变更"):
        declarations.declare(
            s,
            payer_id=payer.id,
            insured_id=payer.id,
            scheme="rp",
            receivable_ids=[receivable.id],
            channel="alipay",
            now=NOW,
        )
    s.commit()
    assert s.scalars(select(Declaration)).all() == []
    assert s.scalar(select(Receivable.status).where(Receivable.id == receivable.id)) == "due"
