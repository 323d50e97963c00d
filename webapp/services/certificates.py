"""Treasury posting (入库) and payment certificates (缴费证明): 记录打印, 证明申请, making, 记录下载, 记录查验
(R-CE-2 … R-CE-6). Use cases over a Session; they flush, the caller commits.

- ``post_due`` posts paid items whose posting day has come (the job, and the demo seed).
- ``apply`` fixes the posted items of one 税务机关 in a 费款所属期 range into a request, 制作中.
- ``make`` draws, encrypts and stores the PDF and its page images once: 制作成功, or 制作失败 with the
  reason; ``retry`` (重新制作) puts a failed request back to 制作中.
- ``verify`` finds a made certificate by 纳税人识别号 and 证明校验码 (or the QR code's key).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import orm, select
from sqlalchemy.orm import Session

from ..db import atomic
from ..documents.fonts import DEFAULT_FONT_PATH, FontMissing
from ..domain import certificates as rules
from ..domain.calendar import BEIJING, Month
from ..domain.errors import NotFound, RuleViolation
from ..domain.identity import ID_TYPES
from ..domain.levy import levy_of
from ..domain.regions import region as region_of
from ..domain.statuses import CertificateStatus
from ..models import (
    Certificate,
    CertificateItem,
    CertificatePage,
    Enrolment,
    Person,
    QdInsured,
    Receivable,
    SettledPayment,
)
from .audit import record

log = logging.getLogger(__name__)
MSG_NOTHING_POSTED = "所选征收税务机关在该费款所属期内没有已入库的缴费记录，暂不能开具缴费证明"
MSG_FAILED = "制作失败，系统异常，请稍后再试"
MSG_NO_FONT = "制作失败，系统缺少证明所需的中文字体，请联系管理员后再试"
POST_BATCH = 1000


# ------------------------------------------------------------------------------------------ posting (R-CE-2)


def available_on(p: SettledPayment) -> date:
    """When a paid item is (or will be) posted, and so certifiable."""
    return p.posted_on or rules.posting_date(p.paid_at)


def last_postable_day(today: date) -> date:
    """The last payment day whose items are posted by ``today``: what the minute job reads stops there, so
    the items paid since (not due yet) are not read every minute (the unposted ones go by the index)."""
    day = today - timedelta(days=1)
    while rules.posting_date(day) > today:
        day -= timedelta(days=1)
    return day


def _post_batch(session: Session, today: date, after_id: int) -> tuple[int, int | None]:
    """Post one batch of due items with ids above ``after_id``, skipping rows another worker is posting; returns
    (how many were posted, the last id read, or None when nothing was left to read)."""
    cutoff = datetime.combine(last_postable_day(today) + timedelta(days=1), time.min, BEIJING)
    batch = list(
        session.scalars(
            select(SettledPayment)
            .where(SettledPayment.posted_on.is_(None), SettledPayment.paid_at < cutoff, SettledPayment.id > after_id)
            .order_by(SettledPayment.id)
            .limit(POST_BATCH)
            .with_for_update(skip_locked=True)
        )
    )
    if not batch:
        return 0, None
    posted = 0
    regions = _regions_of(session, [p.receivable_id for p in batch])
    for p in batch:
        on = rules.posting_date(p.paid_at)
        if on <= today:
            p.posted_on, p.e_ticket_no = on, rules.e_ticket_no(on, p.id, regions.get(p.receivable_id, "beijing"))
            posted += 1
    session.flush()
    return posted, batch[-1].id


def _regions_of(session: Session, receivable_ids: list[int]) -> dict[int, str]:
    """The region each receivable's enrolment is in (its 电子税票号码 prefix, ``domain.regions``): one statement."""
    rows = session.execute(
        select(Receivable.id, Enrolment.region)
        .join(Enrolment, Enrolment.id == Receivable.enrolment_id)
        .where(Receivable.id.in_(receivable_ids))
    )
    return {rid: region for rid, region in rows}


def post_due(session: Session, today: date) -> int:
    """入库: give every paid item whose posting day has come its 入(退)库日期 and 电子税票号码; returns how
    many. Idempotent: a posted item is never touched again."""
    posted = 0
    more: int | None = 0  # the last id read; None when nothing was left
    while more is not None:
        n, more = _post_batch(session, today, more)
        posted += n
    return posted


def post_due_in_batches(sessions: Callable[[], Session], today: date) -> int:
    """``post_due`` as the job runs it: each batch its own transaction, so a worker killed half-way keeps what it
    posted and holds nothing; rows another worker is posting are skipped (FOR UPDATE SKIP LOCKED), so two job
    consumers share the work instead of waiting on each other. Returns how many were posted."""
    posted = 0
    more: int | None = 0  # the last id read; None when nothing was left
    while more is not None:
        with sessions() as s:
            n, more = _post_batch(s, today, more)
            s.commit()
        posted += n
    return posted


# ------------------------------------------------------------------------------------------ 记录打印


def _mine_between(person_id: int, start: Month, end: Month):
    if start > end:
        raise RuleViolation("起始所属期不能晚于截止所属期")
    return (
        select(SettledPayment)
        .join(Receivable)
        .options(orm.contains_eager(SettledPayment.receivable))
        .where(
            Receivable.insured_id == person_id,
            Receivable.fee_period_start <= end.first_day,
            Receivable.fee_period_end >= start.first_day,
        )
    )


def posted_items(
    session: Session, person_id: int, start: Month, end: Month, tax_office: str | None = None
) -> list[SettledPayment]:
    """The person's own posted items whose 费款所属期 falls in the range (R-CE-2, R-CE-6: one's own fees,
    whoever paid them), by 税务机关 and period."""
    stmt = _mine_between(person_id, start, end).where(SettledPayment.posted_on.is_not(None))
    if tax_office is not None:
        stmt = stmt.where(Receivable.tax_office == tax_office)
    return list(
        session.scalars(
            stmt.order_by(Receivable.tax_office, Receivable.fee_period_start, Receivable.insurance, SettledPayment.id)
        )
    )


def waiting_items(session: Session, person_id: int, start: Month, end: Month) -> list[SettledPayment]:
    """Paid but not posted yet: the page says when each will be available."""
    stmt = _mine_between(person_id, start, end).where(SettledPayment.posted_on.is_(None))
    return list(session.scalars(stmt.order_by(SettledPayment.paid_at)))


def print_items(
    session: Session, person_id: int, start: Month, end: Month
) -> tuple[list[SettledPayment], list[SettledPayment]]:
    """记录打印 in one query: (posted items as ``posted_items`` orders them, items waiting as ``waiting_items``)."""
    rows = list(session.scalars(_mine_between(person_id, start, end)))
    posted = sorted(
        (p for p in rows if p.posted_on is not None),
        key=lambda p: (p.receivable.tax_office, p.receivable.fee_period_start, p.receivable.insurance, p.id),
    )
    waiting = sorted((p for p in rows if p.posted_on is None), key=lambda p: (p.paid_at, p.id))
    return posted, waiting


def by_tax_office(items: list[SettledPayment]) -> dict[str, list[SettledPayment]]:
    """The 记录打印 table grouped by 征收税务机关 (one certificate each, R-CE-6)."""
    groups: dict[str, list[SettledPayment]] = {}
    for p in items:
        groups.setdefault(p.receivable.tax_office, []).append(p)
    return groups


def unique_check_code(session: Session) -> str:
    """A 证明校验码 no certificate has yet."""
    for _ in range(10):
        code = rules.new_check_code()
        if session.scalar(select(Certificate.id).where(Certificate.check_code == code)) is None:
            return code
    raise RuntimeError("no free check code after 10 draws")  # pragma: no cover - 10^-150


MSG_NONE_CHOSEN = "请勾选需要开具的缴费记录"


@atomic
def apply(
    session: Session,
    person: Person,
    tax_office: str,
    start: Month,
    end: Month,
    now: datetime,
    payment_ids: list[int] | None = None,
) -> Certificate:
    """开具缴费记录 for one 税务机关: the posted items the payer ticked (勾选缴费记录, seed 000 §6; every posted item
    of the range when ``payment_ids`` is None) are fixed now; the request starts 制作中 (R-CE-3). Its 费款所属期 is
    the items' own, from the first item's start to the last one's end."""
    items = posted_items(session, person.id, start, end, tax_office)
    if not items:
        raise RuleViolation(MSG_NOTHING_POSTED)
    if payment_ids is not None:
        chosen = set(payment_ids)
        items = [p for p in items if p.id in chosen]
        if not chosen:
            raise RuleViolation(MSG_NONE_CHOSEN)
        if len(items) != len(chosen):
            raise RuleViolation("所选缴费记录有误，请刷新后重新勾选")
    cert = Certificate(
        payer_id=person.id,
        tax_office=tax_office,
        period_start=min(p.receivable.fee_period_start for p in items),
        period_end=max(p.receivable.fee_period_end for p in items),
        check_code=unique_check_code(session),
        total_fen=sum(p.amount_fen for p in items),
        status=CertificateStatus.MAKING,
        requested_at=now,
    )
    session.add(cert)
    session.flush()
    cert.number = rules.certificate_number(now.astimezone(BEIJING).date(), cert.id)
    session.add_all(CertificateItem(certificate_id=cert.id, settled_payment_id=p.id) for p in items)
    record(session, "certificate.requested", str(cert.id), f"{tax_office} {start}..{end} {len(items)}", person.id)
    session.flush()
    return cert


# ------------------------------------------------------------------------------------------ 记录下载


def certificates_between(session: Session, payer_id: int, start: date, end: date) -> list[Certificate]:
    """The payer's requests by 申请日期, newest first (R-CE-3)."""
    if start > end:
        raise RuleViolation("起始日期不能晚于截止日期")
    lo, hi = datetime.combine(start, time.min, BEIJING), datetime.combine(end, time.max, BEIJING)
    return list(
        session.scalars(
            select(Certificate)
            .where(Certificate.payer_id == payer_id, Certificate.requested_at >= lo, Certificate.requested_at <= hi)
            .order_by(Certificate.requested_at.desc(), Certificate.id.desc())
        )
    )


def certificate_of(session: Session, payer_id: int, certificate_id: int) -> Certificate:
    """One of the payer's requests; ``NotFound`` for anyone else's (the view answers 404)."""
    cert = session.get(Certificate, certificate_id)
    if cert is None or cert.payer_id != payer_id:
        raise NotFound(certificate_id)
    return cert


def pdf_of(session: Session, cert: Certificate) -> bytes:
    """The made PDF; ``RuleViolation`` while it is not made."""
    if cert.status is not CertificateStatus.MADE:
        raise RuleViolation("缴费证明尚未制作成功，请在制作成功后再下载")
    pdf = session.scalar(select(Certificate.pdf).where(Certificate.id == cert.id))
    assert pdf is not None
    return pdf


def page_png(session: Session, cert: Certificate, page_no: int) -> bytes:
    """One page image of a made certificate; ``NotFound`` for a page it does not have."""
    if cert.status is not CertificateStatus.MADE:
        raise RuleViolation("缴费证明尚未制作成功，请稍后查看")
    png = session.scalar(
        select(CertificatePage.png).where(CertificatePage.certificate_id == cert.id, CertificatePage.page_no == page_no)
    )
    if png is None:
        raise NotFound(page_no)
    return png


@atomic
def retry(session: Session, cert: Certificate, actor_id: int) -> None:
    """重新制作: a failed request goes back to 制作中 (R-CE-3)."""
    if cert.status is not CertificateStatus.FAILED:
        raise RuleViolation("只有制作失败的证明可以重新制作")
    cert.status, cert.failure_reason, cert.attempts = CertificateStatus.MAKING, None, 0
    record(session, "certificate.retried", str(cert.id), "", actor_id)


# ------------------------------------------------------------------------------------------ making


@dataclass(frozen=True)
class MakeSettings:
    """What making needs from the configuration."""

    base_url: str  # PUBLIC_BASE_URL, for the QR code
    secret: str  # SECRET_KEY, for the QR code's key
    font_path: str = DEFAULT_FONT_PATH


def document_of(cert: Certificate, settings: MakeSettings) -> rules.CertificateDoc:
    """What the certificate prints, from its fixed items."""
    payer = cert.payer
    lines = []
    # 人员编号 in Qingdao is the 个人参保编号 of the line's 险种类型 (seed 002); Beijing's is the person's.
    qd_numbers: dict[str, str] = {}
    if cert.region == "qingdao" and (session := orm.object_session(cert)) is not None:
        rows = session.scalars(select(QdInsured).where(QdInsured.person_id == cert.payer_id))
        qd_numbers = {q.insurance: q.insured_no for q in rows}
    for item in sorted(cert.items, key=lambda i: (i.payment.receivable.fee_period_start, i.payment.id)):
        p = item.payment
        r = p.receivable
        levy = levy_of(r.insurance, r.enrolment.category)
        assert p.posted_on is not None and p.e_ticket_no is not None
        lines.append(
            rules.CertificateLine(
                tax_office=r.tax_office,
                e_ticket_no=p.e_ticket_no,
                si_agency=r.si_agency,
                unit_no="",  # 单位编号 is an employer's: blank for a person paying for themselves, as in the guide
                person_no=qd_numbers.get(r.insurance) or r.insured.person_no or "",
                item=levy.item,
                subject=levy.subject,
                subitem=levy.subitem,
                period=rules.period_text(r.fee_period_start, r.fee_period_end),
                posted_on=p.posted_on,
                amount=p.amount,
            )
        )
    key = rules.verify_key(settings.secret, cert.check_code, payer.id_number)
    return rules.CertificateDoc(
        title=region_of(cert.region).certificate_title,
        number=cert.number or "",
        check_code=cert.check_code,
        payer_name=payer.name,
        id_type_label=ID_TYPES.get(payer.id_type, payer.id_type),
        id_number=payer.id_number,
        tax_office=cert.tax_office,
        issued_on=cert.requested_at.astimezone(BEIJING).date(),
        issued_at=cert.requested_at.astimezone(BEIJING),
        period=rules.period_text(cert.period_start, cert.period_end),
        verify_url=f"{settings.base_url}/verify?code={cert.check_code}&k={key}",
        lines=tuple(lines),
    )


#: A request whose making was started this many times without an outcome (the worker killed while drawing it)
#: is 制作失败 with the reason, never 制作中 for ever; 重新制作 starts the count again.
MAX_ATTEMPTS = 3


def make(
    session: Session, certificate_id: int, settings: MakeSettings, now: datetime, *, counted: bool = False
) -> Certificate | None:
    """Make a 制作中 certificate (row locked, so two workers never make it twice; one another worker is making is
    left to it, None): 制作成功 with the PDF and page images stored, or 制作失败 with the reason. Anything else is
    left alone. ``counted``: the attempt was counted already (``make_now``)."""
    cert = session.scalar(select(Certificate).where(Certificate.id == certificate_id).with_for_update(skip_locked=True))
    if cert is None or cert.status is not CertificateStatus.MAKING:
        return cert
    if not counted:
        cert.attempts += 1
    from ..documents import certificate as document  # reportlab, pypdf, segno: loaded where PDFs are made

    try:
        made = document.render(document_of(cert, settings), settings.font_path)
    except FontMissing as e:
        log.error("certificate %s: %s", cert.id, e)
        cert.status, cert.failure_reason = CertificateStatus.FAILED, MSG_NO_FONT
        return cert
    except Exception:
        log.exception("certificate %s could not be made", cert.id)
        cert.status, cert.failure_reason = CertificateStatus.FAILED, MSG_FAILED
        return cert
    session.execute(CertificatePage.__table__.delete().where(CertificatePage.certificate_id == cert.id))
    session.add_all(
        CertificatePage(certificate_id=cert.id, page_no=n, png=png) for n, png in enumerate(made.pages, start=1)
    )
    cert.pdf, cert.page_count = made.pdf, made.page_count
    cert.status, cert.failure_reason, cert.made_at = CertificateStatus.MADE, None, now
    record(session, "certificate.made", str(cert.id), f"{made.page_count} pages", cert.payer_id)
    session.flush()
    return cert


def make_now(
    sessionmaker: Callable[[], Session], certificate_id: int, settings: MakeSettings, now: datetime
) -> CertificateStatus | None:
    """``make`` in a transaction of its own (the background job's unit of work); returns the status (None when
    another worker is making it). The attempt is counted and committed before drawing starts, so a worker killed
    while drawing counts too, and ``MAX_ATTEMPTS`` of them make it 制作失败."""
    with sessionmaker() as s:
        cert = s.scalar(
            select(Certificate)
            .where(Certificate.id == certificate_id, Certificate.status == CertificateStatus.MAKING)
            .with_for_update(skip_locked=True)
        )
        if cert is None:
            return None
        if cert.attempts >= MAX_ATTEMPTS:
            log.error("certificate %s: %s attempts without an outcome", cert.id, cert.attempts)
            cert.status, cert.failure_reason = CertificateStatus.FAILED, MSG_FAILED
            s.commit()
            return CertificateStatus.FAILED
        cert.attempts += 1
        s.commit()
    with sessionmaker() as s:
        made = make(s, certificate_id, settings, now, counted=True)
        s.commit()
        return made.status if made else None


def making_ids(session: Session, requested_before: datetime) -> list[int]:
    """Requests still 制作中 that were made before ``requested_before`` (the job picks up stragglers)."""
    return list(
        session.scalars(
            select(Certificate.id)
            .where(Certificate.status == CertificateStatus.MAKING, Certificate.requested_at < requested_before)
            .order_by(Certificate.id)
        )
    )


# ------------------------------------------------------------------------------------------ 记录查验 (R-CE-5)


def verify(session: Session, id_number: str, check_code: str) -> Certificate | None:
    """A made certificate with this 证明校验码 whose payer has this document number; None otherwise (the
    caller says only 校验不通过, never which field was wrong)."""
    if not rules.is_check_code(check_code):
        return None
    cert = session.scalar(
        select(Certificate).where(Certificate.check_code == check_code, Certificate.status == CertificateStatus.MADE)
    )
    if cert is None or cert.payer.id_number.upper() != id_number.strip().upper():
        return None
    return cert


def verify_by_key(session: Session, check_code: str, key: str, secret: str) -> Certificate | None:
    """The QR code's check: the key stands for the document number (``domain.certificates.verify_key``)."""
    if not rules.is_check_code(check_code):
        return None
    cert = session.scalar(
        select(Certificate).where(Certificate.check_code == check_code, Certificate.status == CertificateStatus.MADE)
    )
    if cert is None:
        return None
    expected = rules.verify_key(secret, check_code, cert.payer.id_number)
    return cert if hmac.compare_digest(expected, key or "") else None
