"""The demo data a newcomer sees with `make run` (SPEC §13), and the synthetic population that load tests
and benchmarks stand on."""

from __future__ import annotations

import json

from sqlalchemy import func, select
from stdnum.cn import ric

from webapp import demo
from webapp.domain.identity import register_key
from webapp.models import Enrolment, Person, Receivable


def _count(app, model, *where):
    with app.extensions["db_sessionmaker"]() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_demo_seed_is_idempotent_and_people_json_lists_every_role(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    counts = (_count(app, Person), _count(app, Receivable))
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    assert (_count(app, Person), _count(app, Receivable)) == counts
    people = json.loads(runner.invoke(args=["demo", "people", "--json"]).output)
    roles = {r for p in people for r in p["roles"]}
    assert {
        "rm-family",
        "rm-paid",
        "no-enrolment",
        "face-fails",
        "flex",
        "flex-subsidized",
        "flex-new",
        "flex-special",
        "flex-lapse",
        "rp",
    } <= roles
    for p in people:
        assert set(p) >= {"name", "id_type", "id_number", "roles"} and ric.is_valid(p["id_number"])
    family = next(p for p in people if "rm-family" in p["roles"])["family"]
    assert {m["relation"] for m in family} == {"父亲", "母亲", "子女"}


def test_R_ID_3_a_demo_person_no_does_not_repeat_the_id_number(app):
    with app.extensions["db_sessionmaker"]() as s:
        demo.seed(s, app.extensions["clock"].today())
        s.commit()
        for p in s.scalars(select(Person)):
            assert p.person_no and p.id_number[6:14] not in p.person_no and p.id_number[-4:] not in p.person_no[-4:]


def test_demo_population_creates_enrolled_people_with_receivables_and_is_idempotent(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "population", "--residents", "30", "--flex", "20", "--json"])
    assert first.exit_code == 0, first.output
    people = json.loads(first.output)
    assert len(people) == 50 and all(ric.is_valid(p["id_number"]) for p in people)
    assert {tuple(p["roles"]) for p in people} == {("population", "rm"), ("population", "flex")}
    assert _count(app, Enrolment) == 50
    assert _count(app, Receivable, Receivable.scheme == "rm") == 30
    assert _count(app, Receivable, Receivable.scheme == "flex") == 20 * 9  # the rolling window, three insurances
    again = runner.invoke(args=["demo", "population", "--residents", "30", "--flex", "20", "--json"])
    assert json.loads(again.output) == people and _count(app, Person) == 50
    more = runner.invoke(args=["demo", "population", "--residents", "40", "--flex", "20"])
    assert "60 people ready" in more.output and _count(app, Person) == 60


def test_a_population_resident_can_log_in_and_pay(app, providers, phone_user):
    from webapp.payments.sim import controls

    from .views.flows import declare_for, order_state, start_order

    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        demo.population(
            s,
            residents=1,
            flex_workers=0,
            today=app.extensions["clock"].today(),
            key=register_key(app.config["SECRET_KEY"]),
        )
        s.commit()
        person = s.scalar(select(Person))
    b = phone_user(person, "wechat")
    no = start_order(b, declare_for(b, person.id), "wechat")
    controls.pay(providers, "wechat", no)
    controls.deliver_pending(providers)
    assert order_state(app, no) == "paid"


def test_R_AG_2_every_persona_has_a_bank_account_a_newcomer_can_sign_with(app, providers, phone_user):
    from webapp.domain import banks
    from webapp.payments.sim import controls

    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    people = json.loads(runner.invoke(args=["demo", "people", "--json"]).output)
    for p in people:
        (account,) = p["bank_accounts"]
        assert set(account) >= {"bank", "card_number", "holder", "balance"} and account["holder"] == p["name"]
        bank = banks.banks()[account["bank"]]
        assert banks.normalize_card(bank.code, account["card_number"]) == account["card_number"]
        assert controls.account(providers, account["card_number"])["holder"] == p["name"]


def test_the_agreement_personas_pay_by_agreement_at_once_and_one_is_short_of_funds(app, providers, phone_user):
    from datetime import date

    from tests.factories import at
    from webapp.services import batch_debit

    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    people = {p["name"]: p for p in json.loads(runner.invoke(args=["demo", "people", "--json"]).output)}
    assert "agreement" in people["钱敏"]["roles"] and "agreement-short-funds" in people["高红"]["roles"]
    with app.extensions["db_sessionmaker"]() as s:
        qian = s.scalar(select(Person).where(Person.id_number == people["钱敏"]["id_number"]))
        s.expunge(qian)
    page = phone_user(qian, "alipay").get("/agreements").get_data(as_text=True)
    assert page.count("签订成功") == 2  # one per 税务机关 of her enrolments, in effect since last month
    report = batch_debit.run(
        app.extensions["db_sessionmaker"],
        app.extensions["payment_adapters"]["agreement"],
        date(2026, 11, 9),
        lambda: at(date(2026, 11, 9), 6),
    )
    assert report.reasons == {"余额不足": 3} and report.succeeded == 3  # 高红 short of everything, 钱敏 debited


def test_a_population_with_agreements_is_debited_by_the_batch_run(app, providers):
    from datetime import date

    from tests.factories import at
    from webapp.services import batch_debit

    runner = app.test_cli_runner()
    r = runner.invoke(args=["demo", "population", "--flex", "5", "--agreements", "--json"])
    assert r.exit_code == 0, r.output
    assert all(p["bank_accounts"] for p in json.loads(r.output))
    report = batch_debit.run(
        app.extensions["db_sessionmaker"],
        app.extensions["payment_adapters"]["agreement"],
        date(2026, 11, 9),
        lambda: at(date(2026, 11, 9), 6),
    )
    assert (report.succeeded, report.failed) == (15, 0)


def test_demo_rp_persona_has_a_set_amount_an_unpaid_year_and_a_special_item(app):
    """Role ``rp``: 2000 set for this year (R-RP-1), the year owed, one 人社核定 item (R-RP-2)."""
    from webapp.services import resident_pension as rp

    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    people = json.loads(runner.invoke(args=["demo", "people", "--json"]).output)
    [persona] = [p for p in people if "rp" in p["roles"]]
    with app.extensions["db_sessionmaker"]() as s:
        person = s.scalar(select(Person).where(Person.id_number == persona["id_number"]))
        e = rp.enrolment_of(s, person.id)
        assert rp.active_amount(s, e.id, "rp_pension", 2026).amount_fen == 200000
        assert str(rp.year_receivable(s, person.id, "rp_pension", 2026).status) == "due"
        assert len(rp.special_receivables(s, person.id)) == 1


def test_R_ID_4_demo_holder_names_the_person_the_face_check_accepts(app):
    from webapp.domain.identity import holder_name

    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    assert runner.invoke(args=["demo", "holder", "110105198003120032"]).output.strip() == "王建国"
    assert runner.invoke(args=["demo", "holder", "110101199003070054"]).output.strip() == "孙强"
    assert runner.invoke(args=["demo", "holder", "110105198003120040"]).output.strip() == holder_name(
        register_key(app.config["SECRET_KEY"]), "resident_id", "110105198003120040"
    )
    bad = runner.invoke(args=["demo", "holder", "110105198003120031"])
    assert bad.exit_code != 0 and "校验位" in bad.output


def test_R_ID_4_every_demo_persona_logs_in_and_face_fails_says_why(app):
    from tests.conftest import Browser

    with app.extensions["db_sessionmaker"]() as s:
        demo.seed(s, app.extensions["clock"].today())
        s.commit()
        people = demo.people_json(s)
    for i, p in enumerate(people):
        b, env = Browser(app), {"REMOTE_ADDR": f"10.1.0.{i + 1}"}  # one phone each: under the login limit
        b.get("/login", environ_base=env)
        b.post(
            "/login",
            {"name": p["name"], "id_type": "resident_id", "id_number": p["id_number"], "agree": "1"},
            environ_base=env,
        )
        b.get("/login/face", environ_base=env)  # the login form started a new session, with its own token (D4)
        r = b.post("/login/face", environ_base=env)
        if "face-fails" in p["roles"]:
            assert r.status_code == 422 and "光线" in r.get_data(as_text=True)
        else:
            assert r.status_code == 303, p["name"]
