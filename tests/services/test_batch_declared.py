"""批量扣款 beside the payer's own declarations (R-FP-5, issue 20.24; the decision is in docs/policy.md): the batch
day debits only what nobody has declared, and medical goes whole or not at all, never 本期 without a 往期 that sits
in an open self-service declaration."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.factories import at, make_agreement, make_flex_worker
from webapp.domain import batch_debit as rules
from webapp.domain.calendar import Month
from webapp.models import Declaration, Receivable
from webapp.payments.sim import controls
from webapp.services import batch_debit
from webapp.services.declarations import declare

BATCH_DAY = date(2026, 11, 9)  # the 8th is a Sunday: the next working day; 本期 2026-10, 往期 08 and 09
PENSION, UNEMPLOYMENT = 160000, 8000  # base 8000 (fen)


def test_R_FP_5_medical_is_held_when_a_window_month_is_declared_by_the_payer():
    assert rules.medical_held([Month(2026, 9)], BATCH_DAY)
    assert rules.medical_held([Month(2026, 8), Month(2026, 9)], BATCH_DAY)
    assert not rules.medical_held([], BATCH_DAY)
    assert not rules.medical_held([Month(2026, 6)], BATCH_DAY)  # outside the rolling window: not this day's medical


@pytest.fixture
def owing(app, providers):
    """A flexible worker owing 08–10 on all three insurances, with a funded batch-debit agreement, who declared
    some of it herself (``declare_months``) and did not pay."""

    def make(insurance: str, months: tuple[int, ...]):
        with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
            person = make_flex_worker(s, "自申报人", unpaid_months=3)
            make_agreement(s, person, providers, balance_fen=1_000_000)
            ids = [
                r.id
                for r in s.scalars(
                    select(Receivable).where(
                        Receivable.insured_id == person.id,
                        Receivable.insurance == insurance,
                        Receivable.fee_period_start.in_([date(2026, m, 1) for m in months]),
                    )
                )
            ]
            decl = declare(
                s,
                payer_id=person.id,
                insured_id=person.id,
                scheme="flex",
                receivable_ids=ids,
                channel="wechat",
                now=at(date(2026, 10, 20)),
                kind="normal",
            )
            s.commit()
        return person, decl.id

    return make


def _run(app):
    return batch_debit.run(
        app.extensions["db_sessionmaker"],
        app.extensions["payment_adapters"]["agreement"],
        BATCH_DAY,
        lambda: at(BATCH_DAY, 6),
        worker="w1",
    )


def _states(app, person):
    with app.extensions["db_sessionmaker"]() as s:
        rows = s.execute(
            select(Receivable.insurance, Receivable.fee_period_start, Receivable.status).where(
                Receivable.insured_id == person.id, Receivable.fee_period_start >= date(2026, 8, 1)
            )
        ).all()
    return {(ins, f"{d:%Y-%m}"): str(status) for ins, d, status in rows}


def test_R_FP_5_batch_day_never_debits_current_medical_alone_beside_a_declared_earlier_month(app, providers, owing):
    """The walk's case: 2026-09 medical (and 08) sat in her open declaration; the batch day used to debit 2026-10
    medical alone. Now it leaves medical to her declaration and takes pension and unemployment 本期 as usual."""
    person, decl_id = owing("medical", (8, 9))
    report = _run(app)
    assert (report.succeeded, report.failed) == (2, 0)
    assert sorted(d["amount_fen"] for d in controls.debits(providers)) == [UNEMPLOYMENT, PENSION]
    states = _states(app, person)
    assert states[("medical", "2026-10")] == "due"  # not debited alone
    assert states[("medical", "2026-08")] == states[("medical", "2026-09")] == "declared"  # her declaration stands
    assert states[("pension", "2026-10")] == states[("unemployment", "2026-10")] == "paid"
    with app.extensions["db_sessionmaker"]() as s:
        assert str(s.get(Declaration, decl_id).status) == "declared"  # still hers to pay (继续缴费) or void


def test_R_FP_5_a_declared_pension_month_is_left_to_the_payer_and_medical_goes_whole(app, providers, owing):
    person, _ = owing("pension", (10,))
    report = _run(app)
    assert report.succeeded == 2  # medical 08–10 as one debit, and unemployment 本期
    amounts = sorted(d["amount_fen"] for d in controls.debits(providers))
    assert amounts[0] == UNEMPLOYMENT and len(amounts) == 2
    states = _states(app, person)
    assert {states[("medical", f"2026-{m:02d}")] for m in (8, 9, 10)} == {"paid"}
    assert states[("pension", "2026-10")] == "declared"
    assert Decimal(amounts[1]) == 3 * Decimal(58492)  # medical 本期 + 往期 together
