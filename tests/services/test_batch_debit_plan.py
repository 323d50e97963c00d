"""What a batch day plans, and what the payer sees of it afterwards (R-FB-8, R-FP-5, R-CE-1): quarterly,
half-year and yearly pension/unemployment bills are never batch-debited (they are paid at the tax-office
window, Q24); a batch-debited payment opens its 明细数据 like any other."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.factories import at, make_agreement, make_flex_worker, make_pension_payer
from webapp.models import BaseDeclaration, Enrolment, SettledPayment
from webapp.payments.sim import controls
from webapp.services import batch_debit

BATCH_DAY = date(2026, 11, 9)  # the 8th is a Sunday: the next working day


def _run(app, day=BATCH_DAY):
    return batch_debit.run(
        app.extensions["db_sessionmaker"],
        app.extensions["payment_adapters"]["agreement"],
        day,
        lambda: at(day, 6),
        worker="w1",
    )


def _batch_payment_ids(app, person) -> list[int]:
    with app.extensions["db_sessionmaker"]() as s:
        return list(
            s.scalars(
                select(SettledPayment.id)
                .where(SettledPayment.payer_id == person.id, SettledPayment.batch_debit_id.is_not(None))
                .order_by(SettledPayment.id)
            )
        )


def test_R_CE_1_the_detail_of_a_batch_debited_flexible_payment_opens_and_names_the_payer(app, providers, phone_user):
    """明细数据 of a month the bank took answered 500: a batch settlement has no order to name the payer by."""
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        person = make_flex_worker(s, "批扣明细", unpaid_months=1)
        make_agreement(s, person, providers)
        s.commit()
    assert _run(app).succeeded == 3
    app.extensions["clock"].set(at(date(2026, 11, 12)))
    user = phone_user(person, "alipay")
    for pid in _batch_payment_ids(app, person):
        r = user.get(f"/flex/records/{pid}")
        page = r.get_data(as_text=True)
        assert r.status_code == 200, page
        assert "明细数据" in page and "批扣明细" in page and "2026-10" in page


def test_R_CE_1_the_detail_of_a_batch_debited_resident_pension_year_opens(app, providers, phone_user):
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        person = make_pension_payer(s, "养老明细", amount=2000, set_on=date(2026, 3, 2))
        make_agreement(s, person, providers)
        s.commit()
    assert _run(app).succeeded == 1
    app.extensions["clock"].set(at(date(2026, 11, 12)))
    (pid,) = _batch_payment_ids(app, person)
    r = phone_user(person, "alipay").get(f"/rp/records/{pid}")
    assert r.status_code == 200 and "2,000.00" in r.get_data(as_text=True)


def _flex_payer(app, providers, name, cycle, *, birth=date(1987, 4, 15), year=2026, subsidized=False):
    """A flexible worker owing 2026-10 on all three insurances, who declared ``cycle`` for contribution
    year ``year``, with a funded batch-debit agreement."""
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        person = make_flex_worker(
            s, name, unpaid_months=1, birth=birth, subsidized=subsidized, base=None if subsidized else 8000
        )
        e = s.scalar(select(Enrolment).where(Enrolment.person_id == person.id))
        row = s.scalar(
            select(BaseDeclaration).where(
                BaseDeclaration.enrolment_id == e.id, BaseDeclaration.contribution_year == year
            )
        )
        if row is None:
            row = BaseDeclaration(enrolment_id=e.id, contribution_year=year, base=8000, source="declared")
            s.add(row)
        row.cycle = cycle
        make_agreement(s, person, providers)
        s.commit()
    return person


def _debited_kinds(providers):
    return sorted(d["debit_no"][-1] for d in controls.debits(providers))


@pytest.mark.parametrize("cycle", ["quarterly", "half_year", "yearly"])
def test_R_FB_8_non_monthly_pension_and_unemployment_are_not_batch_debited(app, providers, cycle):
    """Q24: bills of a quarterly, half-year or yearly cycle are paid by agreement payment at the tax-office
    window in the period's first collection month, so the batch day takes only medical (always monthly)."""
    _flex_payer(app, providers, "按季批扣", cycle)
    report = _run(app)
    assert report.succeeded == 1
    assert _debited_kinds(providers) == ["M"]


def test_R_FB_8_a_monthly_payer_is_still_debited_pension_and_unemployment(app, providers):
    _flex_payer(app, providers, "按月批扣", "monthly")
    assert _run(app).succeeded == 3 and _debited_kinds(providers) == ["M", "P", "U"]


def test_R_FB_5_R_FB_8_within_12_months_of_retirement_the_cycle_is_monthly_and_debited(app, providers):
    """A man born 1966-06 retires at 60 years 5 months (2026-11): 2026-10 is monthly whatever he declared."""
    _flex_payer(app, providers, "临退批扣", "quarterly", birth=date(1966, 6, 15))
    assert _debited_kinds(providers) == [] and _run(app).succeeded == 3
    assert _debited_kinds(providers) == ["M", "P", "U"]


def test_R_FB_8_last_years_cycle_does_not_govern_this_year(app, providers):
    """A quarterly cycle declared for 2025-07..2026-06 ends in June; 2026-10 is billed monthly."""
    _flex_payer(app, providers, "去年按季", "quarterly", year=2025)
    assert _run(app).succeeded == 3 and _debited_kinds(providers) == ["M", "P", "U"]
