"""城乡居民医疗: paying for oneself and for family, 已申报查询 with 作废, 缴费记录查询 (R-RM-1..4)."""

import re
from datetime import date

from sqlalchemy import func, select

from tests.factories import make_resident
from webapp.models import Declaration, FamilyPayee, Receivable, SettledPayment
from webapp.payments.sim import controls

from ..conftest import text
from .flows import declare_for, order_state, start_order


def _count(app, model, *where):
    with app.extensions["db_sessionmaker"]() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def _paid_resident(app, name="赵丽"):
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        p = make_resident(s, name, paid=True)
        s.commit()
    return p


def test_R_RM_1_saved_family_members_are_one_tap_away(phone_user, family):
    page = text(phone_user(family.payer).get("/rm/pay"))
    for name in ("王福生", "李秀英", "王小雨"):
        assert f"他人：{name}" in page
    assert "110102********0010" in page and "110102195004050010" not in page  # R-ID-3 masked


def test_R_RM_2_the_amount_comes_from_the_policy_table_by_category(phone_user, family):
    b = phone_user(family.payer)
    r = b.get(f"/rm/pay/select?insured={family.father.id}")
    assert "¥460.00" in text(r) and "2026-01 至 2026-12" in text(r)
    assert "¥435.00" in text(b.get(f"/rm/pay/select?insured={family.child.id}"))


def test_R_RM_2_without_a_stored_category_the_age_decides(app, phone_user):
    """A 70-year-old whose bureau row stores no category pays the 老年人 premium, not working age."""
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        old = make_resident(s, "钱老", category=None, birth=date(1956, 5, 1))
        s.commit()
    assert "¥460.00" in text(phone_user(old).get(f"/rm/pay/select?insured={old.id}"))


def test_R_PA_1_family_payment_through_wechat_settles_once(app, providers, phone_user, family):
    b = phone_user(family.payer, "wechat")
    before = _count(app, SettledPayment)
    method_url = declare_for(b, family.father.id)
    page = text(b.get(method_url))
    assert "微信支付" in page and "支付宝" not in page  # R-CH-1: WeChat host offers WeChat Pay only
    no = start_order(b, method_url, "wechat")
    controls.pay(providers, "wechat", no)
    assert controls.deliver_pending(providers) == 1
    assert order_state(app, no) == "paid"
    r = b.follow(b.get(f"/pay/return/wechat/{no}"))
    assert "缴费成功" in text(r) and "王福生" in text(r) and "继续为家人缴费" in text(r)
    assert _count(app, SettledPayment) == before + 1
    records = text(b.get("/rm/records"))
    assert "王福生" in records and "¥460.00" in records


def test_R_RM_1_paying_for_someone_typed_in_and_saving_them(app, phone_user, family):
    zhao = _paid_resident(app)
    b = phone_user(zhao)
    r = b.post(
        "/rm/pay",
        {
            "who": "other",
            "name": "王小雨",
            "id_type": "resident_id",
            "id_number": "110105201506010040",
            "nationality": "中华人民共和国",
            "save": "1",
            "relation": "子女",
        },
    )
    assert r.status_code == 303
    assert "¥435.00" in text(b.get(r.location))
    assert _count(app, FamilyPayee, FamilyPayee.payer_id == zhao.id) == 1
    assert "他人：王小雨" in text(b.get("/rm/pay"))


def test_unknown_person_gets_the_guides_message_and_nothing_is_written(app, phone_user, family, stranger):
    """Guide Q21: 未查询到参保信息."""
    b = phone_user(family.payer)
    before = _count(app, FamilyPayee)
    r = b.post(
        "/rm/pay",
        {
            "who": "other",
            "name": "孙强",
            "id_type": "resident_id",
            "id_number": "110101199003070054",
            "save": "1",
            "relation": "其他",
        },
    )
    assert r.status_code == 422 and "未查询到参保信息" in text(r)
    assert 'value="孙强"' in text(r) and 'value="110101199003070054"' in text(r)
    assert _count(app, FamilyPayee) == before


def test_R_ID_2_wrong_check_digit_for_the_other_person_keeps_the_form(phone_user, family):
    r = phone_user(family.payer).post(
        "/rm/pay", {"who": "other", "name": "张三", "id_type": "resident_id", "id_number": "110102195004050011"}
    )
    assert r.status_code == 422 and "校验位" in text(r) and 'value="110102195004050011"' in text(r)


def test_no_enrolment_person_sees_why_there_is_nothing_to_pay(phone_user, stranger):
    b = phone_user(stranger, "etax-web")
    r = b.follow(b.post("/rm/pay", {"who": "self"}))
    assert "未查询到参保信息" in text(r)


def test_rm_paid_person_is_told_it_is_already_paid(app, phone_user):
    b = phone_user(_paid_resident(app))
    r = b.follow(b.post("/rm/pay", {"who": "self"}))
    assert "已缴费" in text(r) and 'name="receivable"' not in text(r)


def test_someone_elses_insured_or_declaration_is_404(app, phone_user, family):
    zhao = _paid_resident(app)
    b = phone_user(family.payer)
    assert b.get(f"/rm/pay/select?insured={zhao.id}").status_code == 404
    assert b.post("/rm/pay", {"who": str(zhao.id)}).status_code == 404
    with app.extensions["db_sessionmaker"]() as s:
        other_decl = s.scalar(select(Declaration.id).where(Declaration.payer_id == zhao.id))
    assert b.get(f"/pay/{other_decl}").status_code == 404
    assert b.post(f"/pay/{other_decl}", {"method": "wechat"}).status_code == 404
    assert b.post(f"/pay/{other_decl}/void").status_code == 404


def test_R_MO_2_tampered_receivable_id_cannot_reach_another_persons_receivable(app, phone_user, family):
    zhao = _paid_resident(app)
    b = phone_user(family.payer)
    b.get(f"/rm/pay/select?insured={family.father.id}")
    with app.extensions["db_sessionmaker"]() as s:
        foreign = s.scalar(select(Receivable.id).where(Receivable.insured_id == zhao.id))
    before = _count(app, Declaration)
    for bad in ([str(foreign)], ["abc"], ["999999"], [], ["²"], ["１２"]):
        r = b.post("/rm/pay/select", {"insured": str(family.father.id), "receivable": bad})
        assert r.status_code == 422
        assert "请选择" in text(r) or "有误" in text(r)
    assert _count(app, Declaration) == before


def test_R_MO_2_an_amount_sent_by_the_browser_is_ignored(app, phone_user, family):
    b = phone_user(family.payer)
    page = b.get(f"/rm/pay/select?insured={family.father.id}")
    rid = re.findall(r'name="receivable" value="(\d+)"', text(page))
    r = b.post(
        "/rm/pay/select", {"insured": str(family.father.id), "receivable": rid, "amount": "0.01", "total": "0.01"}
    )
    assert r.status_code == 303
    with app.extensions["db_sessionmaker"]() as s:
        assert s.scalar(select(Declaration.total_fen).order_by(Declaration.id.desc()).limit(1)) == 46000


def test_R_RM_3_void_an_unpaid_declaration_then_pay_again(phone_user, family):
    b = phone_user(family.payer)
    method_url = declare_for(b, family.mother.id)
    decl_id = int(method_url.rstrip("/").split("/")[-1])
    # Declared: the receivable is no longer offered, and the page says where it went.
    assert "已申报" in text(b.get(f"/rm/pay/select?insured={family.mother.id}"))
    r = b.follow(b.post(f"/pay/{decl_id}/void", {"next": "/rm/declared"}))
    assert "已作废" in text(r)
    again = declare_for(b, family.mother.id)
    assert again != method_url
    assert "该申报已作废" in text(b.get(method_url))  # the old declaration can no longer be paid


def test_R_RM_3_voiding_closes_an_unfinished_order_first(app, providers, phone_user, family):
    b = phone_user(family.payer)
    method_url = declare_for(b, family.mother.id)
    no = start_order(b, method_url, "wechat")
    b.post(method_url.rstrip("/") + "/void")
    assert order_state(app, no) == "closed"
    assert controls.trade(providers, "wechat", no)["state"] == "CLOSED"
    assert not controls.pay(providers, "wechat", no)  # the old cashier can no longer take money


def test_R_RM_4_declared_lists_declarations_made_for_others_with_void(phone_user, family):
    b = phone_user(family.payer)
    declare_for(b, family.child.id)
    page = text(b.get("/rm/declared"))
    assert "王小雨（代缴）" in page and "申报成功" in page and "作废" in page and "继续缴费" in page


def test_declared_query_rejects_a_bad_date_range_in_chinese(phone_user, family):
    b = phone_user(family.payer)
    r = b.get("/rm/declared?start=2026-12-01&end=2026-01-01")
    assert r.status_code == 422 and "起始日期不能晚于截止日期" in text(r)
    r = b.get("/rm/declared?start=yesterday")
    assert r.status_code == 422 and "YYYY-MM-DD" in text(r)


def test_R_CE_1_records_filter_by_fee_period_and_show_detail(app, phone_user):
    """R-CE-1: records by 费款所属期 range with 应征凭证序号 …, and a detail view."""
    b = phone_user(_paid_resident(app), "etax-web")
    page = text(b.get("/rm/records?start=2026-01&end=2026-12"))
    assert "应征凭证序号" in page and "¥795.00" in page and "已申报已缴款" in page
    assert "没有缴费记录" in text(b.get("/rm/records?start=2020-01&end=2020-12"))
    link = re.search(r'href="(/rm/records/\d+)"', page).group(1)
    detail = text(b.get(link))
    for label in ("主管税务机关", "社保经办机构", "人员编号", "征收项目", "征收品目", "征收子目"):
        assert label in detail
    assert "劳动年龄内居民" in detail  # 征收子目: the insured's category
    assert b.get("/rm/records?start=2026-13").status_code == 422
    assert b.get("/rm/records?start=2026-12&end=2026-01").status_code == 422


def test_R_CE_1_a_relatives_records_show_the_payments_made_for_that_relative(app, providers, phone_user, family):
    b = phone_user(family.payer)
    no = start_order(b, declare_for(b, family.father.id), "wechat")
    controls.pay(providers, "wechat", no)
    controls.deliver_pending(providers)
    mine = text(b.get(f"/rm/records?insured={family.father.id}"))
    assert "王福生" in mine
    assert "王福生" not in text(b.get(f"/rm/records?insured={family.child.id}"))
