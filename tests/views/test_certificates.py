"""开具社保缴费记录 on the phone: 记录打印 → 证明申请 → 记录下载 (制作中 → 制作成功 | 制作失败 → 重新制作) →
查看 / 下载, and 更多相关操作 → 证明申请 on every record page (R-CE-1 … R-CE-6, R-CH-2)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from tests.conftest import text
from tests.factories import TODAY, make_certificate, make_flex_worker, make_resident
from webapp import demo, jobs
from webapp.documents import certificate as document
from webapp.models import Certificate, Person, Receivable
from webapp.services import certificates


@pytest.fixture
def zhao(app) -> Person:
    """赵丽: paid this year's resident medical on 2026-11-01, posted 2026-11-03."""
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        p = make_resident(s, "赵丽", paid=True)
        certificates.post_due(s, TODAY)
        s.commit()
    return p


@pytest.fixture
def made_later(app) -> list[int]:
    """Requests stay 制作中 until the test runs the job (as with CERTIFICATE_MAKING=later)."""
    asked: list[int] = []
    app.extensions["certificate_maker"] = asked.append
    return asked


def apply(b, start: str = "2025-01", end: str = "2026-11"):  # type: ignore[no-untyped-def]
    """记录打印 → 勾选缴费记录 (all of the first 税务机关 listed) → 开具缴费记录."""
    page = text(b.get(f"/certificates?start={start}&end={end}"))
    office = re.search(r'name="tax_office" value="([^"]+)"', page)
    assert office, page
    group = page[office.start() : page.find("</form>", office.start())]
    ticked = re.findall(r'name="payment" value="(\d+)"', group)
    return b.post(f"/certificates/apply?start={start}&end={end}", {"tax_office": office.group(1), "payment": ticked})


def test_R_CH_2_the_poster_urls_answer(app, browser):
    r = browser.get("/certificates?ch=wechat")
    assert r.status_code == 302 and r.location.startswith("/login?next=")
    assert browser.get("/verify?ch=alipay").status_code == 200
    assert "http://localhost/certificates?ch=wechat" in text(browser.get("/qr"))


def test_R_CE_1_every_record_page_offers_更多相关操作_证明申请(app, phone_user, zhao):
    b = phone_user(zhao)
    for path in ("/rm/records", "/flex/records"):
        page = text(b.get(path))
        assert "更多相关操作" in page
        assert re.search(r'href="/certificates\?start=[0-9-]+&amp;end=[0-9-]+">证明申请', page)
    payment = re.search(r'href="/rm/records/(\d+)"', text(b.get("/rm/records"))).group(1)
    detail = text(b.get(f"/rm/records/{payment}"))
    assert "更多相关操作" in detail and 'href="/certificates?start=2026-01&amp;end=2026-12">证明申请' in detail
    assert "入(退)库日期</dt><dd>2026-11-03" in detail


def test_R_CE_2_records_say_when_an_item_can_be_certified(app, phone_user):
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        p = make_resident(s, "钱二")
        r = s.scalar(select(Receivable).where(Receivable.insured_id == p.id))
        demo.settle_past(s, p, [r], TODAY, "wechat")
        s.commit()
    b = phone_user(p)
    assert "预计2026-11-24入库后可开具缴费证明" in text(b.get("/rm/records"))
    page = text(b.get("/certificates?start=2026-01&end=2026-12"))
    assert "所选费款所属期内没有已入库的缴费记录" in page and "预计2026-11-24入库后可开具" in page
    app.extensions["clock"].set(date(2026, 11, 24))
    assert jobs.post_payments(app) == 1
    assert "已入库，可开具缴费证明" in text(b.get("/rm/records"))


def test_R_CE_3_证明申请_goes_to_记录下载_which_polls_while_making_and_stops_when_made(
    app, phone_user, zhao, made_later
):
    b = phone_user(zhao)
    r = apply(b)
    assert r.status_code == 303 and r.location == "/certificates/downloads"
    page = text(b.get(r.location))
    assert "证明申请已提交，制作成功后可查看和下载" in page and "制作中" in page
    assert 'hx-trigger="load delay:1s"' in page and "partial=1" in page
    fragment = b.get("/certificates/downloads?partial=1", headers={"HX-Request": "true"})
    assert "<html" not in text(fragment) and 'id="cert-list"' in text(fragment) and "hx-trigger" in text(fragment)
    assert made_later and jobs.make_waiting_certificates(app, older_than_seconds=0) == 1

    fragment = text(b.get("/certificates/downloads?partial=1", headers={"HX-Request": "true"}))
    assert "制作成功" in fragment and "hx-trigger" not in fragment  # done: the polling stops
    assert ">查看</a>" in fragment and ">下载</a>" in fragment and "PDF密码为证件号码后6位" in page


def test_R_CE_3_the_download_list_filters_by_application_date(app, phone_user, zhao):
    b = phone_user(zhao)
    apply(b)
    assert "2026-11-22 10:" in text(b.get("/certificates/downloads?start=2026-11-22&end=2026-11-22"))
    empty = text(b.get("/certificates/downloads?start=2026-10-01&end=2026-10-31"))
    assert "所选申请日期内没有证明申请" in empty
    bad = b.get("/certificates/downloads?start=2026-12-01&end=2026-11-01")
    assert bad.status_code == 422 and "起始日期不能晚于截止日期" in text(bad)


def test_R_CE_6_查看_shows_page_images_and_下载_gives_the_pdf(app, phone_user, zhao):
    b = phone_user(zhao)
    apply(b)
    cert_id = re.search(r'href="/certificates/(\d+)">查看', text(b.get("/certificates/downloads"))).group(1)
    view = text(b.get(f"/certificates/{cert_id}"))
    assert "长按图片可保存" in view and f'src="/certificates/{cert_id}/pages/1.png"' in view
    assert re.search(r'alt="社会保险费缴费证明 \d+ 第1页，共1页"', view)
    image = b.client.get(f"/certificates/{cert_id}/pages/1.png")
    assert image.status_code == 200 and image.mimetype == "image/png" and image.data.startswith(b"\x89PNG")
    pdf = b.client.get(f"/certificates/{cert_id}/download")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert pdf.headers["Content-Disposition"].startswith("attachment;") and "no-store" in pdf.headers["Cache-Control"]
    assert b"/Encrypt" in pdf.data
    assert b.client.get(f"/certificates/{cert_id}/pages/2.png").status_code == 404


def test_someone_elses_certificate_is_404_everywhere(app, phone_user, zhao):
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        cert = make_certificate(s, s.get(Person, zhao.id))
        other = make_resident(s, "孙强")
        s.commit()
    b = phone_user(other)
    for path in (
        f"/certificates/{cert.id}",
        f"/certificates/{cert.id}/download",
        f"/certificates/{cert.id}/pages/1.png",
    ):
        assert b.client.get(path).status_code == 404, path
    assert b.post(f"/certificates/{cert.id}/retry").status_code == 404
    assert cert.check_code not in text(b.get("/certificates/downloads"))


def test_R_CE_3_viewing_or_downloading_before_it_is_made_says_so(app, phone_user, zhao, made_later):
    b = phone_user(zhao)
    apply(b)
    cid = made_later[0]
    for path in (f"/certificates/{cid}", f"/certificates/{cid}/download", f"/certificates/{cid}/pages/1.png"):
        r = b.get(path)
        assert r.status_code == 409 and "正在制作中" in text(r), path


def test_R_CE_3_a_making_failure_shows_the_reason_and_重新制作_works(app, phone_user, zhao, monkeypatch):
    b = phone_user(zhao)

    def broken(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr(document, "render", broken)
    page = text(b.follow(apply(b)))
    assert "制作失败" in page and "失败原因" in page and "系统异常，请稍后再试" in page and ">重新制作</button>" in page
    cid = re.search(r'action="/certificates/(\d+)/retry"', page).group(1)
    assert b.get(f"/certificates/{cid}/download").status_code == 409
    monkeypatch.undo()

    r = b.post(f"/certificates/{cid}/retry")
    assert r.status_code == 303
    page = text(b.get(r.location))
    assert "已重新提交制作" in page and "制作成功" in page and "重新制作" not in page
    assert b.client.get(f"/certificates/{cid}/download").status_code == 200
    again = text(b.follow(b.post(f"/certificates/{cid}/retry")))
    assert "只有制作失败的证明可以重新制作" in again


def test_R_CE_2_a_range_without_posted_items_says_so_plainly(app, phone_user, zhao):
    b = phone_user(zhao)
    page = b.get("/certificates?start=2020-01&end=2020-12")
    assert page.status_code == 200 and "所选费款所属期内没有已入库的缴费记录，暂不能开具缴费证明" in text(page)
    assert ">开具缴费记录</button>" not in text(page)
    bad = b.get("/certificates?start=2026-12&end=2026-01")
    assert bad.status_code == 422 and "起始所属期不能晚于截止所属期" in text(bad)
    junk = b.get("/certificates?start=x&end=y")
    assert junk.status_code == 422 and "费款所属期格式应为YYYY-MM" in text(junk)


def test_R_CE_6_证明申请_for_an_office_with_nothing_posted_is_refused_on_the_same_screen(app, phone_user, zhao):
    b = phone_user(zhao)
    b.get("/certificates")
    r = b.post("/certificates/apply?start=2025-01&end=2026-11", {"tax_office": "国家税务总局北京市东城区税务局"})
    assert r.status_code == 422 and "没有已入库的缴费记录" in text(r) and ">开具缴费记录</button>" in text(r)
    with app.extensions["db_sessionmaker"]() as s:
        assert s.scalar(select(func.count()).select_from(Certificate)) == 0


def test_R_CE_6_a_flexible_workers_record_page_leads_to_a_certificate_of_their_months(app, phone_user):
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        worker = make_flex_worker(s, "刘鹏", unpaid_months=3)
        s.commit()
    assert jobs.post_payments(app) == 9
    b = phone_user(worker, "alipay")
    page = text(b.get("/certificates?start=2026-05&end=2026-11"))
    assert page.count('<li class="cert-item">') == 9 and "费款合计：<strong data-total>¥6,794.76</strong>" in page
    apply(b, "2026-05", "2026-11")
    with app.extensions["db_sessionmaker"]() as s:
        cert = s.scalar(select(Certificate))
        assert cert.status == "made" and len(cert.items) == 9


@pytest.mark.parametrize(
    "method, path, data",
    [
        ("get", "/certificates/99999999999999999999", None),
        ("get", "/certificates/abc", None),
        ("get", "/certificates/1/pages/0.png", None),
        ("get", "/certificates/1/pages/99999999999999999999.png", None),
        ("get", "/certificates/downloads?start=x", None),
        ("post", "/certificates/apply", {"tax_office": "x" * 5000}),
        ("post", "/certificates/apply?start=2026-13&end=2026-01", {"tax_office": ""}),
        ("post", "/certificates/99999/retry", {}),
        ("get", "/verify?code=%00&k=" + "x" * 500, None),
        ("post", "/verify", {"id_number": "\x00", "code": "１２３", "captcha": "\u202e"}),
        ("post", "/verify/captcha", {"kind": "nonsense"}),
        ("get", "/verify/captcha/nope.png", None),
    ],
)
def test_odd_certificate_requests_never_answer_500(app, phone_user, zhao, method, path, data):
    b = phone_user(zhao)
    r = b.client.get(path) if method == "get" else b.post(path, data or {})
    assert r.status_code < 500, (path, r.status_code)


def test_demo_R_CE_2_the_rm_paid_persona_can_apply_at_once(app, phone_user):
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        demo.seed(s, app.extensions["clock"].today())
        s.commit()
        zhao_li = s.scalar(select(Person).where(Person.id_number == "110108198507220028"))
    b = phone_user(zhao_li)
    r = apply(b)
    assert r.status_code == 303
    assert "制作成功" in text(b.get(r.location))
