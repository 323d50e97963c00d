"""Agreements become 失效 from the bureau's data (R-AG-8, seed 000 Q50–52): ``flask agreements import-changes``
checks every row, reports a bad one by line and loads nothing then; the payer sees 失效 and why; after a change
of 社保经办机构 a new agreement may be signed only after the 8th of the next month (Q52(2))."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from tests.factories import TAX_OFFICE, at, make_agreement, make_flex_worker
from webapp.domain import banks
from webapp.models import Agreement, Enrolment, Person
from webapp.payments.sim import controls
from webapp.services import batch_debit

from ..conftest import text

NEW_AGENCY = "北京市东城区社会保险基金管理中心"
HEADER = "id_type,id_number,change,scheme,value,changed_on\n"


def _import(app, tmp_path, body: str):
    f = tmp_path / "changes.csv"
    f.write_text(HEADER + body, encoding="utf-8")
    return app.test_cli_runner().invoke(args=["agreements", "import-changes", str(f)])


def _worker(app, providers, name="变更人", unpaid_months=0):
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        p = make_flex_worker(s, name, unpaid_months=unpaid_months)
        a = make_agreement(s, p, providers)
        s.commit()
    return p, a


def _status(app, agreement_id) -> str:
    with app.extensions["db_sessionmaker"]() as s:
        return str(s.get(Agreement, agreement_id).status)


def test_R_AG_8_a_change_of_si_agency_from_the_bureau_file_makes_the_agreement_invalid_and_says_why(
    app, providers, phone_user, tmp_path
):
    person, a = _worker(app, providers)
    app.extensions["clock"].set(at(date(2026, 11, 16)))
    r = _import(app, tmp_path, f"resident_id,{person.id_number},si_agency,flex,{NEW_AGENCY},2026-11-15\n")
    assert r.exit_code == 0, r.output
    assert "1 changes applied, 1 agreements made 失效" in r.output
    assert _status(app, a.id) == "invalid"
    page = text(phone_user(person, "alipay").get("/agreements"))
    assert "失效" in page and "失效原因" in page and "社保经办机构变更（2026年11月15日）" in page
    assert "请于2026年12月9日起重新签订缴费协议" in page
    # the batch day no longer debits it (R-AG-6 … R-AG-8)
    report = batch_debit.run(
        app.extensions["db_sessionmaker"],
        app.extensions["payment_adapters"]["agreement"],
        date(2026, 12, 8),
        lambda: at(date(2026, 12, 8), 6),
    )
    assert report.debits == 0 and controls.debits(providers) == []


def test_R_AG_8_a_bad_row_is_reported_by_line_and_nothing_loads(app, providers, tmp_path):
    person, a = _worker(app, providers)
    r = _import(
        app,
        tmp_path,
        f"resident_id,{person.id_number},name,,变更后,2026-11-15\n"
        f"resident_id,{person.id_number},si_agency,rp,{NEW_AGENCY},2026-11-15\n"  # not enrolled in rp
        "resident_id,110105198003120031,name,,某某,2026-11-15\n"  # wrong check digit
        f"resident_id,{person.id_number},moved,,x,2026-11-15\n"
        f"resident_id,{person.id_number},name,,新名,2026-13-01\n",
    )
    assert r.exit_code != 0
    for line in ("第3行", "第4行", "第5行", "第6行"):
        assert line in r.output, r.output
    assert "第2行" not in r.output and "未导入任何数据" in r.output
    assert _status(app, a.id) == "signed"
    with app.extensions["db_sessionmaker"]() as s:
        assert s.get(Person, person.id).name == "变更人"  # row 2 was good, and was not applied either


def test_R_AG_8_Q52_2_after_a_change_of_si_agency_sign_again_only_after_the_8th_of_next_month(
    app, providers, phone_user, tmp_path
):
    person, _ = _worker(app, providers)
    card = banks.card_number("ICBC", 7_700_001)
    controls.open_account(providers, card, "ICBC", person.name, 100000, id_number=person.id_number)
    app.extensions["clock"].set(at(date(2026, 11, 16)))
    assert (
        _import(app, tmp_path, f"resident_id,{person.id_number},si_agency,flex,{NEW_AGENCY},2026-11-15\n").exit_code
        == 0
    )
    form = {
        "tax_office": TAX_OFFICE,
        "bank": "ICBC",
        "bank_region": banks.regions("ICBC")[0],
        "branch": banks.branches("ICBC", banks.regions("ICBC")[0])[0],
        "holder": person.name,
        "card_number": card,
        "batch_debit": "1",
    }
    for day in (date(2026, 11, 22), date(2026, 12, 8)):
        app.extensions["clock"].set(at(day))
        b = phone_user(person, "alipay")
        assert "请于2026年12月9日起重新签订缴费协议" in text(b.get("/agreements/new"))
        r = b.post("/agreements/new", form)
        assert r.status_code == 422 and "次月8日后重签" in text(r) and f'value="{person.name}"' in text(r)
    app.extensions["clock"].set(at(date(2026, 12, 9)))
    b = phone_user(person, "alipay")
    r = b.post("/agreements/new", form)
    assert r.status_code == 200 and "签订成功" in text(r), text(r)
    with app.extensions["db_sessionmaker"]() as s:
        signed = s.scalars(select(Agreement).where(Agreement.payer_id == person.id, Agreement.status == "signed")).all()
        assert len(signed) == 1 and signed[0].si_agency == NEW_AGENCY


def test_R_AG_8_a_name_change_invalidates_and_the_payer_logs_in_with_the_new_name(app, providers, phone_user, tmp_path):
    person, a = _worker(app, providers)
    r = _import(app, tmp_path, f"resident_id,{person.id_number},name,,变更后,2026-11-20\n")
    assert r.exit_code == 0, r.output
    assert _status(app, a.id) == "invalid"
    with app.extensions["db_sessionmaker"]() as s:
        renamed = s.get(Person, person.id)
        s.expunge(renamed)
    page = text(phone_user(renamed, "alipay").get("/agreements"))  # logs in as 变更后
    assert "缴费人姓名变更（2026年11月20日），原协议失效，请重新签订缴费协议" in page


def test_R_AG_8_an_account_the_bank_closed_invalidates_only_its_agreements(app, providers, tmp_path):
    person, a = _worker(app, providers)
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        other = make_agreement(s, s.merge(person), providers, bank="CCB")
        s.commit()
    r = _import(app, tmp_path, f"resident_id,{person.id_number},account,,{a.card_number},2026-11-20\n")
    assert r.exit_code == 0, r.output
    assert (_status(app, a.id), _status(app, other.id)) == ("invalid", "signed")


def test_Q51_a_change_of_si_agency_with_dues_unpaid_is_flagged_to_the_operator(app, providers, tmp_path):
    """Q51: 缴费人变更社保经办机构前，需先缴清应缴费款 — the file still loads (the change is the bureau's), and the
    operator is told who changed with dues unpaid; those dues stay with the old office (存量数据暂不做调整)."""
    person, _ = _worker(app, providers, unpaid_months=1)
    r = _import(app, tmp_path, f"resident_id,{person.id_number},si_agency,flex,{NEW_AGENCY},2026-11-15\n")
    assert r.exit_code == 0 and "第2行（提示）" in r.output and "先缴清应缴费款" in r.output
    with app.extensions["db_sessionmaker"]() as s:
        assert s.scalar(select(Enrolment.si_agency).where(Enrolment.person_id == person.id)) == NEW_AGENCY


def test_新增协议_goes_in_the_guides_two_steps_with_下一步(app, providers, phone_user):
    """seed 000 §4 移动端: 缴费人信息 and 是否银行代扣 (… 请认真核对身份信息后，再进行下一步操作！) → 【下一步】
    → 税务机关 and 银行信息 → 【提交】; 上一步 keeps the choice, and a refused 提交 stays on the second step."""
    person, _ = _worker(app, providers)
    b = phone_user(person, "alipay")
    first = text(b.get("/agreements/new"))
    assert "再进行下一步操作" in first and ">下一步</button>" in first and 'name="bank"' not in first
    assert 'aria-current="step"><span>1</span>缴费人信息' in first
    second = text(b.get("/agreements/new?step=2&batch_debit=0"))
    assert 'name="bank"' in second and 'name="batch_debit" value="0"' in second and "是否银行代扣：否" in second
    assert ">提交</button>" in second and "/agreements/new?batch_debit=0" in second  # 上一步 keeps 否
    assert 'value="0" checked' in text(b.get("/agreements/new?batch_debit=0"))
    r = b.post("/agreements/new", {"batch_debit": "0", "tax_office": TAX_OFFICE, "bank": "ICBC", "holder": person.name})
    assert r.status_code == 422 and "请选择银行行政区划" in text(r) and 'name="batch_debit" value="0"' in text(r)
