"""A newcomer's walk through every flow (issue 20, items 12–24), as the pages answer it: what a payer sees after
退出登录 and 返回, after paying a failed batch debit another way, after paying an old year, and what each screen
offers or refuses. Each test is named by what the user sees; each failed on the code before its fix."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from tests.factories import at, make_agreement, make_flex_worker
from webapp.models import Receivable
from webapp.payments.sim import controls
from webapp.services import batch_debit

from ..conftest import text
from .flows import declare_for, start_order

BATCH_DAY = date(2026, 11, 9)  # the 8th is a Sunday: the next working day
RESTORE = {"HX-Request": "true", "HX-History-Restore-Request": "true", "HX-Current-URL": "http://app.test/"}


# ----------------------------------------------------------------------------------------------- item 12


def test_back_after_logout_gets_the_login_page_never_an_empty_swap(family, phone_user):
    """返回 after 退出登录: htmx asks again for the page it left (a history restore) and puts whatever comes back
    into <body>; an empty body with HX-Redirect left a blank screen without the tab bar. It must get a page."""
    b = phone_user(family.payer, "wechat")
    assert b.get("/me/settings").status_code == 200
    b.post("/logout")
    r = b.get("/me/settings", headers=RESTORE)
    assert r.status_code == 302 and "/login" in r.location and "HX-Redirect" not in r.headers
    page = b.follow(r)
    assert "身份验证" in text(page) and "app-tabbar" in text(page)


@pytest.mark.parametrize(
    "url",
    [
        "/rm/declared?start=2026-01-01&end=2026-12-31",  # the URL its 查询 pushes (hx-push-url)
        "/certificates/downloads?partial=1",  # polled, never pushed: whole on a restore all the same
    ],
)
def test_back_to_a_pushed_url_gets_the_whole_page_with_its_tab_bar(family, phone_user, url):
    """Every URL htmx pushes into the history comes back whole on 返回, not as the fragment its 查询 swapped."""
    b = phone_user(family.payer, "wechat")
    r = b.get(url, headers=RESTORE)
    assert r.status_code == 200
    assert "<html" in text(r) and "app-tabbar" in text(r) and "app-bar__title" in text(r)
    fragment = b.get(url, headers={"HX-Request": "true"})  # the 查询 itself still swaps just the list
    assert "<html" not in text(fragment)


def test_the_htmx_config_reloads_the_page_on_a_history_miss(browser):
    """The app keeps no history cache (historyCacheSize 0): 返回 reloads the page the browser way."""
    page = text(browser.get("/"))
    assert '"historyCacheSize":0' in page and '"refreshOnHistoryMiss":true' in page


# ----------------------------------------------------------------------------------------------- item 13


@pytest.fixture
def failed_medical(app, providers):
    """A flexible worker owing 08–10 whose batch debit of medical failed (余额不足) on the batch day; pension
    and unemployment 本期 were taken."""
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        person = make_flex_worker(s, "批扣人", unpaid_months=3)
        make_agreement(s, person, providers, balance_fen=170_000)
        s.commit()
    report = batch_debit.run(
        app.extensions["db_sessionmaker"],
        app.extensions["payment_adapters"]["agreement"],
        BATCH_DAY,
        lambda: at(BATCH_DAY, 6),
        worker="w1",
    )
    assert report.reasons == {"余额不足": 1}
    app.extensions["clock"].set(at(date(2026, 11, 10)))
    return person


def _medical_ids(app, person):
    with app.extensions["db_sessionmaker"]() as s:
        return [
            str(i)
            for i in s.scalars(
                select(Receivable.id).where(
                    Receivable.insured_id == person.id, Receivable.insurance == "medical", Receivable.status == "due"
                )
            )
        ]


def test_batch_failure_banner_goes_once_the_items_are_paid_another_way(app, providers, phone_user, failed_medical):
    b = phone_user(failed_medical, "wechat")
    for url in ("/flex/due", "/flex/pay/select"):
        assert "批扣失败" in text(b.get(url)), url  # R-BD-3: said while the medical months are unpaid
    r = b.post("/flex/pay/select", {"tab": "normal", "receivable": _medical_ids(app, failed_medical)})
    assert r.status_code == 303, text(r)
    order = start_order(b, r.location, "wechat")
    controls.pay(providers, "wechat", order)
    controls.deliver_pending(providers)
    assert _medical_ids(app, failed_medical) == []
    for url in ("/flex/due", "/flex/pay/select"):
        page = text(b.get(url))
        assert "批扣失败" not in page and "余额不足" not in page, url


def test_batch_failure_banner_stays_while_part_of_the_debit_is_unpaid(app, phone_user, failed_medical):
    """A debit of three medical months stays a warning until all three are paid."""
    with app.extensions["db_sessionmaker"]() as s:
        first = s.scalar(
            select(Receivable)
            .where(Receivable.insured_id == failed_medical.id, Receivable.insurance == "medical")
            .order_by(Receivable.fee_period_start.desc())
            .limit(1)
        )
        first.status = "paid"
        s.commit()
    assert "批扣失败" in text(phone_user(failed_medical, "wechat").get("/flex/due"))


# ----------------------------------------------------------------------------------------------- item 14


def test_paid_2024_backpay_shows_in_paid_query_by_default(app, providers, phone_user, pension):
    """已缴费查询 opened after paying a 2024 补缴 (人社核定) lists it: the default range reaches back to it."""
    b = phone_user(pension["special"], "alipay")
    with app.extensions["db_sessionmaker"]() as s:
        group = [
            str(i)
            for i in s.scalars(
                select(Receivable.id).where(
                    Receivable.insured_id == pension["special"].id, Receivable.notice_no == "20261015093021"
                )
            )
        ]
    r = b.post("/rp/pay/select", {"tab": "special", "insurance": "rp_pension", "receivable": group})
    assert r.status_code == 303, text(r)
    order = start_order(b, r.location, "alipay")
    controls.pay(providers, "alipay", order)
    controls.deliver_pending(providers)
    page = text(b.get("/rp/records"))
    assert "2024-01 至 2024-12" in page and "¥1,000.00" in page and "¥500.00" in page
    assert 'name="start" value="2024-01"' in page and 'name="end" value="2026-12"' in page
    # A range the payer chose is theirs: nothing widens it.
    chosen = text(b.get("/rp/records?start=2025-01&end=2026-12"))
    assert "2024-01 至 2024-12" not in chosen and "所选费款所属期内没有缴费记录" in chosen


def test_paid_query_without_payments_opens_on_last_and_this_year(family, phone_user):
    page = text(phone_user(family.payer, "wechat").get("/rm/records"))
    assert 'name="start" value="2025-01"' in page and 'name="end" value="2026-12"' in page


# ----------------------------------------------------------------------------------------------- item 16


def test_amount_void_is_not_offered_for_a_paid_year(phone_user, pension):
    """批量扣款缴费金额作废 lists a paid year's amount as 已缴费, with no choice to tick and no 作废 to tap."""
    page = text(phone_user(pension["paid"], "alipay").get("/rp/amount/void"))
    assert "2026年度" in page and "已缴费" in page and "2026年度已缴费，无需作废缴费金额" in page
    assert 'name="amount_id"' not in page and ">作废</button>" not in page


def test_amount_void_is_offered_for_an_unpaid_year(phone_user, pension):
    page = text(phone_user(pension["set"], "alipay").get("/rp/amount/void"))
    assert 'name="amount_id"' in page and ">作废</button>" in page and "无需作废" not in page


# ----------------------------------------------------------------------------------------------- item 18


def test_agreement_payment_says_an_agreement_signed_today_takes_effect_tomorrow(app, providers, phone_user, family):
    """钱敏's case: her only agreement was signed today. 协议支付 says when it opens, never 请先新增协议."""
    with app.extensions["db_sessionmaker"]() as s:
        make_agreement(s, family.payer, providers, effective_on=date(2026, 11, 23))
        s.commit()
    b = phone_user(family.payer, "alipay")
    method_url = declare_for(b, family.payer.id)
    # 协议支付 → 确认缴费 → the prompt's 确定 → the agreements it can use (issue 20.8): there, when it opens.
    page = text(b.post(method_url, {"method": "agreement", "prompted": "1"}))
    assert "将于2026年11月23日生效，生效后即可使用协议支付" in page and "请先新增协议" not in page
    r = b.post(method_url, {"method": "agreement", "prompted": "1", "agreement_id": "0"})
    assert r.status_code == 422 and "将于2026年11月23日生效" in text(r) and "请先" not in text(r)
    app.extensions["clock"].advance(timedelta(days=1))
    page = text(b.post(method_url, {"method": "agreement", "prompted": "1"}))
    assert 'name="agreement_id"' in page and "将于" not in page


def test_agreement_payment_without_any_agreement_still_asks_to_sign_one(phone_user, family):
    b = phone_user(family.payer, "alipay")
    method_url = declare_for(b, family.payer.id)
    assert "请先新增协议" in text(b.post(method_url, {"method": "agreement", "prompted": "1"}))


# ----------------------------------------------------------------------------------------------- item 19


def _confirm_buttons(page: str) -> list[str]:
    """The words on the buttons and links of the page's in-page confirmations (作废, 撤销, 删除)."""
    boxes = re.findall(r'<div class="app-confirm".*?</div>\s*</div>|<div class="weui-dialog__ft">.*?</div>', page, re.S)
    return [w.strip() for box in boxes for w in re.findall(r"<(?:button|a)\b[^>]*>([^<]*)</(?:button|a)>", box)]


def test_every_void_confirmation_says_cancel_and_confirm_in_the_guides_words(app, providers, phone_user, family, flex):
    """Voiding, revoking and removing ask in the page with 取消 and 确定 in every flow, never 确定作废 or
    确定作废申报 in one flow and 确定 in the next."""
    rm = phone_user(family.payer, "wechat")
    declare_for(rm, family.father.id)
    worker = phone_user(flex["flex"], "wechat")
    ids = re.findall(r'name="receivable" value="(\d+)"', text(worker.get("/flex/pay/select")))
    assert worker.post("/flex/pay/select", {"tab": "normal", "receivable": ids}).status_code == 303
    with app.extensions["db_sessionmaker"]() as s:
        agreement = make_agreement(s, s.merge(family.payer), providers)
        s.commit()
    pages = {
        "/rm/declared": rm,
        f"/agreements/{agreement.id}/revoke": rm,
        f"/rm/family?remove={family.father.id}": rm,
        "/flex/pay/select": worker,
        "/flex/due": worker,
    }
    for url, b in pages.items():
        words = _confirm_buttons(text(b.get(url)))
        assert words and set(words) == {"取消", "确定"}, (url, words)


def test_resident_pension_void_dialogs_say_cancel_and_confirm(app, phone_user, pension):
    b = phone_user(pension["set"], "alipay")
    amount_id = re.search(r'name="amount_id" value="(\d+)"', text(b.get("/rp/amount/void"))).group(1)
    words = _confirm_buttons(text(b.post("/rp/amount/void", {"amount_id": amount_id})))
    assert set(words) == {"取消", "确定"}, words


# ----------------------------------------------------------------------------------------------- item 22


def test_repeated_face_failures_say_where_else_to_pay(app, browser):
    """周敏's face check keeps failing: from the second failure the page names the guides' other channels (the
    e-Tax app and web, the tax office window, the banks for flexible workers, 12366), besides 重新识别."""
    from tests.factories import make_resident

    with app.extensions["db_sessionmaker"]() as s:
        make_resident(
            s, "周敏", number="110106197811030029", face_fail_reason="未能识别到本人面部，请在光线充足处正对屏幕重试"
        )
        s.commit()
    browser.get("/login")
    browser.post("/login", {"name": "周敏", "id_type": "resident_id", "id_number": "110106197811030029", "agree": "1"})
    browser.get("/login/face")  # the accepted form renewed the session and its token (D4)
    first = text(browser.post("/login/face"))
    assert "重新识别" in first and "多次识别未通过" not in first
    second = text(browser.post("/login/face"))
    assert "重新识别" in second and "返回修改信息" in second
    assert "多次识别未通过" in second
    for channel in (
        "国家税务总局北京市电子税务局",
        "社保大厅税务窗口",
        "办税服务厅",
        "协议支付",
        "手机银行APP",
        "12366",
    ):
        assert channel in second, channel
    # A new 身份验证 starts again.
    browser.post("/login", {"name": "周敏", "id_type": "resident_id", "id_number": "110106197811030029", "agree": "1"})
    browser.get("/login/face")
    assert "多次识别未通过" not in text(browser.post("/login/face"))


# ----------------------------------------------------------------------------------------------- item 17


def _before_first_bill(page: str) -> str:
    """The page from its <main> up to its first bill (a card with a bill's 费款所属期, or the base table)."""
    main = page[page.index('<main id="main"') :]
    marks = [i for i in (main.find("费款所属期"), main.find('id="amounts"'), main.find("本缴费年度缴费基数")) if i >= 0]
    return main[: min(marks)] if marks else main


@pytest.mark.parametrize("role", ["flex", "subsidized", "new", "special", "lapse"])
@pytest.mark.parametrize("url", ["/flex/pay/select", "/flex/due", "/flex/base"])
def test_flexible_pages_open_with_one_notice_before_any_bill(flex, phone_user, role, url):
    """3–5 notice boxes used to stand before any bill. Now one, the one that matters; no sentence twice; the
    numbers' provenance (推算值, 来自公开资料) only behind 依据."""
    page = text(phone_user(flex[role], "wechat").get(url))
    head = _before_first_bill(page)
    assert head.count('class="app-notice') <= 1, (role, url, re.findall(r'class="app-notice[^>]*>([^<]*)', head))
    assert "推算值" not in page and "来自公开资料" not in page and "未见官方公布" not in page
    sentences = [s for s in re.findall(r">([^<>]{12,})<", page) if s.strip()]
    repeated = {s for s in sentences if sentences.count(s) > 1 and "费款所属期" not in s and "¥" not in s}
    assert not {s for s in repeated if "无需申报" in s or "暂按" in s or "断缴" in s}, repeated


def test_subsidised_worker_is_told_once_that_no_base_is_needed(flex, phone_user):
    page = text(phone_user(flex["subsidized"], "wechat").get("/flex/base"))
    assert page.count("无需申报缴费基数") == 1


def test_lapse_warning_leads_the_page_and_the_medical_rule_sits_at_the_medical_bills(flex, phone_user):
    page = text(phone_user(flex["lapse"], "wechat").get("/flex/pay/select"))
    head = _before_first_bill(page)
    assert "断缴" in head and "app-notice_warn" in head  # R-FP-7 leads
    medical = page[page.index(">职工基本医疗保险</div>") :]
    assert medical.index("本期应缴费与往期未缴费须一次性全部缴纳") < medical.index("费款所属期")  # R-FP-2 at its bills


def test_lapse_warning_moves_to_the_medical_bills_when_a_batch_failure_leads(app, phone_user, failed_medical):
    """Both apply: the failed debit leads (one box), the 断缴 warning stands under the medical bills' caption."""
    page = text(phone_user(failed_medical, "wechat").get("/flex/pay/select"))
    head = _before_first_bill(page)
    boxes = re.findall(r'<div class="app-notice[^"]*"[^>]*>(.*?)</div>', head, re.S)
    assert len(boxes) == 1 and "批扣失败" in boxes[0] and "断缴" not in boxes[0]
    medical = page[page.index(">职工基本医疗保险</div>") :]
    tip = re.search(r'<p class="[^"]*app-group-tip_warn[^"]*"[^>]*>([^<]*)</p>', medical).group(1)
    assert "断缴" in tip and medical.index(tip) < medical.index("费款所属期")


def test_basis_link_opens_where_the_numbers_come_from(flex, phone_user, browser):
    page = text(phone_user(flex["flex"], "wechat").get("/flex/pay/select"))
    assert "暂按上年度（2025缴费年度）标准计算" in page  # R-FB-6: the page still says the year is provisional
    link = re.search(r'href="(/flex/basis\?[^"]+)"', page).group(1).replace("&amp;", "&")
    basis = text(browser.get(link))  # public, like the guides
    assert "2026缴费年度（2026年7月至2027年6月）" in basis and "暂按上年度（2025缴费年度）标准计算" in basis
    assert "7162元" in basis and "35811元" in basis and "584.92元" in basis
    assert "推算" in basis and "公开资料" in basis and "缴费基数上限×70%÷3×7%" in basis
    old = text(browser.get("/flex/basis?region=beijing&year=2023"))
    assert "京人社发〔2023〕8号" in old and "推算" not in old.split("<tbody>")[1].split("</tbody>")[0]
    assert browser.get("/flex/basis?region=nowhere").status_code == 404
    assert "暂无北京市2019缴费年度的缴费标准" in text(browser.get("/flex/basis?year=2019"))


def test_new_enrollee_is_told_the_base_applies_from_the_enrolment_month(flex, phone_user):
    """黄磊 enrolled in October and declares in November: the base applies from 2026年10月, not from July."""
    b = phone_user(flex["new"], "wechat")
    b.get("/flex/base")
    r = b.post("/flex/base", {"base": "8000", "cycle": "monthly"})
    assert r.status_code == 200 and "申报成功" in text(r), text(r)
    assert "缴费基数自2026年10月属期起适用至2027年6月属期" in text(r)
