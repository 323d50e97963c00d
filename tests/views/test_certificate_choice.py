"""开具缴费记录 as the guide has it (seed 000 §6: 勾选缴费记录，点击【开具缴费记录】): the payer picks the records; the
certificate's 费款所属期 is the picked items' own (the list's header and the PDF's); the PDF carries 单位编号 and
征收品目 as the guide's sample (职工基本养老保险(个人缴纳)), and is dated the day it is issued (R-CE-3, R-CE-4)."""

from __future__ import annotations

import io
import re
from datetime import date, datetime

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from tests.conftest import text
from tests.factories import make_flex_worker, make_resident
from webapp import jobs
from webapp.domain.calendar import BEIJING, Month
from webapp.domain.certificates import pdf_password
from webapp.models import Certificate, SettledPayment
from webapp.services import certificates


@pytest.fixture
def worker(app):
    """A flexible worker with 2026-05..2026-07 paid (9 records) and posted."""
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        p = make_flex_worker(s, "勾选人", unpaid_months=3)
        s.commit()
    assert jobs.post_payments(app) == 9
    return p


def _records(page: str) -> dict[str, str]:
    """payment id → the record's text, as 记录打印 lists them."""
    return {
        m.group(1): re.sub(r"<[^>]+>", " ", m.group(2))
        for m in re.finditer(r'name="payment" value="(\d+)"[^>]*>(.*?)</label>', page, re.S)
    }


def _count(app) -> int:
    with app.extensions["db_sessionmaker"]() as s:
        return s.scalar(select(func.count()).select_from(Certificate))


def test_R_CE_3_the_payer_ticks_the_records_to_certify_and_the_period_is_theirs(app, phone_user, worker):
    b = phone_user(worker, "alipay")
    page = text(b.get("/certificates?start=2025-01&end=2026-11"))
    assert "请勾选需要开具的缴费记录" in page and ">开具缴费记录</button>" in page
    records = _records(page)
    assert len(records) == 9 and page.count("checked") >= 9  # all ticked to begin with
    june = [pid for pid, t in records.items() if "费款所属期：2026-06" in t]
    office = re.search(r'name="tax_office" value="([^"]+)"', page).group(1)
    r = b.post("/certificates/apply?start=2025-01&end=2026-11", {"tax_office": office, "payment": june})
    assert r.status_code == 303
    downloads = text(b.follow(r))
    assert "2026-06 至 2026-06" in downloads and "2025-01 至 2026-11" not in downloads  # the items' period
    with app.extensions["db_sessionmaker"]() as s:
        cert = s.scalar(select(Certificate))
        assert sorted(str(i.settled_payment_id) for i in cert.items) == sorted(june)
        paid = s.scalar(
            select(func.sum(SettledPayment.amount_fen)).where(SettledPayment.id.in_([int(i) for i in june]))
        )
        assert cert.total_fen == paid and (cert.period_start, cert.period_end) == (date(2026, 6, 1), date(2026, 6, 1))


def test_R_CE_3_nothing_ticked_is_refused_on_the_same_screen(app, phone_user, worker):
    b = phone_user(worker, "alipay")
    page = text(b.get("/certificates?start=2025-01&end=2026-11"))
    office = re.search(r'name="tax_office" value="([^"]+)"', page).group(1)
    r = b.post("/certificates/apply?start=2025-01&end=2026-11", {"tax_office": office})
    assert r.status_code == 422 and "请勾选需要开具的缴费记录" in text(r)
    assert "checked" not in text(r).split("请勾选需要开具的缴费记录", 1)[1]  # what was (not) ticked is kept
    assert _count(app) == 0


def test_R_CE_6_a_record_of_someone_else_cannot_be_ticked_in(app, phone_user, worker):
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        other = make_resident(s, "别人", paid=True)
        certificates.post_due(s, date(2026, 11, 22))
        theirs = s.scalar(select(SettledPayment.id).where(SettledPayment.payer_id == other.id))
        s.commit()
    b = phone_user(worker, "alipay")
    page = text(b.get("/certificates?start=2025-01&end=2026-11"))
    office = re.search(r'name="tax_office" value="([^"]+)"', page).group(1)
    mine = next(iter(_records(page)))
    for forged in ([mine, str(theirs)], [mine, "abc"], [mine, "99999999999999999999"]):
        r = b.post("/certificates/apply?start=2025-01&end=2026-11", {"tax_office": office, "payment": forged})
        assert r.status_code == 422 and "所选缴费记录有误" in text(r)
    assert _count(app) == 0


def test_R_CE_4_the_pdf_has_单位编号_the_guides_征收品目_and_the_issue_date(app, worker):
    with app.extensions["db_sessionmaker"]() as s:
        mine = s.scalars(select(SettledPayment).where(SettledPayment.payer_id == worker.id)).all()
        pension = [p.id for p in mine if p.receivable.insurance == "pension"]
        cert = certificates.apply(
            s,
            s.merge(worker),
            mine[0].receivable.tax_office,
            Month(2025, 1),
            Month(2026, 11),
            datetime(2026, 11, 22, 15, 30, tzinfo=BEIJING),
            pension,
        )
        certificates.make(
            s,
            cert.id,
            certificates.MakeSettings("http://localhost", "test"),
            datetime(2026, 11, 22, 15, 31, tzinfo=BEIJING),
        )
        reader = PdfReader(io.BytesIO(certificates.pdf_of(s, cert)))
    reader.decrypt(pdf_password(worker.id_number))
    flat = "".join(page.extract_text() for page in reader.pages).replace(" ", "").replace("\n", "")
    assert "单位编号" in flat and "职工基本养老保险(个人缴纳)" in flat and "费款所属期：2026-05至2026-07" in flat
    assert reader.metadata.creation_date.date() == date(2026, 11, 22)  # not 2000-01-01
    assert "开具日期：2026年11月22日" in flat
