"""灵活就业 pages: base declaration, payment with the rolling window, special items, receivable query,
records, and the bureau's data loaded from the command line (R-FB-*, R-FP-*)."""

import re
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from webapp.domain.calendar import BEIJING
from webapp.models import BaseDeclaration, Declaration, Person, Receivable
from webapp.payments.sim import controls

from ..conftest import Browser, text
from .flows import order_state, start_order

FLEX, SUBSIDIZED, NEW, SPECIAL, LAPSE = "flex", "subsidized", "new", "special", "lapse"


def _count(app, model, *where):
    with app.extensions["db_sessionmaker"]() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def as_person(phone_user, flex):
    def login(role: str, channel: str = "alipay") -> Browser:
        return phone_user(flex[role], channel)

    return login


def _ids(page: str) -> list[str]:
    return re.findall(r'name="receivable" value="(\d+)"', page)


# ----------------------------------------------------------------------------------------- base


def test_R_FB_1_amounts_update_as_the_new_enrollee_types(as_person):
    b = as_person(NEW)
    page = text(b.get("/flex/base"))
    assert "新参保" in page and 'name="base"' in page
    # 2026-07.. has no published row: 2025's numbers apply (min 7162), as the page says (R-FB-6).
    frag = b.post("/flex/base/preview", {"base": "7162"}, headers={"HX-Request": "true"})
    assert "<html" not in text(frag)
    assert "¥1,432.40" in text(frag) and "¥71.62" in text(frag)
    frag = text(b.post("/flex/base/preview", {"base": "8000"}, headers={"HX-Request": "true"}))
    assert "¥1,600.00" in frag and "¥80.00" in frag and "固定费额" in frag


@pytest.mark.parametrize("typed", ["6325", "7161", "35812", "7000.5", "七千", ""])
def test_R_FB_1_bad_base_is_refused_on_the_same_screen_and_nothing_is_written(as_person, app, typed):
    b = as_person(NEW)
    b.get("/flex/base")
    before = _count(app, BaseDeclaration)
    r = b.post("/flex/base", {"base": typed, "cycle": "monthly"})
    assert r.status_code == 422
    assert re.search(r"缴费基数须为\d+至\d+之间的整数|请填写缴费基数|整数", text(r))
    if typed:
        assert f'value="{typed}"' in text(r)
    assert _count(app, BaseDeclaration) == before


def test_R_FB_1_pension_and_unemployment_bases_must_be_equal(as_person):
    b = as_person(NEW)
    b.get("/flex/base")
    r = b.post("/flex/base", {"base": "8000", "unemployment_base": "9000", "cycle": "monthly"})
    assert r.status_code == 422 and "一致" in text(r)


def test_R_FB_3_new_enrollee_declares_once_then_pays(as_person, app):
    b = as_person(NEW)
    b.get("/flex/base")
    r = b.post("/flex/base", {"base": "8000", "cycle": "monthly"})
    assert r.status_code == 200 and "申报成功" in text(r) and "去缴费" in text(r)
    assert _count(app, BaseDeclaration, BaseDeclaration.source == "declared") >= 1
    page = text(b.get("/flex/base"))
    assert 'name="base"' not in page  # once only, then read-only until the window


def test_R_FB_3_outside_the_window_the_base_is_read_only_and_the_page_says_when(as_person):
    page = text(as_person(FLEX).get("/flex/base"))
    assert 'name="base"' not in page
    assert "6月14日" in page or "窗口期" in page


def test_R_FB_2_subsidized_person_sees_fixed_amounts_and_no_input(as_person):
    page = text(as_person(SUBSIDIZED).get("/flex/base"))
    assert 'name="base"' not in page and "享受补贴人员" in page and "固定" in page


def test_R_FB_6_provisional_year_says_so(as_person):
    page = text(as_person(FLEX).get("/flex/pay/select"))
    assert "暂按" in page or "上年度" in page


# ----------------------------------------------------------------------------------------- pay


def test_R_FP_6_no_paying_for_others(as_person):
    page = text(as_person(FLEX).get("/flex/pay"))
    assert "他人" not in page.replace("不能代他人缴费", "")
    assert "不能代他人缴费" in page


def test_R_FP_1_rolling_window_lists_current_and_two_overdue_months(as_person):
    page = text(as_person(FLEX).get("/flex/pay/select"))
    assert len(_ids(page)) == 9
    for m in ("2026-10", "2026-09", "2026-08"):
        assert m in page
    assert "本期应缴费" in page and "往期未缴费" in page
    assert "2026-07" not in page
    assert "¥6,794.76" in page  # (1600 + 80 + 584.92) × 3


def test_R_FP_2_medical_without_its_overdue_months_is_refused(as_person, app, flex):
    b = as_person(FLEX)
    page = text(b.get("/flex/pay/select"))
    with app.extensions["db_sessionmaker"]() as s:
        medical_current = s.scalar(
            select(Receivable.id).where(
                Receivable.insured_id == flex[FLEX].id,
                Receivable.insurance == "medical",
                Receivable.fee_period_start == datetime(2026, 10, 1).date(),
            )
        )
    before = _count(app, Declaration)
    r = b.post("/flex/pay/select", {"tab": "normal", "receivable": [str(medical_current)]})
    assert r.status_code == 422 and "职工基本医疗保险" in text(r) and "一次性" in text(r)
    assert _count(app, Declaration) == before
    assert len(_ids(page)) == 9


def test_R_FP_2_pension_alone_for_one_month_is_allowed(as_person, app, flex):
    b = as_person(FLEX)
    b.get("/flex/pay/select")
    with app.extensions["db_sessionmaker"]() as s:
        pension = s.scalar(
            select(Receivable.id).where(
                Receivable.insured_id == flex[FLEX].id,
                Receivable.insurance == "pension",
                Receivable.fee_period_start == datetime(2026, 9, 1).date(),
            )
        )
    r = b.post("/flex/pay/select", {"tab": "normal", "receivable": [str(pension)]})
    assert r.status_code == 303 and "/pay/" in r.location
    page = text(b.get(r.location))
    assert "¥1,600.00" in page and "支付宝" in page and "协议支付" in page  # R-CH-1: seed 004 §1.9


def test_R_FP_2_the_live_total_is_computed_on_the_server(as_person):
    b = as_person(FLEX)
    ids = _ids(text(b.get("/flex/pay/select")))
    frag = b.post(
        "/flex/pay/total", {"tab": "normal", "receivable": ids[:1] + ["999999", "x"]}, headers={"HX-Request": "true"}
    )
    assert "<html" not in text(frag) and 'id="total"' in text(frag)
    amounts = re.findall(r"¥([\d,]+\.\d\d)", text(frag))
    assert amounts and amounts[0] in ("1,600.00", "80.00", "584.92")


def test_R_MO_2_a_receivable_of_another_person_cannot_be_declared(as_person, app, flex):
    b = as_person(FLEX)
    b.get("/flex/pay/select")
    with app.extensions["db_sessionmaker"]() as s:
        foreign = s.scalar(
            select(Receivable.id).where(Receivable.insured_id == flex[LAPSE].id, Receivable.status == "due")
        )
    r = b.post("/flex/pay/select", {"tab": "normal", "receivable": [str(foreign)]})
    assert r.status_code == 422 and "所选缴费信息有误" in text(r)


def test_R_FP_3_special_items_sharing_a_notice_number_go_together(as_person, app, flex):
    b = as_person(SPECIAL)
    page = text(b.get("/flex/pay/select?tab=special"))
    assert "20261012044739" in page and "20261012044809" in page and "必须一起缴费" in page
    with app.extensions["db_sessionmaker"]() as s:
        rows = s.execute(
            select(Receivable.id, Receivable.notice_no).where(
                Receivable.insured_id == flex[SPECIAL].id, Receivable.notice_no.is_not(None)
            )
        ).all()
    group = [str(i) for i, n in rows if n == "20261012044739"]
    r = b.post("/flex/pay/select", {"tab": "special", "receivable": group[:1]})
    assert r.status_code == 422 and "同一征集通知流水号" in text(r)
    r = b.post("/flex/pay/select", {"tab": "special", "receivable": group})
    assert r.status_code == 303


def test_R_FP_4_outside_the_10th_to_25th_payment_is_closed_and_says_when_it_opens(as_person, app):
    b = as_person(FLEX)
    ids = _ids(text(b.get("/flex/pay/select")))
    before = _count(app, Declaration)
    app.extensions["clock"].set(datetime(2026, 11, 26, 0, 0, tzinfo=BEIJING))
    page = b.get("/flex/pay/select")
    assert "12月10日" in text(page) and not _ids(text(page))
    r = b.post("/flex/pay/select", {"tab": "normal", "receivable": ids})
    assert r.status_code == 422 and _count(app, Declaration) == before


def test_R_FP_4_on_the_batch_day_an_agreement_payer_is_told_why(as_person, app, flex):
    from tests.factories import make_agreement

    with app.extensions["db_sessionmaker"]() as s:
        make_agreement(s, s.get(Person, flex[FLEX].id), batch_debit=True, effective_on=date(2025, 1, 1))
        s.commit()
    b = as_person(FLEX)
    app.extensions["clock"].set(datetime(2025, 11, 10, 9, 0, tzinfo=BEIJING))  # the 8th was a Saturday
    page = text(b.get("/flex/pay/select"))
    assert "批量扣款" in page and not _ids(page)
    app.extensions["clock"].set(datetime(2025, 11, 11, 9, 0, tzinfo=BEIJING))  # the next day: open again
    assert "批量扣款日" not in text(b.get("/flex/pay/select"))


def test_R_FP_7_lapse_warning_when_medical_has_two_unpaid_months(as_person):
    page = text(as_person(LAPSE).get("/flex/pay/select"))
    assert "断缴" in page
    assert "断缴" not in text(as_person(SPECIAL).get("/flex/pay/select"))


def test_R_FP_8_due_query_then_declare_then_void(as_person, app):
    b = as_person(LAPSE)
    page = text(b.get("/flex/due"))
    assert page.count("待申报</span>") == 2
    ids = _ids(text(b.get("/flex/pay/select")))
    r = b.post("/flex/pay/select", {"tab": "normal", "receivable": ids})
    assert r.status_code == 303
    page = text(b.get("/flex/due"))
    assert "已申报待缴款" in page and "作废申报" in page and "缴款" in page
    decl = re.search(r"/pay/(\d+)/void", page).group(1)
    page = text(b.follow(b.post(f"/pay/{decl}/void")))
    assert "已作废申报" in page and page.count("待申报</span>") == 2


def test_flex_records_by_fee_period_with_detail(as_person):
    """R-CE-1: the record columns, and a detail adding 主管税务机关, 社保经办机构, 人员编号, 征收项目/品目/子目."""
    b = as_person(FLEX)
    page = text(b.get("/flex/records?start=2026-05&end=2026-07"))
    assert page.count('class="app-card"') == 9
    for column in ("应征凭证序号", "费款所属期", "缴费渠道", "办理日期", "缴费方式", "缴费金额", "缴费状态"):
        assert column in page
    link = re.search(r'href="(/flex/records/\d+)"', page).group(1)
    detail = text(b.get(link))
    for label in ("主管税务机关", "社保经办机构", "人员编号", "征收项目", "征收品目", "征收子目"):
        assert label in detail
    assert b.get("/flex/records?start=2026-13").status_code == 422


def test_flex_payment_settles_through_alipay(as_person, app, providers):
    b = as_person(FLEX)
    ids = _ids(text(b.get("/flex/pay/select")))
    r = b.post("/flex/pay/select", {"tab": "normal", "receivable": ids})
    no = start_order(b, r.location, "alipay")
    controls.pay(providers, "alipay", no)
    controls.deliver_pending(providers)
    assert order_state(app, no) == "paid"
    assert "缴费成功" in text(b.follow(b.get(f"/pay/return/alipay/{no}")))
    assert not _ids(text(b.get("/flex/pay/select")))


# ----------------------------------------------------------------------------------------- CLI


def test_receivables_generate_is_idempotent(app, flex):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["receivables", "generate", "--month", "2026-11"])
    assert first.exit_code == 0, first.output
    n = _count(app, Receivable)
    again = runner.invoke(args=["receivables", "generate", "--month", "2026-11"])
    assert again.exit_code == 0 and " 0 receivables created" in again.output
    assert _count(app, Receivable) == n
    bad = runner.invoke(args=["receivables", "generate", "--month", "2019-01"])
    assert bad.exit_code != 0 and "暂无" in bad.output


def test_import_special_rejects_a_bad_file_by_line_and_loads_nothing(app, tmp_path, flex):
    number = flex[FLEX].id_number
    good = f"resident_id,{number},pension,2026-01,120.00,policy_backpay,N2026A\n"
    bad = f"resident_id,{number},pension,2026-13,120.00,policy_backpay,N2026B\n"
    header = "id_type,id_number,insurance,fee_period,amount,charge_type,notice_no\n"
    path = tmp_path / "special.csv"
    path.write_text(header + good + bad, encoding="utf-8")
    before = _count(app, Receivable)
    result = app.test_cli_runner().invoke(args=["receivables", "import-special", str(path)])
    assert result.exit_code != 0 and "第3行" in result.output
    assert _count(app, Receivable) == before
    path.write_text(header + good, encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["receivables", "import-special", str(path)])
    assert result.exit_code == 0 and _count(app, Receivable) == before + 1


def test_R_FB_6_when_the_years_row_arrives_the_provisional_months_get_a_topup(app, as_person, flex):
    """吴芳 paid 2026-07..10 on 2025's numbers (base 7500); the 2026 row raises the minimum to 7600."""
    from webapp.domain.policy import PolicyTable
    from webapp.services import flexible as flex_accounts

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
    wu = flex[SPECIAL].id
    with app.extensions["db_sessionmaker"]() as s:
        assert flex_accounts.generate_topups(s, "beijing", table) > 0
        s.commit()
        assert flex_accounts.generate_topups(s, "beijing", table) == 0  # idempotent
        mine = list(
            s.scalars(
                select(Receivable).where(Receivable.insured_id == wu, Receivable.natural_key.like("flex-topup:%"))
            )
        )
    assert len(mine) == 12  # four months × three insurances
    assert sorted({str(r.amount) for r in mine}) == ["1.00", "11.27", "20.00"]  # 100×1 %, 596.19−584.92, 100×20 %
    page = text(as_person(SPECIAL).get("/flex/pay/select?tab=special"))
    assert "政策性补缴" in page and "¥20.00" in page
