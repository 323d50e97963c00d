"""Labels as the guides word them (issue 20.8): the agreement list's 签订成功 and 代扣险种 (seed 000 §4, seed 004),
the records' 缴费渠道 本系统 / 缴费方式 三方协议 for agreement payments (seed 000 §5)."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select

from tests.factories import at, make_agreement, make_flex_worker, make_resident
from webapp.models import BaseDeclaration, Enrolment
from webapp.services import batch_debit

from ..conftest import text


def _withheld(page: str, masked: str) -> str:
    card = page[page.index(masked) :]
    return re.search(r"<dt>代扣险种</dt><dd>([^<]*)</dd>", card).group(1)


def test_R_AG_2_代扣险种_names_what_the_batch_debit_takes(app, providers, phone_user):
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        monthly = make_flex_worker(s, "按月代扣", unpaid_months=0)
        a = make_agreement(s, monthly, providers)
        no_batch = make_agreement(s, monthly, providers, bank="CCB", batch_debit=False)
        quarterly = make_flex_worker(s, "按季代扣", unpaid_months=0)
        e = s.scalar(select(Enrolment).where(Enrolment.person_id == quarterly.id))
        row = s.scalar(
            select(BaseDeclaration).where(
                BaseDeclaration.enrolment_id == e.id, BaseDeclaration.contribution_year == 2026
            )
        )
        row.cycle = "quarterly"
        q = make_agreement(s, quarterly, providers)
        resident = make_resident(s, "居民代扣")
        r = make_agreement(s, resident, providers)
        s.commit()
    page = text(phone_user(monthly, "alipay").get("/agreements"))
    assert _withheld(page, a.account_masked) == "职工基本养老保险、失业保险、职工基本医疗保险"
    assert _withheld(page, no_batch.account_masked) == "--"  # 是否银行代扣 否
    assert "签订成功" in page
    page = text(phone_user(quarterly, "alipay").get("/agreements"))
    assert _withheld(page, q.account_masked) == "职工基本医疗保险"  # R-FB-8: the window takes the rest
    page = text(phone_user(resident, "alipay").get("/agreements"))
    assert _withheld(page, r.account_masked) == "--"  # resident medical is never batch-debited


def test_R_CE_1_an_agreement_payment_reads_缴费渠道_本系统_and_缴费方式_三方协议(app, providers, phone_user):
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        person = make_flex_worker(s, "三方协议", unpaid_months=1)
        make_agreement(s, person, providers)
        s.commit()
    day = date(2026, 11, 9)
    batch_debit.run(
        app.extensions["db_sessionmaker"], app.extensions["payment_adapters"]["agreement"], day, lambda: at(day, 6)
    )
    app.extensions["clock"].set(at(date(2026, 11, 12)))
    page = text(phone_user(person, "alipay").get("/flex/records?start=2026-10&end=2026-10"))
    cards = re.findall(r"<dt>缴费渠道</dt><dd>([^<]*)</dd>.*?<dt>缴费方式</dt><dd>([^<]*)</dd>", page, re.S)
    assert cards and set(cards) == {("本系统", "三方协议")}
    page = text(phone_user(person, "alipay").get("/flex/records?start=2026-09&end=2026-09"))  # paid by Alipay
    cards = re.findall(r"<dt>缴费渠道</dt><dd>([^<]*)</dd>.*?<dt>缴费方式</dt><dd>([^<]*)</dd>", page, re.S)
    assert cards and set(cards) == {("京通（支付宝）", "支付宝")}


def test_R_FB_3_the_base_page_shows_the_table_then_修改_opens_it_in_the_window(app, phone_user):
    """seed 000 §2 步骤1: 点击【修改】按钮可以查看险种明细并在规定时间内修改缴费基数."""
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        p = make_flex_worker(s, "修改基数", unpaid_months=0, today=date(2026, 6, 20))
        s.commit()
    app.extensions["clock"].set(at(date(2026, 6, 20)))  # the 2026 window (14 June – 25 July)
    b = phone_user(p, "alipay")
    b.get("/flex/base")
    assert b.post("/flex/base", {"base": "9000", "cycle": "monthly"}).status_code == 200
    page = text(b.get("/flex/base"))
    assert "本缴费年度缴费基数" in page and "9000元" in page and ">修改</a>" in page and 'name="base"' not in page
    page = text(b.get("/flex/base?edit=1"))
    assert 'name="base"' in page and 'value="9000"' in page and ">提交</button>" in page
    r = b.post("/flex/base", {"base": "9500", "cycle": "monthly"})
    assert r.status_code == 200 and "申报成功" in text(r)
    app.extensions["clock"].set(at(date(2026, 8, 1)))  # after the window: no 修改
    page = text(b.get("/flex/base?edit=1"))
    assert ">修改</a>" not in page and 'name="base"' not in page


def test_京通_asks_for_the_phone_number_before_实人认证(app):
    """seed 004 §1.2: 京通获取客户端上的手机号，点击允许授权，进入“实人认证”界面 — in 京通 only, once per phone."""
    from ..conftest import HOST_UA, Browser

    b = Browser(app, HOST_UA["alipay"])
    b.get("/?ch=alipay")
    page = text(b.get("/login?next=/rm/pay"))
    assert "“京通”申请获取你的手机号" in page and ">允许</button>" in page and ">拒绝</a>" in page
    assert 'name="id_number"' not in page
    refused = text(b.get("/login/phone?next=/rm/pay"))
    assert "未授权手机号，不能登录京通" in refused and ">允许</button>" in refused
    r = b.post("/login/phone", {"next": "/rm/pay"})
    assert r.status_code == 303 and r.location == "/login?next=/rm/pay"
    page = text(b.get(r.location))
    assert 'name="id_number"' in page and "开始人脸识别" in page  # 实人认证
    assert 'name="id_number"' in text(b.get("/login"))  # asked once on this phone
    etax = Browser(app, "")
    etax.get("/?ch=etax-app")  # the e-Tax app logs in its own way: no 京通 authorisation
    assert 'name="id_number"' in text(etax.get("/login"))
