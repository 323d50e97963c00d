"""Treasury posting and payment certificates over a session (R-CE-2 … R-CE-6)."""

from __future__ import annotations

import io
import time
from datetime import date, datetime

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from tests.factories import (
    TAX_OFFICE,
    TODAY,
    make_certificate,
    make_family,
    make_flex_worker,
    make_resident,
)
from webapp import demo
from webapp.documents import certificate as document
from webapp.documents import fonts
from webapp.domain.calendar import BEIJING, Month
from webapp.domain.errors import NotFound, RuleViolation
from webapp.models import Certificate, CertificateItem, CertificatePage, Receivable, SettledPayment
from webapp.services import certificates

from ..conftest import PG_URL

SETTINGS = certificates.MakeSettings(base_url="http://localhost", secret="test")
NOW = datetime(2026, 11, 22, 10, tzinfo=BEIJING)


def pdf_text(pdf: bytes, password: str) -> str:
    """The text of an encrypted PDF, opened with its password."""
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.is_encrypted
    assert reader.decrypt(password)
    return "\n".join(page.extract_text() for page in reader.pages)


def test_R_CE_2_the_job_posts_items_two_working_days_after_payment_and_only_once(db):
    early = make_resident(db, "赵丽", paid=True)  # paid 2026-11-01 (a Sunday) → posted 2026-11-03
    late = make_resident(db, "钱二")
    r = db.scalar(select(Receivable).where(Receivable.insured_id == late.id))
    demo.settle_past(db, late, [r], TODAY, "wechat")  # paid today, Sunday 2026-11-22 → posted 11-24
    db.flush()

    assert certificates.post_due(db, TODAY) == 1
    assert certificates.post_due(db, TODAY) == 0  # idempotent
    first = db.scalar(select(SettledPayment).join(Receivable).where(Receivable.insured_id == early.id))
    assert first.posted_on == date(2026, 11, 3) and len(first.e_ticket_no) == 20
    waiting = db.scalar(select(SettledPayment).join(Receivable).where(Receivable.insured_id == late.id))
    assert waiting.posted_on is None and certificates.available_on(waiting) == date(2026, 11, 24)

    assert certificates.post_due(db, date(2026, 11, 23)) == 0
    assert certificates.post_due(db, date(2026, 11, 24)) == 1
    assert waiting.posted_on == date(2026, 11, 24) and waiting.e_ticket_no != first.e_ticket_no


def test_R_CE_6_a_certificate_covers_ones_own_posted_items_of_one_tax_office(db):
    worker = make_flex_worker(db, "刘一", unpaid_months=0)  # six months paid, 18 items
    other_office = db.scalars(
        select(Receivable).where(Receivable.insured_id == worker.id).order_by(Receivable.fee_period_start)
    ).first()
    other_office.tax_office = "国家税务总局北京市海淀区税务局"
    db.flush()
    certificates.post_due(db, TODAY)
    groups = certificates.by_tax_office(certificates.posted_items(db, worker.id, Month(2025, 1), Month(2026, 11)))
    assert {k: len(v) for k, v in groups.items()} == {"国家税务总局北京市海淀区税务局": 1, TAX_OFFICE: 17}

    cert = certificates.apply(db, worker, TAX_OFFICE, Month(2025, 1), Month(2026, 11), NOW)
    assert cert.status == "making" and len(cert.items) == 17
    assert cert.total_fen == sum(i.payment.amount_fen for i in cert.items)
    assert cert.number == f"11{NOW:%Y%m%d}{cert.id:08d}" and len(cert.check_code) == 16


def test_R_CE_6_fees_paid_by_a_family_member_are_certified_to_the_insured_not_to_the_payer(db):
    son = make_resident(db, "王建国")
    father = make_resident(db, "王福生", category="elderly", birth=date(1950, 4, 5))
    make_family(db, son, [(father, "父亲")])
    r = db.scalar(select(Receivable).where(Receivable.insured_id == father.id))
    demo.settle_past(db, son, [r], date(2026, 11, 2), "wechat")
    certificates.post_due(db, TODAY)
    assert certificates.posted_items(db, son.id, Month(2026, 1), Month(2026, 12)) == []
    assert [p.receivable_id for p in certificates.posted_items(db, father.id, Month(2026, 1), Month(2026, 12))] == [
        r.id
    ]
    with pytest.raises(RuleViolation):
        certificates.apply(db, son, TAX_OFFICE, Month(2026, 1), Month(2026, 12), NOW)


def test_R_CE_2_nothing_posted_in_the_range_refuses_the_request_and_writes_nothing(db):
    p = make_resident(db, "孙三", paid=True)
    with pytest.raises(RuleViolation, match="没有已入库"):  # paid, but the job has not posted it
        certificates.apply(db, p, TAX_OFFICE, Month(2026, 1), Month(2026, 12), NOW)
    certificates.post_due(db, TODAY)
    with pytest.raises(RuleViolation, match="没有已入库"):  # posted, but another office
        certificates.apply(db, p, "国家税务总局北京市东城区税务局", Month(2026, 1), Month(2026, 12), NOW)
    with pytest.raises(RuleViolation, match="没有已入库"):  # posted, but another range
        certificates.apply(db, p, TAX_OFFICE, Month(2025, 1), Month(2025, 12), NOW)
    with pytest.raises(RuleViolation, match="起始所属期"):
        certificates.apply(db, p, TAX_OFFICE, Month(2026, 12), Month(2026, 1), NOW)
    assert db.scalar(select(func.count()).select_from(Certificate)) == 0


def test_R_CE_4_the_pdf_is_encrypted_and_carries_every_field(db):
    p = make_resident(db, "赵丽", paid=True, number="11010519830619002X", birth=date(1983, 6, 19))
    cert = make_certificate(db, p)
    assert cert.status == "made" and cert.made_at is not None and cert.page_count == 1
    pdf = certificates.pdf_of(db, cert)
    assert PdfReader(io.BytesIO(pdf)).decrypt("000000") == 0  # a wrong password opens nothing
    text = pdf_text(pdf, "19002X")
    payment = cert.items[0].payment
    for field in (
        "社会保险费缴费证明",
        cert.number,
        cert.check_code,
        "赵丽",
        "11010519830619002X",
        "征收税务机关",
        "电子税票号码",
        "社保经办机构",
        "人员编号",
        "征收项目",
        "征收品目",
        "征收子目",
        "入(退)库日期",
        "实缴(退)金额",
        payment.e_ticket_no,
        "2026-11-03",
        "795.00",
        "柒佰玖拾伍元整",
        "特此证明",
        f"开具机关：{TAX_OFFICE}",
        "开具日期：2026年11月22日",
        "城乡居民基本医疗保险",
        "劳动年龄内居民",
        p.person_no,
    ):
        assert "".join(field.split()) in "".join(text.split()), field
    png = certificates.page_png(db, cert, 1)
    assert png.startswith(b"\x89PNG")
    with pytest.raises(NotFound):
        certificates.page_png(db, cert, 2)


def test_R_CE_4_a_long_certificate_repeats_the_header_and_totals_on_the_last_page():
    from bench.cert_samples import sample_doc

    doc = sample_doc(36)
    reader = PdfReader(io.BytesIO(document.make_pdf(doc)))
    reader.decrypt(doc.password)
    pages = ["".join(page.extract_text().split()) for page in reader.pages]
    assert len(pages) == 3
    assert all("电子税票号码" in t and doc.check_code in t and f"共{len(pages)}页" in t for t in pages)
    assert ["合计" in t for t in pages] == [False, False, True]
    assert "特此证明" in pages[-1] and doc.total_in_words in pages[-1]


def test_R_CE_3_a_certificate_is_made_once(db):
    p = make_resident(db, "赵丽", paid=True)
    cert = make_certificate(db, p)
    pdf = certificates.pdf_of(db, cert)
    again = certificates.make(db, cert.id, SETTINGS, NOW)
    assert again is cert and cert.attempts == 1 and certificates.pdf_of(db, cert) == pdf
    assert db.scalar(select(func.count()).select_from(CertificatePage)) == 1


def test_R_CE_3_a_failure_is_kept_with_its_reason_and_a_retry_makes_it(db, monkeypatch):
    p = make_resident(db, "赵丽", paid=True)
    cert = make_certificate(db, p, make=False)

    def broken(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr(document, "render", broken)
    certificates.make(db, cert.id, SETTINGS, NOW)
    assert cert.status == "failed" and cert.failure_reason == "制作失败，系统异常，请稍后再试"
    with pytest.raises(RuleViolation):
        certificates.pdf_of(db, cert)
    monkeypatch.undo()

    certificates.retry(db, cert, p.id)
    assert cert.status == "making" and cert.failure_reason is None and cert.attempts == 0  # counted afresh
    certificates.make(db, cert.id, SETTINGS, NOW)
    assert cert.status == "made" and cert.attempts == 1
    with pytest.raises(RuleViolation):
        certificates.retry(db, cert, p.id)  # only a failed one


def test_R_CE_3_a_missing_font_fails_with_a_reason_that_says_so(db, monkeypatch):
    p = make_resident(db, "赵丽", paid=True)
    cert = make_certificate(db, p, make=False)
    monkeypatch.setattr(fonts, "_registered", None)
    certificates.make(db, cert.id, certificates.MakeSettings("http://localhost", "test", "/nonexistent.ttc"), NOW)
    assert cert.status == "failed" and "字体" in (cert.failure_reason or "")


def test_someone_elses_certificate_is_not_found(db):
    owner = make_resident(db, "赵丽", paid=True)
    stranger = make_resident(db, "孙强")
    cert = make_certificate(db, owner)
    assert certificates.certificate_of(db, owner.id, cert.id) is cert
    with pytest.raises(NotFound):
        certificates.certificate_of(db, stranger.id, cert.id)
    with pytest.raises(NotFound):
        certificates.certificate_of(db, owner.id, cert.id + 1000)


def test_R_CE_5_verify_needs_the_document_number_and_the_check_code_of_a_made_certificate(db):
    p = make_resident(db, "吴芳", paid=True, number="11010519830619002X", birth=date(1983, 6, 19))
    cert = make_certificate(db, p)
    assert certificates.verify(db, "11010519830619002x", cert.check_code) is cert
    assert certificates.verify(db, "110105198306190010", cert.check_code) is None
    wrong = str((int(cert.check_code) + 1) % 10**16).zfill(16)
    assert certificates.verify(db, p.id_number, wrong) is None
    assert certificates.verify(db, p.id_number, cert.check_code[:15]) is None
    pending = make_certificate(db, p, make=False)
    assert certificates.verify(db, p.id_number, pending.check_code) is None  # not made yet


def test_R_CE_5_the_qr_key_stands_for_the_document_number(db):
    from webapp.domain.certificates import verify_key

    p = make_resident(db, "吴芳", paid=True)
    cert = make_certificate(db, p)
    key = verify_key("test", cert.check_code, p.id_number)
    assert certificates.verify_by_key(db, cert.check_code, key, "test") is cert
    assert certificates.verify_by_key(db, cert.check_code, key, "another secret") is None
    assert certificates.verify_by_key(db, cert.check_code, "0" * 16, "test") is None


def test_R_CE_3_requests_are_listed_by_application_date_newest_first(db):
    p = make_resident(db, "赵丽", paid=True)
    first = make_certificate(db, p, make=False)
    second = make_certificate(db, p, make=False)
    assert certificates.certificates_between(db, p.id, TODAY, TODAY) == [second, first]
    assert certificates.certificates_between(db, p.id, date(2026, 11, 23), date(2026, 11, 30)) == []
    with pytest.raises(RuleViolation):
        certificates.certificates_between(db, p.id, TODAY, date(2026, 11, 1))
    assert db.scalar(select(func.count()).select_from(CertificateItem)) == 2


# ------------------------------------------------------------------- jobs that never strand (issue 16 item 4, D7)


def test_D7_a_certificate_whose_maker_is_killed_while_drawing_never_stays_making(app, db, monkeypatch):
    """The attempt is counted before drawing starts: a worker killed mid-drawing (its transaction lost) counts, the
    next run makes it; after three such deaths it is 制作失败 with the reason (not 制作中 for ever), and 重新制作
    makes it."""
    p = make_resident(db, "赵丽", paid=True)
    cert = make_certificate(db, p, make=False)
    db.commit()
    sessions = app.extensions["db_sessionmaker"]

    def killed(*_a, **_k):
        raise SystemExit("killed while drawing")

    monkeypatch.setattr(document, "render", killed)
    with pytest.raises(SystemExit):
        certificates.make_now(sessions, cert.id, SETTINGS, NOW)
    monkeypatch.undo()
    assert certificates.make_now(sessions, cert.id, SETTINGS, NOW) == "made"  # the next run makes it
    db.expire_all()
    assert db.get(Certificate, cert.id).attempts == 2

    other = make_certificate(db, p, make=False)
    db.commit()
    monkeypatch.setattr(document, "render", killed)
    for _ in range(certificates.MAX_ATTEMPTS):
        with pytest.raises(SystemExit):
            certificates.make_now(sessions, other.id, SETTINGS, NOW)
    monkeypatch.undo()
    assert certificates.make_now(sessions, other.id, SETTINGS, NOW) == "failed"
    db.expire_all()
    failed = db.get(Certificate, other.id)
    assert failed.status == "failed" and failed.failure_reason == certificates.MSG_FAILED
    certificates.retry(db, failed, p.id)
    db.commit()
    assert certificates.make_now(sessions, other.id, SETTINGS, NOW) == "made"


def test_D7_posting_commits_batch_by_batch_so_a_worker_killed_half_way_keeps_what_it_posted(app, db, monkeypatch):
    worker = make_flex_worker(db, "刘一", unpaid_months=0)  # 18 paid items, all due for posting
    db.commit()
    monkeypatch.setattr(certificates, "POST_BATCH", 5)
    real = certificates._post_batch
    calls = []

    def dies_on_the_third_batch(session, today, after_id):
        calls.append(after_id)
        if len(calls) == 3:
            raise SystemExit("killed")
        return real(session, today, after_id)

    monkeypatch.setattr(certificates, "_post_batch", dies_on_the_third_batch)
    with pytest.raises(SystemExit):
        certificates.post_due_in_batches(app.extensions["db_sessionmaker"], TODAY)
    posted = select(func.count()).select_from(SettledPayment).where(SettledPayment.posted_on.is_not(None))
    assert db.scalar(posted) == 10  # two batches committed before the worker died
    db.rollback()  # (SQLite: this test's session lets go of the database)
    monkeypatch.setattr(certificates, "_post_batch", real)
    assert certificates.post_due_in_batches(app.extensions["db_sessionmaker"], TODAY) == 8  # the rerun resumes
    assert db.scalar(posted) == 18 and worker.id


@pytest.mark.skipif(not PG_URL, reason="row locks that others skip: PostgreSQL (SQLite has one writer)")
def test_D7_two_posting_workers_share_the_work_instead_of_waiting(app, db):
    """Rows another worker is posting are skipped, not waited for; what it leaves is posted by the next run."""
    make_flex_worker(db, "刘一", unpaid_months=0)
    db.commit()
    sessions = app.extensions["db_sessionmaker"]
    with sessions() as other:  # another consumer is half-way through its batch
        held = list(other.scalars(select(SettledPayment.id).order_by(SettledPayment.id).limit(6).with_for_update()))
        started = time.monotonic()
        assert certificates.post_due_in_batches(sessions, TODAY) == 12
        assert time.monotonic() - started < 5  # it did not wait on the held rows
        other.rollback()
    assert len(held) == 6 and certificates.post_due_in_batches(sessions, TODAY) == 6
