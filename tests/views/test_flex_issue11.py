"""Issue 11, flexible workers: declared items never vanish (R-FP-1), lines name their insurance, special
items open their tab, the due query's detail fields, no family wording (R-FP-6), and the rules audited
against the guides (R-FB-5, R-FB-7, R-FB-8, R-FB-6, R-RM-2)."""

import re

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
    decl = re.search(r'/pay/(\d+)/void', page).group(1)
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
        group = [str(i) for i in s.scalars(select(Receivable.id).where(
            Receivable.insured_id == flex[SPECIAL].id, Receivable.notice_no == "20261012044739"))]
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
