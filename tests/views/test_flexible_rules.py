"""Issue 11, flexible workers: declared items never vanish (R-FP-1), lines name their insurance, special
items open their tab, the due query's detail fields, no family wording (R-FP-6), and the rules audited
against the guides (R-FB-5, R-FB-7, R-FB-8, R-FB-6, R-RM-2)."""

import re
from datetime import date

import pytest
from sqlalchemy import select

from webapp.models import Receivable

from ..conftest import Browser, text

FLEX, SUBSIDIZED, NEW, SPECIAL, LAPSE = "flex", "subsidized", "new", "special", "lapse"


@pytest.fixture
def as_person(phone_user, flex):
    def login(role: str, channel: str = "alipay") -> Browser:
        return phone_user(flex[role], channel)

    return login


def _ids(page: str) -> list[str]:
    return re.findall(r'name="receivable" value="(\d+)"', page)


# ----------------------------------------------------------------------------------------- item 4


def test_R_FP_1_declared_items_stay_listed_with_continue_and_void(as_person):
    b = as_person(LAPSE)
    ids = _ids(text(b.get("/flex/pay/select")))
    r = b.post("/flex/pay/select", {"tab": "normal", "receivable": ids})
    assert r.status_code == 303
    method_url = r.location
    page = text(b.get("/flex/pay/select"))  # leaving and coming back
    assert "暂无正常申报的待缴费信息" not in page
    assert "已申报待缴款" in page and "继续缴费" in page and "作废申报" in page
    assert method_url.split("?")[0] in page
    assert "¥1,169.84" in page  # two medical months of 584.92


def test_R_FP_1_submitting_the_same_selection_again_continues_the_declaration(as_person):
    """Back, refresh or a second tab resubmits the old form: it continues, it does not say 有误."""
    b = as_person(LAPSE)
    ids = _ids(text(b.get("/flex/pay/select")))
    first = b.post("/flex/pay/select", {"tab": "normal", "receivable": ids})
    again = b.post("/flex/pay/select", {"tab": "normal", "receivable": ids})
    assert again.status_code == 303 and again.location == first.location
    part = b.post("/flex/pay/select", {"tab": "normal", "receivable": ids[:1]})
    assert part.status_code == 422 and "所选缴费信息有误" not in text(part) and "继续缴费" in text(part)


def test_R_FP_1_voiding_from_the_payment_page_returns_the_items(as_person):
    b = as_person(LAPSE)
    ids = _ids(text(b.get("/flex/pay/select")))
    b.post("/flex/pay/select", {"tab": "normal", "receivable": ids})
    page = text(b.get("/flex/pay/select"))
    decl = re.search(r"/pay/(\d+)/void", page).group(1)
    r = b.post(f"/pay/{decl}/void", {"next": "/flex/pay/select?tab=normal"})
    assert r.status_code == 303 and r.location.endswith("/flex/pay/select?tab=normal")
    page = text(b.follow(r))
    assert sorted(_ids(page)) == sorted(ids) and "继续缴费" not in page


def test_R_FP_1_every_line_of_the_method_page_names_its_insurance(as_person):
    b = as_person(FLEX)
    ids = _ids(text(b.get("/flex/pay/select")))
    page = text(b.get(b.post("/flex/pay/select", {"tab": "normal", "receivable": ids}).location))
    lines = re.findall(r"<dt>([^<]*)</dt>\s*<dd>[^<]*¥", page)
    assert len(lines) == 9
    assert all(any(k in dt for k in ("养老", "失业", "医疗")) for dt in lines)


def test_R_FP_3_pay_on_a_special_item_in_the_due_query_opens_the_special_tab(as_person):
    page = text(as_person(SPECIAL).get("/flex/due"))
    assert "/flex/pay/select?tab=special" in page.replace("&amp;", "&")
    assert "20261012044739" in page


def test_R_FP_8_declared_cards_show_type_agency_and_notice_number(as_person, app, flex):
    b = as_person(SPECIAL)
    with app.extensions["db_sessionmaker"]() as s:
        group = [
            str(i)
            for i in s.scalars(
                select(Receivable.id).where(
                    Receivable.insured_id == flex[SPECIAL].id, Receivable.notice_no == "20261012044739"
                )
            )
        ]
    assert b.post("/flex/pay/select", {"tab": "special", "receivable": group}).status_code == 303
    page = text(b.get("/flex/due"))
    declared = page.split("已申报待缴款</div>", 1)[1]
    for label in ("缴费类型", "应参未参补缴", "社保经办机构", "征集通知流水号", "20261012044739"):
        assert label in declared
    special = text(b.get("/flex/pay/select?tab=special"))
    assert "继续缴费" in special and "20261012044809" in special


def test_R_FP_6_flexible_pages_have_no_family_wording(as_person, app, providers):
    from webapp.payments.sim import controls

    from .flows import start_order

    b = as_person(LAPSE)
    for url in ("/flex/pay", "/flex/pay/select", "/flex/due", "/flex/base"):
        assert "家人" not in text(b.get(url))
    ids = _ids(text(b.get("/flex/pay/select")))
    no = start_order(b, b.post("/flex/pay/select", {"tab": "normal", "receivable": ids}).location, "alipay")
    controls.pay(providers, "alipay", no)
    controls.deliver_pending(providers)
    page = text(b.follow(b.get(f"/pay/return/alipay/{no}")))
    assert "缴费成功" in page and "家人" not in page and "返回缴费办理" in page


# ----------------------------------------------------------------------------------------- item 1: rules


def _rows(app, person_id, *where):
    with app.extensions["db_sessionmaker"]() as s:
        return list(
            s.scalars(
                select(Receivable)
                .where(Receivable.insured_id == person_id, *where)
                .order_by(Receivable.fee_period_start, Receivable.id)
            )
        )


def test_R_FB_7_new_enrollee_without_a_base_is_billed_for_medical(as_person, app, flex):
    """Q20: medical needs no base, so 黄磊 owes it for his first month while he has still to declare."""
    rows = _rows(app, flex[NEW].id)
    assert [(r.insurance, str(r.fee_period_start)) for r in rows] == [("medical", "2026-10-01")]
    page = text(as_person(NEW).get("/flex/pay/select"))
    assert len(_ids(page)) == 1 and "职工基本医疗保险" in page and "¥584.92" in page
    assert "去申报缴费基数" in page and "一经确定" not in page
    assert "一经确定" not in text(as_person(NEW).get("/flex/base"))


def test_R_FB_7_after_declaring_the_waiting_months_are_billed(as_person, app, flex):
    b = as_person(NEW)
    b.get("/flex/base")
    assert b.post("/flex/base", {"base": "8000", "cycle": "monthly"}).status_code == 200
    rows = _rows(app, flex[NEW].id)
    assert sorted((r.insurance, str(r.amount)) for r in rows) == [
        ("medical", "584.92"),
        ("pension", "1600.00"),
        ("unemployment", "80.00"),
    ]
    assert len(_ids(text(b.get("/flex/pay/select")))) == 3


def test_R_FB_7_never_declared_pays_the_minimum_and_gets_the_lapse_warning(app, phone_user):
    """Q16: a new enrollee who let the window pass is billed at the minimum; unpaid medical warns (R-FP-7)."""
    from tests.factories import make_flex_worker

    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        p = make_flex_worker(s, "马超", base=None, enrolled_on=date(2026, 9, 15), unpaid_months=2)
        s.commit()
    rows = _rows(app, p.id)
    pension = [r for r in rows if r.insurance == "pension"]
    assert [str(r.fee_period_start) for r in pension] == ["2026-09-01", "2026-10-01"]
    assert {r.base for r in pension} == {7162}
    page = text(phone_user(p, "alipay").get("/flex/pay/select"))
    assert "断缴" in page and len(_ids(page)) == 6


def test_R_FB_7_enrolled_in_may_declaring_in_the_annual_window_bills_may_and_june(app, phone_user):
    """Seed 000: 选择后该属期至本年或次年6月 — enrolled 2026-05-20, declared 2026-06-20 in the window."""
    from tests.factories import at, make_flex_worker
    from webapp.models import BaseDeclaration
    from webapp.services import flexible as accounts

    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        p = make_flex_worker(s, "秦岚", base=None, enrolled_on=date(2026, 5, 20), today=date(2026, 6, 20))
        s.commit()
    app.extensions["clock"].set(at(date(2026, 6, 20)))
    b = phone_user(p, "alipay")
    page = text(b.get("/flex/base"))
    assert "窗口期" in page and 'name="base"' in page
    r = b.post("/flex/base", {"base": "9000", "cycle": "quarterly"})
    assert r.status_code == 200, text(r)
    assert "自2026年5月属期起适用至2027年6月属期" in text(r) and "按季度缴费自2026年7月属期起生效" in text(r)
    with app.extensions["db_sessionmaker"]() as s:
        e = accounts.enrolment_of(s, p.id)
        years = {
            d.contribution_year: (d.base, d.cycle)
            for d in s.scalars(select(BaseDeclaration).where(BaseDeclaration.enrolment_id == e.id))
        }
        assert years == {2025: (9000, "monthly"), 2026: (9000, "quarterly")}  # R-FB-8: cycle from July
        accounts.generate_month(s, accounts.Month(2026, 6), "beijing")
        s.commit()
    pension = [r for r in _rows(app, p.id) if r.insurance == "pension"]
    assert [(str(r.fee_period_start), r.base, str(r.amount)) for r in pension] == [
        ("2026-05-01", 9000, "1800.00"),
        ("2026-06-01", 9000, "1800.00"),
    ]


def _set_cycle(app, person_id, year, cycle, base=8000):
    from webapp.models import BaseDeclaration
    from webapp.services import flexible as accounts

    with app.extensions["db_sessionmaker"]() as s:
        e = accounts.enrolment_of(s, person_id)
        row = accounts.declared_base(s, e, year)
        if row is None:
            s.add(BaseDeclaration(enrolment_id=e.id, contribution_year=year, base=base, source="declared", cycle=cycle))
        else:
            row.cycle = cycle
        s.commit()


def test_R_FB_8_quarterly_pension_is_listed_for_the_window_not_offered_here(as_person, app, flex):
    _set_cycle(app, flex[FLEX].id, 2026, "quarterly")
    b = as_person(FLEX)
    page = text(b.get("/flex/pay/select"))
    assert len(_ids(page)) == 3  # medical stays monthly and payable here
    assert "按季度缴费" in page and "协议支付" in page and "社保大厅税务窗口" in page
    assert "2026年7月至2026年9月属期" in page and "2026年8月（首个征期月）" in page
    assert "2026年10月至2026年12月属期" in page and "2026年11月（首个征期月）" in page
    pension = [
        str(r.id) for r in _rows(app, flex[FLEX].id, Receivable.status == "due", Receivable.insurance == "pension")
    ]
    r = b.post("/flex/pay/select", {"tab": "normal", "receivable": pension[:1]})
    assert r.status_code == 422 and "首个征期月" in text(r)
    due = text(b.get("/flex/due"))
    assert due.count("待申报</span>") == 9 and due.count(">缴款</a>") == 3 and "首个征期月" in due


def test_R_FB_8_a_cycle_declared_in_the_window_applies_from_july(app, flex):
    """The window's declaration is for the next contribution year; the months before July keep theirs."""
    from webapp.domain.calendar import Month
    from webapp.services import flexible as accounts

    _set_cycle(app, flex[FLEX].id, 2026, "yearly")
    with app.extensions["db_sessionmaker"]() as s:
        e = accounts.enrolment_of(s, flex[FLEX].id)
        assert accounts.cycle_of_month(s, e, Month(2026, 6)) == "monthly"
        assert accounts.cycle_of_month(s, e, Month(2026, 7)) == "yearly"


def test_R_FB_8_first_collection_months_follow_Q24():
    from webapp.domain.calendar import Month
    from webapp.domain.flexible import collection_month

    def due(cycle):
        return sorted({str(collection_month(Month(2026, 7) + i, cycle)) for i in range(12)})

    assert due("quarterly") == ["2026-08", "2026-11", "2027-02", "2027-05"]
    assert due("half_year") == ["2026-08", "2027-02"]
    assert due("yearly") == ["2026-08"]
    assert due("monthly")[0] == "2026-08" and len(due("monthly")) == 12


def test_R_FB_5_the_retirement_rule_is_checked_for_each_billed_month():
    """Within 12 months of legal retirement age a month is monthly whatever cycle the year declared."""
    from webapp.domain.calendar import Month
    from webapp.domain.flexible import cycle_for_month, retirement_date

    born = date(1967, 3, 10)
    retire = retirement_date(born, "M")
    limit = Month.of(retire) + -12
    assert cycle_for_month("quarterly", limit + -1, born, "M") == "quarterly"
    assert cycle_for_month("quarterly", limit + 1, born, "M") == "monthly"
    assert cycle_for_month(None, limit + -6, born, "M") == "monthly"  # not declared: monthly (R-FB-8)


def test_R_FB_6_unpaid_provisional_bills_take_the_years_numbers(app, flex):
    """刘鹏 owes 2026-08..10 priced on 2025's numbers; when the 2026 row arrives they are repriced."""
    from webapp.domain.policy import PolicyTable
    from webapp.services import flexible as accounts

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
    with app.extensions["db_sessionmaker"]() as s:
        assert accounts.reprice_provisional(s, "beijing", table) >= 9
        s.commit()
        assert accounts.reprice_provisional(s, "beijing", table) == 0
    due = _rows(app, flex[FLEX].id, Receivable.status == "due")
    assert {(r.insurance, str(r.amount), r.provisional) for r in due} == {
        ("pension", "1600.00", False),
        ("unemployment", "80.00", False),
        ("medical", "596.19", False),
    }


def test_R_FB_6_the_provisional_notice_only_where_a_listed_month_is_provisional(as_person, app):
    from tests.factories import at

    b = as_person(FLEX)
    assert "暂按上年度" in text(b.get("/flex/pay/select"))  # 2026-08..10 use 2025's numbers
    app.extensions["clock"].set(at(date(2026, 7, 15)))  # lists 2026-04..06: year 2025, final
    page = text(b.get("/flex/pay/select"))
    assert "暂按上年度" not in page


def test_R_FB_6_derived_medical_amount_is_marked_as_derived():
    from webapp.domain.policy import flex_policy

    notes = flex_policy("beijing", date(2024, 9, 1)).notices_zh
    assert any("576.31" in n and "推算" in n for n in notes)
    assert not any("推算" in n for n in flex_policy("beijing", date(2023, 9, 1)).notices_zh)


def test_R_FB_4_a_base_lowered_to_a_fallen_maximum_is_not_called_below_the_minimum(as_person, app, flex):
    from webapp.models import BaseDeclaration
    from webapp.services import flexible as accounts

    with app.extensions["db_sessionmaker"]() as s:
        e = accounts.enrolment_of(s, flex[FLEX].id)
        row = accounts.declared_base(s, e, 2026) or BaseDeclaration(enrolment_id=e.id, contribution_year=2026)
        row.base, row.source = 35811, "raised"
        s.add(row)
        s.commit()
    page = text(as_person(FLEX).get("/flex/base"))
    assert "35811" in page and "高于上限，按上限确定" in page and "低于下限" not in page


def test_R_FB_1_the_table_echoes_the_base_in_plain_digits(as_person):
    b = as_person(NEW)
    b.get("/flex/base")
    frag = text(b.post("/flex/base/preview", {"base": "８０００"}, headers={"HX-Request": "true"}))
    assert "¥1,600.00" in frag and ">8000<" in frag and "８０００" not in frag


def test_R_FB_3_qingdao_worker_chooses_a_base_and_no_rate_is_invented(app, phone_user):
    from tests.factories import make_flex_worker
    from webapp.services import flexible as accounts

    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        p = make_flex_worker(s, "于洋", base=None, unpaid_months=0, enrolled_on=date(2026, 11, 1))
        accounts.enrolment_of(s, p.id).region = "qingdao"
        s.commit()
    b = phone_user(p, "alipay")
    page = text(b.get("/flex/base"))
    assert "随时" in page and 'name="base"' in page and "3980" in page and "19899" in page
    r = b.post("/flex/base", {"base": "5000", "cycle": "monthly"})
    assert r.status_code == 200 and "申报成功" in text(r)
    assert b.post("/flex/base", {"base": "30000", "cycle": "monthly"}).status_code == 422
    page = text(b.get("/flex/base"))
    assert "暂无青岛市" in page  # rates and medical amounts are unknown, and said so
    assert not _rows(app, p.id)


@pytest.mark.parametrize("typed", ["2026-1", "2026-01", "2026年1月", "２０２６年１月", "2026/1", "202601"])
def test_records_accept_typed_and_picked_months(as_person, typed):
    r = as_person(FLEX).get(f"/flex/records?start={typed}&end=2026-07")
    assert r.status_code == 200 and 'value="2026-01"' in text(r)


def test_records_say_why_a_month_is_refused(as_person):
    r = as_person(FLEX).get("/flex/records?start=2026年13月")
    assert r.status_code == 422 and "2026年1月" in text(r)


def test_R_RM_2_a_resident_without_category_or_stored_birth_date_is_banded_by_age(app):
    """70 years old on 1 January → 老年人 (460), not the working-age 795."""
    from tests.factories import SI_AGENCY, TAX_OFFICE, make_person
    from webapp.models import Enrolment, Person
    from webapp.services import resident_medical

    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        p = make_person(s, "白云", birth=date(1956, 3, 1))
        s.get(Person, p.id).birth_date = None
        s.add(
            Enrolment(
                person_id=p.id,
                scheme=resident_medical.SCHEME,
                region="beijing",
                category=None,
                tax_office=TAX_OFFICE,
                si_agency=SI_AGENCY,
                enrolled_on=date(2020, 1, 1),
            )
        )
        s.flush()
        resident_medical.generate_year(s, 2026, "beijing")
        s.commit()
    rows = _rows(app, p.id, Receivable.fee_period_start == date(2026, 1, 1))
    assert [str(r.amount) for r in rows] == ["460.00"]


@pytest.mark.parametrize(
    ("typed", "parts"),
    [
        ("2026-01-05", (2026, 1, 5)),
        ("2026-1-5", (2026, 1, 5)),
        ("2026/1/5", (2026, 1, 5)),
        ("2026年1月5日", (2026, 1, 5)),
        ("２０２６．１．５", (2026, 1, 5)),
    ],
)
def test_dates_accept_picked_and_typed_forms(typed, parts):
    from webapp.domain.inputs import date_parts

    assert date_parts(typed) == parts


@pytest.mark.parametrize("typed", ["2026", "26-1", "2026-13", "二〇二六年一月", "2026-01-05x", "9" * 40])
def test_months_refuse_what_is_not_a_month(typed):
    from webapp.domain.inputs import month_parts

    with pytest.raises(ValueError):
        month_parts(typed)


def test_declared_query_accepts_a_typed_date(phone_user, family):
    r = phone_user(family.payer).get("/rm/declared?start=2026年1月5日&end=2026/12/31")
    assert r.status_code == 200
