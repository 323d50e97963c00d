"""批量扣款 on the batch day (R-BD-1 … R-BD-4, R-FP-5): what is debited together, what a short balance
does item by item, and that no rerun, crash or second worker ever takes money twice."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.factories import TAX_OFFICE, at, make_agreement, make_flex_worker
from webapp.domain import batch_debit as rules
from webapp.domain.calendar import BEIJING
from webapp.models import BatchDebit, Receivable, SettledPayment
from webapp.payments.sim import controls
from webapp.services import batch_debit

BATCH_DAY = date(2026, 11, 9)  # the 8th is a Sunday: the next working day
MEDICAL, PENSION, UNEMPLOYMENT = 58492, 160000, 8000  # 2025 numbers, base 8000 (fen)


@pytest.fixture
def worker(app, providers):
    """A flexible worker owing 08–10 on all three insurances, with a batch-debit agreement in effect."""

    def make(balance_fen: int, **kw):
        with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
            p = make_flex_worker(s, "批扣人", unpaid_months=3)
            a = make_agreement(s, p, providers, balance_fen=balance_fen, **kw)
            s.commit()
        return p, a

    return make


def _run(app, day=BATCH_DAY, worker="w1", chunk=500):
    return batch_debit.run(
        app.extensions["db_sessionmaker"],
        app.extensions["payment_adapters"]["agreement"],
        day,
        lambda: at(day, 6),
        worker=worker,
        chunk=chunk,
    )


def _finished(app, day=BATCH_DAY):
    """The run's finished_at, and that every row is done."""
    from webapp.models import BatchRun, BatchWork

    with app.extensions["db_sessionmaker"]() as s:
        run = s.scalar(select(BatchRun).where(BatchRun.batch_date == day))
        left = s.scalar(select(func.count()).select_from(BatchWork).where(BatchWork.state != "done"))
        return run is not None and run.finished_at is not None and left == 0


def _owed(app, person):
    """What is still due, as (insurance, YYYY-MM) pairs."""
    with app.extensions["db_sessionmaker"]() as s:
        rows = s.execute(
            select(Receivable.insurance, Receivable.fee_period_start).where(
                Receivable.insured_id == person.id, Receivable.status == "due"
            )
        ).all()
    return sorted((ins, f"{d:%Y-%m}") for ins, d in rows)


def test_R_FP_5_the_groups_medical_together_pension_and_unemployment_current_only():
    from decimal import Decimal

    from webapp.domain.calendar import Month
    from webapp.domain.flexible import FlexReceivable

    items = [
        FlexReceivable(i, ins, Month(2026, m), Decimal("1.00"), "", None)
        for i, (ins, m) in enumerate(
            [(ins, m) for ins in ("pension", "unemployment", "medical") for m in (7, 8, 9, 10)]
        )
    ]
    groups = {g.kind: sorted(str(r.fee_period) for r in g.receivables) for g in rules.flex_groups(items, BATCH_DAY)}
    assert groups == {"medical": ["2026-08", "2026-09", "2026-10"], "pension": ["2026-10"], "unemployment": ["2026-10"]}


def test_R_BD_1_R_FP_5_a_funded_account_pays_medical_and_the_current_month(app, providers, worker):
    person, _ = worker(1_000_000)
    report = _run(app)
    assert (report.succeeded, report.failed) == (3, 0)
    assert _owed(app, person) == [
        ("pension", "2026-08"),
        ("pension", "2026-09"),
        ("unemployment", "2026-08"),
        ("unemployment", "2026-09"),
    ]  # 往期 pension and unemployment are the payer's
    debits = controls.debits(providers)
    assert [d["amount_fen"] for d in debits] == [3 * MEDICAL, PENSION, UNEMPLOYMENT]  # medical first
    with app.extensions["db_sessionmaker"]() as s:
        paid = s.scalars(
            select(SettledPayment).where(
                SettledPayment.payer_id == person.id, SettledPayment.batch_debit_id.is_not(None)
            )
        ).all()
        assert len(paid) == 5 and {p.channel for p in paid} == {"batch"} and {p.method for p in paid} == {"agreement"}


def test_R_BD_3_R_FP_5_a_short_balance_fails_medical_whole_and_still_takes_what_it_can(
    app, providers, worker, phone_user
):
    person, agreement = worker(170000)  # 1,700.00: not the 1,754.76 medical needs, but 1,600 + 80
    report = _run(app)
    assert (report.succeeded, report.failed) == (2, 1) and report.reasons == {"余额不足": 1}
    owed = _owed(app, person)
    assert [m for ins, m in owed if ins == "medical"] == ["2026-08", "2026-09", "2026-10"]  # all or nothing
    assert ("pension", "2026-10") not in owed and ("unemployment", "2026-10") not in owed
    assert controls.account(providers, agreement.card_number)["balance_fen"] == 170000 - PENSION - UNEMPLOYMENT
    app.extensions["clock"].set(at(date(2026, 11, 10)))
    page = phone_user(person, "alipay").get("/flex/due").get_data(as_text=True)
    assert "批扣失败" in page and "余额不足" in page and "7日前存足费款" in page  # R-BD-3, Q44's advice


def test_R_BD_2_rerunning_the_day_takes_nothing_twice(app, providers, worker):
    worker(1_000_000)
    first = _run(app)
    again = _run(app, worker="w2")
    assert first.succeeded == 3 and again.debits == 0
    assert len(controls.debits(providers)) == 3
    with app.extensions["db_sessionmaker"]() as s:
        assert s.scalar(select(func.count()).select_from(SettledPayment)) == 5 + 3 * 3  # + the months paid before


def test_R_BD_2_a_worker_that_fails_after_the_bank_answered_gives_its_chunk_back_and_no_money_is_taken_twice(
    app, providers, worker, monkeypatch
):
    """Before (D7): the failed worker's share stayed claimed for the 10-minute lease and an immediate rerun did
    nothing. Now the chunk goes back at once; the rerun resends the planned debits under their numbers and the bank
    answers what it decided the first time."""
    person, agreement = worker(1_000_000)
    real_apply = batch_debit.apply

    def crash(*a, **kw):
        raise SystemExit("killed")  # the bank has debited; we never recorded it

    monkeypatch.setattr(batch_debit, "apply", crash)
    with pytest.raises(SystemExit):
        _run(app)
    assert len(controls.debits(providers)) == 3
    monkeypatch.setattr(batch_debit, "apply", real_apply)
    report = _run(app, worker="w2")  # at once: no lease to wait for
    assert (report.resumed, report.succeeded, report.unanswered) == (3, 3, 0)
    assert len(controls.debits(providers)) == 3  # the resend got the bank's first answers
    assert (
        controls.account(providers, agreement.card_number)["balance_fen"]
        == 1_000_000 - 3 * MEDICAL - PENSION - UNEMPLOYMENT
    )
    assert _finished(app)


def test_R_BD_2_two_workers_at_once_share_the_run_and_debit_each_receivable_once(app, providers):
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        people = [make_flex_worker(s, f"批扣{i}", unpaid_months=1) for i in range(12)]
        for p in people:
            make_agreement(s, p, providers)
        s.commit()
    reports, errors = [], []

    def work(name):
        try:
            reports.append(_run(app, worker=name, chunk=3))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(r.succeeded for r in reports) == 12 * 3
    debit_nos = [d["debit_no"] for d in controls.debits(providers)]
    assert len(debit_nos) == len(set(debit_nos)) == 12 * 3
    with app.extensions["db_sessionmaker"]() as s:
        assert s.scalar(select(func.count()).select_from(BatchDebit)) == 12 * 3


@pytest.mark.parametrize("case", ["revoked", "tomorrow", "no-batch", "other-office"])
def test_R_BD_1_R_AG_4_R_AG_6_only_batch_agreements_in_effect_for_the_office_are_debited(app, providers, case):
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        p = make_flex_worker(s, "不扣", unpaid_months=1)
        a = make_agreement(
            s,
            p,
            providers,
            batch_debit=case != "no-batch",
            effective_on=BATCH_DAY + timedelta(days=1) if case == "tomorrow" else date(2026, 1, 1),
            tax_office="国家税务总局北京市海淀区税务局" if case == "other-office" else TAX_OFFICE,
        )
        if case == "revoked":
            a.status = "revoked"
        s.commit()
    report = _run(app)
    assert report.debits == 0 and controls.debits(providers) == []


def test_R_BD_1_a_declared_item_is_left_to_its_payer(app, providers, worker):
    from webapp.services import declarations

    person, _ = worker(1_000_000)
    with app.extensions["db_sessionmaker"]() as s:  # before the batch day, the payer declared medical
        ids = list(
            s.scalars(
                select(Receivable.id).where(
                    Receivable.insured_id == person.id, Receivable.insurance == "medical", Receivable.status == "due"
                )
            )
        )
        declarations.declare(
            s,
            payer_id=person.id,
            insured_id=person.id,
            scheme="flex",
            receivable_ids=ids,
            channel="alipay",
            now=datetime(2026, 11, 6, tzinfo=BEIJING),
        )
        s.commit()
    report = _run(app)
    assert report.succeeded == 2 and {d["amount_fen"] for d in controls.debits(providers)} == {PENSION, UNEMPLOYMENT}


def test_R_BD_4_agreement_holders_are_reminded_to_fund_the_account_by_the_7th(app, providers, worker, phone_user):
    person, _ = worker(0)
    assert rules.reminder(date(2026, 11, 3)) == (
        "本月银行批量扣款日为2026年11月9日，请于2026年11月7日前在签约银行账户存足费款，以免扣款失败。"
    )
    assert rules.reminder(BATCH_DAY) is None
    app.extensions["clock"].set(at(date(2026, 11, 3)))
    assert "存足费款" in phone_user(person, "alipay").get("/").get_data(as_text=True)
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        other = make_flex_worker(s, "无协议")
        s.commit()
    assert "存足费款" not in phone_user(other, "alipay").get("/").get_data(as_text=True)


def test_the_batch_debit_command_runs_only_on_a_batch_day(app, providers, worker):
    worker(1_000_000)
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["batch-debit", "run", "--date", "2026-11-10"])
    assert refused.exit_code != 0 and "不是批量扣款日" in refused.output and "2026年11月9日" in refused.output
    done = runner.invoke(args=["batch-debit", "run", "--date", "2026-11-09"])
    assert done.exit_code == 0 and "3 debited" in done.output, done.output


# ------------------------------------------------------------------------------ resident pension (R-RP-1)


@pytest.fixture
def pension_payer(app, providers):
    """A resident pension payer who set ``amount`` in March, with a batch-debit agreement in effect."""

    def make(amount: int | None = 2000, balance_fen: int = 1_000_000):
        from tests.factories import make_pension_payer

        with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
            p = make_pension_payer(s, "养老批扣", amount=amount, set_on=date(2026, 3, 2))
            a = make_agreement(s, p, providers, balance_fen=balance_fen)
            s.commit()
        return p, a

    return make


def _year_receivable(app, person):
    from webapp.services import resident_pension as rp

    with app.extensions["db_sessionmaker"]() as s:
        r = rp.year_receivable(s, person.id, "rp_pension", 2026)
        s.expunge(r)
    return r


def test_R_BD_1_R_RP_1_resident_pension_is_debited_at_the_amount_the_payer_set(
    app, providers, pension_payer, phone_user
):
    person, agreement = pension_payer(2000)
    report = _run(app)
    assert (report.succeeded, report.failed) == (1, 0)
    assert [(d["amount_fen"], d["debit_no"][-1]) for d in controls.debits(providers)] == [(200000, "R")]
    assert str(_year_receivable(app, person).status) == "paid"
    assert controls.account(providers, agreement.card_number)["balance_fen"] == 1_000_000 - 200000
    assert _run(app, worker="w2").debits == 0  # R-BD-2
    app.extensions["clock"].set(at(date(2026, 11, 10)))
    page = phone_user(person, "alipay").get("/rp/records?start=2026-01&end=2026-12").get_data(as_text=True)
    assert "2,000.00" in page and "批扣成功" in page


def test_R_BD_1_R_RP_1_a_voided_amount_is_not_debited(app, providers, pension_payer):
    from webapp.services import resident_pension as rp

    person, _ = pension_payer(2000)
    with app.extensions["db_sessionmaker"]() as s:
        amount = rp.active_amount(s, rp.enrolment_of(s, person.id).id, "rp_pension", 2026)
        rp.void_amount(s, person.id, amount.id, datetime(2026, 11, 5, 9, tzinfo=BEIJING))
        s.commit()
    assert _run(app).debits == 0 and controls.debits(providers) == []
    assert str(_year_receivable(app, person).status) == "due"  # still the payer's to pay 10th–25th


def test_R_BD_1_resident_pension_without_a_set_amount_is_not_debited(app, providers, pension_payer):
    pension_payer(None)
    assert _run(app).debits == 0


def test_R_BD_3_a_short_balance_leaves_the_pension_year_due_and_says_why(app, providers, pension_payer, phone_user):
    person, _ = pension_payer(2000, balance_fen=1000)
    report = _run(app)
    assert report.reasons == {"余额不足": 1}
    assert str(_year_receivable(app, person).status) == "due" and _year_receivable(app, person).batch_debit_id is None
    app.extensions["clock"].set(at(date(2026, 11, 10)))
    page = phone_user(person, "alipay").get("/rp/pay").get_data(as_text=True)
    assert "批扣失败" in page and "余额不足" in page and "城乡居民基本养老保险" in page
    flex = phone_user(person, "alipay").get("/rp/pay/select?insurance=rp_pension").get_data(as_text=True)
    assert "批扣失败" in flex


def test_R_BD_2_R_RP_1_while_the_bank_decides_the_amount_cannot_be_changed_voided_or_declared(
    app, providers, pension_payer, monkeypatch
):
    from webapp.domain.errors import RuleViolation
    from webapp.services import declarations
    from webapp.services import resident_pension as rp

    person, _ = pension_payer(2000)
    monkeypatch.setattr(batch_debit, "send", lambda *a, **kw: None)  # the bank does not answer: the debit waits
    report = _run(app)
    assert report.unanswered == 1 and report.debits == 0  # planned and sent, nothing decided
    receivable = _year_receivable(app, person)
    assert receivable.batch_debit_id is not None
    now = datetime(2026, 11, 9, 9, tzinfo=BEIJING)
    with app.extensions["db_sessionmaker"]() as s:
        amount = rp.active_amount(s, rp.enrolment_of(s, person.id).id, "rp_pension", 2026)
        with pytest.raises(RuleViolation, match="正在银行批量扣款中"):
            rp.set_amount(s, person.id, insurance="rp_pension", year=2026, amount_text="3000", now=now)
        with pytest.raises(RuleViolation, match="正在银行批量扣款中"):
            rp.void_amount(s, person.id, amount.id, now)
        with pytest.raises(RuleViolation, match="正在银行批量扣款中"):
            declarations.declare(
                s,
                payer_id=person.id,
                insured_id=person.id,
                scheme="rp",
                receivable_ids=[receivable.id],
                channel="alipay",
                now=now,
            )
        assert rp.active_amount(s, amount.enrolment_id, "rp_pension", 2026).amount_fen == 200000


def test_R_CE_6_months_taken_by_the_batch_debit_are_posted_and_certified(app, providers, pension_payer):
    """A batch-debited payment has no order; it is posted (R-CE-2) and certified like any other (R-CE-6)."""
    import io

    from pypdf import PdfReader

    from tests.factories import make_certificate
    from webapp.domain.certificates import pdf_password
    from webapp.services import certificates

    person, _ = pension_payer(2000)
    assert _run(app).succeeded == 1
    with app.extensions["db_sessionmaker"]() as s:
        cert = make_certificate(s, person, today=date(2026, 11, 20))
        assert str(cert.status) == "made" and cert.total_fen == 200000
        reader = PdfReader(io.BytesIO(certificates.pdf_of(s, cert)))
        reader.decrypt(pdf_password(person.id_number))
        text = "".join(page.extract_text() for page in reader.pages).replace(" ", "").replace("\n", "")
        assert "2,000.00" in text and "城乡居民基本养老保险" in text
