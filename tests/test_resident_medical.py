"""城乡居民医疗: paying for oneself and for family, 已申报查询 with 作废, 缴费记录查询 (R-RM-1..4)."""

import re

from sqlalchemy import func, select

from webapp.models import Declaration, FamilyPayee, Receivable, SettledPayment
from webapp.payments.sim import controls

from .conftest import Browser, text
from .flows import declare_for, order_state, person_id, start_order

FATHER, MOTHER, CHILD = "110102195004050010", "11010219520918002X", "110105201506010040"


def _count(app, model, *where):
    with app.extensions["db_sessionmaker"]() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_R_RM_1_saved_family_members_are_one_tap_away(wechat_user):
    page = text(wechat_user.get("/rm/pay"))
    for name in ("王福生", "李秀英", "王小雨"):
        assert f"他人：{name}" in page
    assert "110102********0010" in page and "110102195004050010" not in page  # R-ID-3 masked


def test_R_RM_2_the_amount_comes_from_the_policy_table_by_category(wechat_user, seeded):
    r = wechat_user.get(f"/rm/pay/select?insured={person_id(seeded, FATHER)}")
    assert "¥460.00" in text(r) and "2026-01 至 2026-12" in text(r)
    r = wechat_user.get(f"/rm/pay/select?insured={person_id(seeded, CHILD)}")
    assert "¥435.00" in text(r)


def test_R_PA_1_family_payment_through_wechat_settles_once(wechat_user, seeded):
    father = person_id(seeded, FATHER)
    before = _count(seeded, SettledPayment)
    method_url = declare_for(wechat_user, father)
    page = text(wechat_user.get(method_url))
    assert "微信支付" in page and "支付宝" not in page  # R-CH-1: WeChat host offers WeChat Pay only
    no = start_order(wechat_user, method_url, "wechat")
    controls.pay(seeded, "wechat", no)
    assert controls.deliver_pending(seeded) == 1
    assert order_state(seeded, no) == "paid"
    r = wechat_user.follow(wechat_user.get(f"/pay/return/wechat/{no}"))
    assert "缴费成功" in text(r) and "王福生" in text(r)
    assert _count(seeded, SettledPayment) == before + 1
    records = text(wechat_user.get("/rm/records"))
    assert "王福生" in records and "¥460.00" in records


def test_R_RM_1_paying_for_someone_typed_in_and_saving_them(seeded, browser):
    browser.login("赵丽", "110108198507220028")
    r = browser.post("/rm/pay", {"who": "other", "name": "王小雨", "id_type": "resident_id",
                                 "id_number": "110105201506010040", "nationality": "中华人民共和国", "save": "1"})
    assert r.status_code == 303
    assert "¥435.00" in text(browser.get(r.location))
    assert _count(seeded, FamilyPayee, FamilyPayee.payer_id == person_id(seeded, "110108198507220028")) == 1
    assert "他人：王小雨" in text(browser.get("/rm/pay"))


def test_unknown_person_gets_the_guides_message_and_nothing_is_written(seeded, browser):
    """Guide Q21: 未查询到参保信息."""
    browser.login("王建国", "110105198003120032")
    before = _count(seeded, FamilyPayee)
    r = browser.post("/rm/pay", {"who": "other", "name": "孙强", "id_type": "resident_id",
                                 "id_number": "110101199003070054", "save": "1"})
    assert r.status_code == 422 and "未查询到参保信息" in text(r)
    assert 'value="孙强"' in text(r) and 'value="110101199003070054"' in text(r)
    assert _count(seeded, FamilyPayee) == before


def test_R_ID_2_wrong_check_digit_for_the_other_person_keeps_the_form(wechat_user):
    r = wechat_user.post("/rm/pay", {"who": "other", "name": "张三", "id_type": "resident_id",
                                     "id_number": "110102195004050011"})
    assert r.status_code == 422 and "校验位" in text(r) and 'value="110102195004050011"' in text(r)


def test_no_enrolment_person_sees_why_there_is_nothing_to_pay(seeded, browser):
    browser.login("孙强", "110101199003070054")
    r = browser.follow(browser.post("/rm/pay", {"who": "self"}))
    assert "未查询到参保信息" in text(r)


def test_rm_paid_person_is_told_it_is_already_paid(seeded, browser):
    browser.login("赵丽", "110108198507220028")
    r = browser.follow(browser.post("/rm/pay", {"who": "self"}))
    assert "已缴费" in text(r) and 'name="receivable"' not in text(r)


def test_someone_elses_insured_or_declaration_is_404(wechat_user, seeded):
    zhao = person_id(seeded, "110108198507220028")
    assert wechat_user.get(f"/rm/pay/select?insured={zhao}").status_code == 404
    assert wechat_user.post("/rm/pay", {"who": str(zhao)}).status_code == 404
    with seeded.extensions["db_sessionmaker"]() as s:
        other_decl = s.scalar(select(Declaration.id).where(Declaration.payer_id == zhao))
    assert wechat_user.get(f"/rm/pay/{other_decl}/method").status_code == 404
    assert wechat_user.post(f"/rm/declared/{other_decl}/void").status_code == 404


def test_R_MO_2_tampered_receivable_id_cannot_reach_another_persons_receivable(wechat_user, seeded):
    father, zhao = person_id(seeded, FATHER), person_id(seeded, "110108198507220028")
    with seeded.extensions["db_sessionmaker"]() as s:
        foreign = s.scalar(select(Receivable.id).where(Receivable.insured_id == zhao))
    before = _count(seeded, Declaration)
    for bad in ([str(foreign)], ["abc"], ["999999"], []):
        r = wechat_user.post("/rm/pay/select", {"insured": str(father), "receivable": bad})
        assert r.status_code == 422
        assert "请选择" in text(r) or "不属于" in text(r) or "有误" in text(r)
    assert _count(seeded, Declaration) == before


def test_R_MO_2_an_amount_sent_by_the_browser_is_ignored(wechat_user, seeded):
    father = person_id(seeded, FATHER)
    page = wechat_user.get(f"/rm/pay/select?insured={father}")
    rid = re.findall(r'name="receivable" value="(\d+)"', text(page))
    r = wechat_user.post("/rm/pay/select", {"insured": str(father), "receivable": rid, "amount": "0.01",
                                            "total": "0.01"})
    assert r.status_code == 303
    with seeded.extensions["db_sessionmaker"]() as s:
        assert s.scalar(select(Declaration.total_fen).order_by(Declaration.id.desc()).limit(1)) == 46000


def test_R_RM_3_void_an_unpaid_declaration_then_pay_again(wechat_user, seeded):
    mother = person_id(seeded, MOTHER)
    method_url = declare_for(wechat_user, mother)
    decl_id = int(method_url.split("/")[-2])
    # Declared: the receivable is no longer offered, and the page says where it went.
    assert "已申报" in text(wechat_user.get(f"/rm/pay/select?insured={mother}"))
    r = wechat_user.follow(wechat_user.post(f"/rm/declared/{decl_id}/void"))
    assert "已作废" in text(r)
    again = declare_for(wechat_user, mother)
    assert again != method_url


def test_R_RM_3_voiding_closes_an_unfinished_order_first(wechat_user, seeded):
    mother = person_id(seeded, MOTHER)
    method_url = declare_for(wechat_user, mother)
    no = start_order(wechat_user, method_url, "wechat")
    decl_id = int(method_url.split("/")[-2])
    wechat_user.post(f"/rm/declared/{decl_id}/void")
    assert order_state(seeded, no) == "closed"


def test_R_RM_4_declared_lists_declarations_made_for_others_with_void(wechat_user, seeded):
    declare_for(wechat_user, person_id(seeded, CHILD))
    page = text(wechat_user.get("/rm/declared"))
    assert "王小雨（代缴）" in page and "申报成功" in page and "作废" in page and "继续缴费" in page


def test_declared_query_rejects_a_bad_date_range_in_chinese(wechat_user):
    r = wechat_user.get("/rm/declared?start=2026-12-01&end=2026-01-01")
    assert r.status_code == 422 and "起始日期不能晚于截止日期" in text(r)
    r = wechat_user.get("/rm/declared?start=yesterday")
    assert r.status_code == 422 and "YYYY-MM-DD" in text(r)


def test_records_filter_by_fee_period_and_show_detail(seeded, browser: Browser):
    """R-CE-1: records by 费款所属期 range with 应征凭证序号 …, and a detail view."""
    browser.login("赵丽", "110108198507220028")
    page = text(browser.get("/rm/records?start=2026-01&end=2026-12"))
    assert "应征凭证序号" in page and "¥795.00" in page
    assert "没有缴费记录" in text(browser.get("/rm/records?start=2020-01&end=2020-12"))
    link = re.search(r'href="(/rm/records/\d+)"', page).group(1)
    detail = text(browser.get(link))
    assert "社保经办机构" in detail and "征收品目" in detail
    assert browser.get("/rm/records?start=2026-13").status_code == 422
