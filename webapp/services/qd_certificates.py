"""税税通 · 社保费完税证明 (seed 002 §五, R-QD-7): 为自己开具 or 代他人开具 — 填写人员身份证号, 选择费款所属期,
查询, 开具 → the 完税（费）证明 PDF. Use cases over a Session; they flush, the request commits.

Decisions (docs/qingdao-certificates.md):

- The issuer is the app's real-name user (税税通 asks for its own login first, seed 002 第一步: reuse ours).
- **Standing for another person**: the handbook asks only for the 人员身份证号; we also ask for the person's 姓名,
  and it must be the document holder's in the identity register (as Qingdao's entry asks, R-QD-2). An ID whose
  holder is not named, has no Qingdao payment, or does not exist all read the same sentence, so a lookup says
  nothing about a person the issuer could not name; what a match shows (dates, 险种, amounts) is no more than
  the public accounts show to whoever types that name and ID. Look-ups are counted per client and per ID
  before they are judged (the view's budgets).
- One certificate covers every posted Qingdao payment of the person in the 费款所属期 range, issued by the
  region's certificate issuer (国家税务总局青岛市税务局, ``domain.regions``), with its title and number prefixes;
  lines keep their own 征收税务机关. It is made at once (开具 → 即可下载), password-protected and verifiable at
  ``/verify`` like Beijing's (R-CE-4/5); the password is the last 6 characters of the payer's own ID.
- Each issue is audited: ``qd.certificate.issued`` with the issuer as actor and the person it is for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from ..db import atomic
from ..domain import certificates as rules
from ..domain.calendar import BEIJING, Month
from ..domain.errors import NotFound, RuleViolation
from ..domain.regions import QINGDAO
from ..domain.schemes import SchemeCode
from ..domain.statuses import CertificateStatus
from ..models import Certificate, CertificateItem, Person, Receivable, SettledPayment
from . import certificates as certs
from .audit import record
from .identity import holder

SELF, OTHER = "self", "other"
MODES = {SELF: "为自己开具", OTHER: "代他人开具"}
MSG_NO_PERSON = "未查询到该人员在青岛的社保费缴费信息，请核对人员身份证号和姓名"
MSG_NOTHING = "所选费款所属期内没有已入库的社保费缴费记录，暂不能开具完税（费）证明"
MSG_OWN_NONE = "未查询到您在青岛的社保费缴费信息"
MSG_NAME = "代他人开具请填写该人员的姓名"


def _has_qingdao_payment(session: Session, person_id: int) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    SettledPayment.receivable_id == Receivable.id,
                    Receivable.insured_id == person_id,
                    Receivable.scheme == SchemeCode.QINGDAO,
                )
            )
        )
    )


def subject(session: Session, issuer: Person, mode: str, name: str, id_number: str, key: bytes) -> Person:
    """Whose payments are certified: the issuer (为自己开具), or the person a name + 身份证号 name (代他人开具) when
    the name is the register's holder of that ID and the person has paid in Qingdao; ``RuleViolation`` with one
    sentence otherwise (no answer tells an unknown ID from a wrong name)."""
    if mode == SELF or (id_number == issuer.id_number and issuer.id_type == "resident_id"):
        if not _has_qingdao_payment(session, issuer.id):
            raise RuleViolation(MSG_OWN_NONE)
        return issuer
    if not name:
        raise RuleViolation(MSG_NAME)
    if holder(session, "resident_id", id_number, key).name != name:
        raise RuleViolation(MSG_NO_PERSON)
    person = session.scalar(select(Person).where(Person.id_type == "resident_id", Person.id_number == id_number))
    if person is None or not _has_qingdao_payment(session, person.id):
        raise RuleViolation(MSG_NO_PERSON)
    return person


@dataclass(frozen=True)
class Line:
    """One row 查询 shows: 费款所属期, 险种, amount, 入库日期 (no numbers: R-QD-2's 'dates, insurance, amounts')."""

    fee_period: str
    insurance: str
    amount_fen: int
    posted_on: str


def _qingdao(items: list[SettledPayment]) -> list[SettledPayment]:
    return [p for p in items if p.receivable.scheme == SchemeCode.QINGDAO]


def query(session: Session, person_id: int, start: Month, end: Month) -> tuple[list[SettledPayment], int]:
    """查询: the person's posted Qingdao payments in the range, and how many are paid but not posted yet."""
    posted, waiting = certs.print_items(session, person_id, start, end)
    return _qingdao(posted), len(_qingdao(waiting))


def lines(items: list[SettledPayment]) -> list[Line]:
    """What 查询 lists of the items."""
    from ..domain.qingdao import INSURANCE_LABELS

    return [
        Line(
            f"{p.receivable.fee_period_start:%Y-%m}",
            INSURANCE_LABELS.get(p.receivable.insurance, p.receivable.insurance),
            p.amount_fen,
            str(p.posted_on),
        )
        for p in items
    ]


@atomic
def issue(
    session: Session,
    issuer: Person,
    person: Person,
    start: Month,
    end: Month,
    now: datetime,
    settings: certs.MakeSettings,
) -> Certificate:
    """开具: fix the person's posted Qingdao payments of the range into a certificate of the region, audit who
    issued it for whom, and make it now (制作成功, or 制作失败 with the reason: the caller says which)."""
    if start > end:
        raise RuleViolation("起始所属期不能晚于截止所属期")
    items, _ = query(session, person.id, start, end)
    if not items:
        raise RuleViolation(MSG_NOTHING)
    cert = Certificate(
        payer_id=person.id,
        issuer_id=None if person.id == issuer.id else issuer.id,
        region=QINGDAO.code,
        tax_office=QINGDAO.certificate_issuer,
        period_start=min(p.receivable.fee_period_start for p in items),
        period_end=max(p.receivable.fee_period_end for p in items),
        check_code=certs.unique_check_code(session),
        total_fen=sum(p.amount_fen for p in items),
        status=CertificateStatus.MAKING,
        requested_at=now,
    )
    session.add(cert)
    session.flush()
    cert.number = rules.certificate_number(now.astimezone(BEIJING).date(), cert.id, QINGDAO.code)
    session.add_all(CertificateItem(certificate_id=cert.id, settled_payment_id=p.id) for p in items)
    mode = SELF if person.id == issuer.id else OTHER
    record(
        session,
        "qd.certificate.issued",
        str(cert.id),
        f"{MODES[mode]} for person {person.id} by person {issuer.id}: {start}..{end}, {len(items)} items",
        issuer.id,
    )
    session.flush()
    made = certs.make(session, cert.id, settings, now)
    assert made is not None
    return made


def certificate_for(session: Session, user_id: int, certificate_id: int) -> Certificate:
    """A Qingdao certificate the user issued or is the payer of; ``NotFound`` for anyone else's."""
    cert = session.get(Certificate, certificate_id)
    if cert is None or cert.region != QINGDAO.code or user_id not in (cert.payer_id, cert.issuer_id):
        raise NotFound(certificate_id)
    return cert
