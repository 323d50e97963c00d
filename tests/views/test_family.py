"""Saved family members (R-RM-5): relationship, this year's state, 修改关系, 删除 with an in-page dialog,
saving only by choice (R-RM-1), and a relative's records showing what was paid for that relative."""

import re

from sqlalchemy import func, select

from tests.factories import TODAY, make_resident
from webapp import demo
from webapp.models import FamilyPayee, Receivable

from ..conftest import text
from .flows import declare_for


def _saved(app, payer_id):
    with app.extensions["db_sessionmaker"]() as s:
        return {
            r.insured.name: (r.id, r.relation)
            for r in s.scalars(select(FamilyPayee).where(FamilyPayee.payer_id == payer_id))
        }


def _pay_year(app, person, payer=None):
    """``payer`` paid ``person``'s year (the person themself by default)."""
    with app.extensions["db_sessionmaker"]() as s:
        r = s.scalar(select(Receivable).where(Receivable.natural_key == f"rm:{person.id}:{TODAY.year}"))
        demo.settle_past(s, s.merge(payer or person), [r], TODAY.replace(day=1), "wechat")
        s.commit()


def test_R_RM_5_members_show_relationship_and_paid_this_year_without_pay_button(app, phone_user, family):
    _pay_year(app, family.mother)
    page = text(phone_user(family.payer).get("/rm/pay"))
    assert "他人：王福生（父亲）" in page and "他人：王小雨（子女）" in page
    assert "他人：李秀英（母亲）" in page and f"{TODAY.year}年度已缴费" in page
    # 为TA缴费 for the two unpaid, not for the mother: her entry is no submit button
    assert page.count("为TA缴费") == 2
    assert f'name="who" value="{family.mother.id}"' not in page
    assert f"/rm/records?insured={family.mother.id}" in page
    fam = text(phone_user(family.payer).get("/rm/family"))
    assert "李秀英（母亲）" in fam and f"{TODAY.year}年度已缴费" in fam and f"{TODAY.year}年度未缴费" in fam


def test_R_RM_5_change_the_relationship(app, phone_user, family):
    b = phone_user(family.payer)
    member_id, _ = _saved(app, family.payer.id)["王小雨"]
    b.get("/rm/family")
    r = b.post(f"/rm/family/{member_id}/relation", {"relation": "其他"})
    assert r.status_code == 303
    assert "已将王小雨的关系改为其他" in text(b.follow(r))
    assert _saved(app, family.payer.id)["王小雨"][1] == "其他"
    r = b.post(f"/rm/family/{member_id}/relation", {"relation": "表哥<script>"})
    assert r.status_code == 422 and "请选择与参保人的关系" in text(r)
    assert _saved(app, family.payer.id)["王小雨"][1] == "其他"


def test_R_RM_5_remove_asks_in_the_page_then_removes(app, phone_user, family):
    b = phone_user(family.payer)
    member_id, _ = _saved(app, family.payer.id)["王福生"]
    fam = text(b.get("/rm/family"))
    assert f"/rm/family?remove={member_id}" in fam and "confirm(" not in fam and "hx-confirm" not in fam
    dialog = text(b.get(f"/rm/family?remove={member_id}"))
    assert 'role="dialog"' in dialog and "确定删除家庭成员王福生（父亲）吗" in dialog
    assert f'action="/rm/family/{member_id}/remove"' in dialog
    r = b.post(f"/rm/family/{member_id}/remove")
    assert r.status_code == 303 and "已删除家庭成员王福生" in text(b.follow(r))
    assert "王福生" not in _saved(app, family.payer.id)
    assert "他人：王福生" not in text(b.get("/rm/pay"))
    assert b.post("/rm/pay", {"who": str(family.father.id)}).status_code == 404


def test_R_RM_5_someone_elses_member_cannot_be_changed_or_removed(app, phone_user, family):
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        other = make_resident(s, "赵丽", number="110108198507220028")
        s.commit()
    member_id, _ = _saved(app, family.payer.id)["王福生"]
    b = phone_user(other)
    b.get("/rm/family")
    assert b.get(f"/rm/family?remove={member_id}").status_code == 404
    assert b.post(f"/rm/family/{member_id}/relation", {"relation": "父亲"}).status_code == 404
    assert b.post(f"/rm/family/{member_id}/remove").status_code == 404
    assert b.get("/rm/family?remove=abc").status_code == 404
    assert "王福生" in _saved(app, family.payer.id)


def test_R_RM_5_someone_typed_under_other_is_saved_only_by_choice(app, phone_user, family):
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        payer = make_resident(s, "赵丽", number="110108198507220028")
        s.commit()
    b = phone_user(payer)
    page = text(b.get("/rm/pay"))
    assert re.search(r'name="save" value="1"\s*>', page)  # the switch is off until the payer turns it on
    other = {
        "who": "other",
        "name": "王小雨",
        "id_type": "resident_id",
        "id_number": "110105201506010040",
        "nationality": "中华人民共和国",
    }
    r = b.post("/rm/pay", other)
    assert r.status_code == 303 and "¥435.00" in text(b.get(r.location))  # paid for once, not saved
    assert _saved(app, payer.id) == {}
    r = b.post("/rm/pay", {**other, "save": "1"})
    assert r.status_code == 422 and "请选择与参保人的关系" in text(r) and 'value="王小雨"' in text(r)
    assert _saved(app, payer.id) == {}
    r = b.post("/rm/pay", {**other, "save": "1", "relation": "子女"})
    assert r.status_code == 303 and _saved(app, payer.id)["王小雨"][1] == "子女"


def test_R_RM_5_a_relatives_records_link_shows_what_was_paid_for_that_relative(app, phone_user, family):
    _pay_year(app, family.mother, family.payer)
    _pay_year(app, family.payer)  # the payer's own year is paid too
    b = phone_user(family.payer)
    page = text(b.get(f"/rm/pay/select?insured={family.mother.id}"))
    assert f"{TODAY.year}年度已缴费" in page and f"/rm/records?insured={family.mother.id}" in page
    records = text(b.get(f"/rm/records?insured={family.mother.id}&start={TODAY.year}-01&end={TODAY.year}-12"))
    assert "查询对象" in records and "李秀英" in records and "¥460.00" in records
    assert "¥795.00" not in records  # not the payer's own payment
    assert f'name="insured" value="{family.mother.id}"' in records  # the range query keeps the relative
    with app.extensions["db_sessionmaker"]() as s:
        assert s.scalar(select(func.count()).select_from(FamilyPayee)) == 3


def test_R_RM_5_declared_member_still_offers_payment(app, phone_user, family):
    b = phone_user(family.payer)
    declare_for(b, family.child.id)
    page = text(b.get("/rm/pay"))
    assert f"{TODAY.year}年度已申报待缴款" in page and f'name="who" value="{family.child.id}"' in page


def test_R_RM_5_after_paying_for_a_relative_the_records_button_opens_that_relatives_records(
    app, providers, phone_user, family
):
    from webapp.payments.sim import controls

    from .flows import start_order

    b = phone_user(family.payer)
    no = start_order(b, declare_for(b, family.father.id), "wechat")
    controls.pay(providers, "wechat", no)
    controls.deliver_pending(providers)
    result = text(b.follow(b.get(f"/pay/return/wechat/{no}")))
    assert "缴费成功" in result and f'href="/rm/records?insured={family.father.id}"' in result
    records = text(b.get(f"/rm/records?insured={family.father.id}"))
    assert "王福生" in records and "¥460.00" in records
    assert "他人：王福生（父亲）" in text(b.get("/rm/pay")) and f"{TODAY.year}年度已缴费" in text(b.get("/rm/pay"))
