"""税税通 · 社保费完税证明 (seed 002 §五, R-QD-7): 为自己开具 and 代他人开具 — 填写人员身份证号, 选择费款所属期, 查询,
开具 → the 完税（费）证明 PDF, password-protected (AES-256 R6) and verifiable at /verify; the issuer logged in, each
issue audited (who for whom); the bad input issue 19 lists; no answer about a person the issuer cannot name."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from flask import Flask
from pypdf import PdfReader
from sqlalchemy import select

from tests.conftest import Browser, text
from tests.factories import id_number, make_person
from tests.qd_factories import bill_months, make_qd_worker, numbers_of
from webapp.demo import settle_past
from webapp.domain.calendar import Month
from webapp.models import AuditEvent, Certificate, Receivable
from webapp.services import certificates as certs
from webapp.services import qingdao


@pytest.fixture
def paid(app: Flask) -> dict[str, object]:
    """张青 paid September and October in Qingdao (posted); 赵友 is a 税税通 user with no Qingdao payment."""
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        worker = make_qd_worker(s, "张青")
        bill_months(s, worker, [Month(2026, 9), Month(2026, 10), Month(2026, 11)], base=5000)
        for month, day in ((Month(2026, 9), date(2026, 9, 15)), (Month(2026, 10), date(2026, 10, 15))):
            rows = list(
                s.scalars(
                    select(Receivable).where(
                        Receivable.insured_id == worker.id,
                        Receivable.scheme == qingdao.SCHEME,
                        Receivable.fee_period_start == month.first_day,
                    )
                )
            )
            settle_past(s, worker, rows, day, "wechat")
        certs.post_due(s, date(2026, 11, 22))
        friend = make_person(s, "赵友")
        s.commit()
    return {"worker": worker, "friend": friend}


def sst(app: Flask, person) -> Browser:  # type: ignore[no-untyped-def]
    """``person`` logged in inside 税税通 (its own real-name login first: ours)."""
    b = Browser(app)
    b.get("/qd?ch=qd-sst")
    b.login(person.name, person.id_number, "/qd/certificates")
    return b


def ask(b: Browser, **form: str):  # type: ignore[no-untyped-def]
    b.get("/qd/certificates")
    data = {"mode": "self", "name": "", "id_number": "", "start": "2026-01", "end": "2026-11", "action": "query"}
    return b.post("/qd/certificates", {**data, **form})


def audits(app: Flask, kind: str) -> list[AuditEvent]:
    with app.extensions["db_sessionmaker"]() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.kind == kind)))


def test_R_QD_7_the_issuer_must_be_logged_in(app: Flask) -> None:
    """R-QD-7: 税税通 requires its real-name login before 社保费完税证明."""
    r = Browser(app).get("/qd/certificates?ch=qd-sst")
    assert r.status_code == 302 and "/login" in r.location


def test_R_QD_7_for_oneself_query_issue_view_and_download_an_encrypted_verifiable_pdf(app: Flask, paid) -> None:  # type: ignore[no-untyped-def]
    """R-QD-7: 为自己开具 — 查询 lists the posted payments; 开具 makes the 完税（费）证明 of 国家税务总局青岛市税务局,
    numbered 3702…, AES-256 with the ID's last 6; /verify accepts its code."""
    worker = paid["worker"]
    b = sst(app, worker)
    page = text(b.get("/qd/certificates"))
    for w in ("为自己开具", "代他人开具", "人员身份证号", "费款所属期", "查询"):
        assert w in page
    r = ask(b)
    page = text(r)
    assert r.status_code == 200, page
    assert "费款所属期 2026-09" in page and "费款所属期 2026-10" in page
    assert "费款所属期 2026-11" not in page  # November is not paid
    assert "¥2,300.00" in page and "开具" in page
    r = ask(b, action="issue")
    assert r.status_code == 303, text(r)
    page = text(b.get(r.location))
    assert "完税（费）证明" in page and "国家税务总局青岛市税务局" in page and "确定" in page
    number = re.search(r"3702\d{16}", page)
    assert number, page
    cid = int(r.location.rstrip("/").split("/")[-1])
    pdf = b.client.get(f"/qd/certificates/{cid}/download")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(pdf.data))
    assert reader.is_encrypted
    assert reader.decrypt("wrong1") == 0
    assert reader.decrypt(worker.id_number[-6:]) != 0
    assert reader.trailer["/Encrypt"]["/R"] == 6 and reader.trailer["/Encrypt"]["/V"] == 5  # AES-256, revision 6
    words = "".join(p.extract_text() for p in reader.pages)
    assert "国家税务总局青岛市税务局" in words and worker.id_number in words and number.group(0) in words
    with app.extensions["db_sessionmaker"]() as s:
        assert all(n in words for n in numbers_of(s, worker).values())  # 人员编号: the 个人参保编号
    with app.extensions["db_sessionmaker"]() as s:
        cert = s.get(Certificate, cid)
        assert cert is not None and cert.region == "qingdao" and cert.issuer_id is None
        assert cert.number == number.group(0)
        assert all(i.payment.e_ticket_no.startswith("437020") for i in cert.items)
        code = cert.check_code
    v = Browser(app)
    v.get("/verify")
    app.config["CAPTCHA_TEST_ANSWER"] = "7K3Q"
    page = text(v.post("/verify", {"id_number": worker.id_number, "code": code, "captcha": "7K3Q"}))
    assert "校验通过" in page and "完税（费）证明" in page and "国家税务总局青岛市税务局" in page
    assert [e.detail for e in audits(app, "qd.certificate.issued")][0].startswith("为自己开具")


def test_R_QD_7_for_another_person_with_name_and_id_is_audited_who_for_whom(app: Flask, paid) -> None:  # type: ignore[no-untyped-def]
    """R-QD-7: 代他人开具 — the other person's name and 身份证号; the PDF opens with THEIR ID's last 6; the audit
    names the issuer (actor) and the person; the issuer sees the certificate they issued, nobody else does."""
    worker, friend = paid["worker"], paid["friend"]
    b = sst(app, friend)
    r = ask(b, mode="other", name=worker.name, id_number=worker.id_number)
    assert r.status_code == 200, text(r)
    r = ask(b, mode="other", name=worker.name, id_number=worker.id_number, action="issue")
    assert r.status_code == 303, text(r)
    cid = int(r.location.rstrip("/").split("/")[-1])
    reader = PdfReader(io.BytesIO(b.client.get(f"/qd/certificates/{cid}/download").data))
    assert reader.decrypt(worker.id_number[-6:]) != 0
    (event,) = audits(app, "qd.certificate.issued")
    assert event.actor_id == friend.id and f"for person {worker.id} by person {friend.id}" in event.detail
    assert event.detail.startswith("代他人开具")
    with app.extensions["db_sessionmaker"]() as s:
        cert = s.get(Certificate, cid)
        assert cert is not None and cert.payer_id == worker.id and cert.issuer_id == friend.id
    assert sst(app, worker).get(f"/qd/certificates/{cid}").status_code == 200  # the payer's own
    with app.extensions["db_sessionmaker"]() as s:
        stranger = make_person(s, "钱路")
        s.commit()
    assert sst(app, stranger).client.get(f"/qd/certificates/{cid}/download").status_code == 404


def test_R_QD_7_an_id_without_standing_reads_the_same_as_an_unknown_one(app: Flask, paid) -> None:  # type: ignore[no-untyped-def]
    """R-QD-7 privacy: a wrong name for a real payer's ID, an ID with no Qingdao payment and an unknown ID all read
    the same sentence; nothing of the payer is shown; what was typed is kept; refusals are audited."""
    worker, friend = paid["worker"], paid["friend"]
    b = sst(app, friend)
    pages = []
    for name, number in (
        ("李四", worker.id_number),  # wrong name for a real payer
        (friend.name, friend.id_number),  # the issuer themselves via 代他人: counts as 为自己开具, no payments
        ("王五", id_number(date(1990, 1, 1), area="370202")),  # nobody known
    ):
        r = ask(b, mode="other", name=name, id_number=number)
        assert r.status_code == 422
        pages.append(text(r))
    assert "未查询到该人员在青岛的社保费缴费信息" in pages[0] and "未查询到该人员在青岛的社保费缴费信息" in pages[2]
    assert "2026-09" not in pages[0] and "¥" not in pages[0]
    assert f'value="{worker.id_number}"' in pages[0] and 'value="李四"' in pages[0]
    assert "未查询到您在青岛的社保费缴费信息" in pages[1]
    assert len(audits(app, "qd.certificate.lookup_refused")) == 2


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"mode": "other", "name": "张青", "id_number": ""}, "请填写人员身份证号"),
        ({"mode": "other", "name": "张青", "id_number": "37020219850505123"}, "居民身份证号码应为18位"),
        ({"mode": "other", "name": "", "id_number": "110105198001010011"}, "代他人开具请填写该人员的姓名"),
        ({"start": "", "end": ""}, "请选择费款所属期"),
        ({"start": "2026-13", "end": "2026-11"}, "费款所属期格式应为YYYY-MM"),
        ({"start": "2026-11", "end": "2026-01"}, "起始所属期不能晚于截止所属期"),
    ],
)
def test_R_QD_7_bad_input_is_said_on_the_form_with_what_was_typed(app: Flask, paid, form, message) -> None:  # type: ignore[no-untyped-def]
    """R-QD-7: a malformed or missing ID, a missing name, a bad period: a message in the handbook's words, 422,
    the typed values kept, nothing issued."""
    b = sst(app, paid["worker"])
    r = ask(b, **form)
    assert r.status_code == 422 and message in text(r), text(r)
    for v in form.values():
        if v:
            assert f'value="{v}"' in text(r)
    with app.extensions["db_sessionmaker"]() as s:
        assert s.scalar(select(Certificate.id)) is None


def test_R_QD_7_a_period_with_nothing_to_certify(app: Flask, paid) -> None:  # type: ignore[no-untyped-def]
    """R-QD-7: a period with no posted payment: 查询 and 开具 both say so; nothing issued."""
    b = sst(app, paid["worker"])
    for action in ("query", "issue"):
        r = ask(b, start="2025-01", end="2025-12", action=action)
        assert r.status_code == 422 and "所选费款所属期内没有已入库的社保费缴费记录" in text(r)
        assert 'value="2025-01"' in text(r)
    with app.extensions["db_sessionmaker"]() as s:
        assert s.scalar(select(Certificate.id)) is None


def test_R_QD_7_lookups_for_others_are_rate_limited_per_client_and_per_id(app: Flask, paid) -> None:  # type: ignore[no-untyped-def]
    """R-QD-7: wrong 代他人 look-ups are counted per client and per ID before they are judged: enumeration stops
    with 429, and a right look-up does not count."""
    app.config["RATELIMIT_LOOKUP"] = "3 per minute"
    b = sst(app, paid["friend"])
    assert ask(b, mode="other", name="张青", id_number=paid["worker"].id_number).status_code == 200
    statuses = [
        ask(b, mode="other", name="某某", id_number=id_number(date(1990, 1, 1), area="370202")).status_code
        for _ in range(4)
    ]
    assert statuses == [422, 422, 422, 429]
    app.config["RATELIMIT_QD_PER_ID"] = "2 per 10 minutes"
    target = paid["worker"].id_number
    others = [sst(app, p) for p in _people(app, 3)]
    assert [ask(o, mode="other", name="错名", id_number=target).status_code for o in others] == [422, 422, 429]


def _people(app: Flask, n: int) -> list:  # type: ignore[type-arg]
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        people = [make_person(s, f"路人{i}") for i in range(n)]
        s.commit()
    return people


def test_R_QD_7_pages_stay_within_the_statement_budget(app: Flask, paid) -> None:  # type: ignore[no-untyped-def]
    """Issue 12's budget holds for 社保费完税证明's form and the issued certificate's page."""
    from tests.views.test_query_budget import SERVICE_BUDGET, statements

    b = sst(app, paid["worker"])
    assert len(statements(b, "/qd/certificates")) <= SERVICE_BUDGET
    r = ask(b, action="issue")
    seen = statements(b, r.location)
    assert len(seen) <= SERVICE_BUDGET, seen
