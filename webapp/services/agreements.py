"""缴费协议 (R-AG-1 … R-AG-8): signing one with the payer's own bank account for one 税务机关, revoking it,
which agreements may pay what, and the bureau's changes that make them 失效.

Signing checks what it can before asking the bank (a 税务机关 of the payer's own enrolments, the bank's
region and branch, the cardholder's name against the payer's, the card number's length and Luhn digit),
then the bank checks the account itself. A new agreement takes effect the next day (次日生效).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..db import atomic
from ..domain import banks
from ..domain.errors import NotFound, RuleViolation
from ..domain.statuses import AgreementStatus, EnrolmentStatus
from ..models import Agreement, Enrolment, Person
from ..payments.bank import BankAdapter
from ..payments.base import PaymentError
from .audit import record

STATUS_LABELS = {
    "effective": "签订成功",
    "tomorrow": "次日生效",
    AgreementStatus.REVOKED: "已撤销",
    AgreementStatus.INVALID: "失效",
}
BATCH_TIP = (
    "温馨提示：是否银行代扣选择是，银行根据税务系统生成的社保费缴费清单，自动从指定银行账户中"
    "划扣资金。若选择否，您仍需进入本系统进行社保费实时缴费，在支付方式选择时，可选择协议缴费支付。"
    "请认真核对身份信息后，再进行下一步操作！"
)
ACCOUNT_TIP = (
    "温馨提示：办理协议新增业务，请填写本人的银行账号信息，以免扣款失败；如发现姓名不一致，"
    "请去人社大厅办理姓名变更业务。本功能签订协议仅限于缴费人本人账户，非本人账户请前往银行柜面签约。"
)


def status_label(a: Agreement, today: date) -> str:
    """签订成功, 次日生效, 已撤销 or 失效, as the list shows it (R-AG-2, R-AG-5)."""
    if a.status is AgreementStatus.SIGNED:
        return STATUS_LABELS["effective" if a.effective_on <= today else "tomorrow"]
    return STATUS_LABELS[a.status]


def offices(session: Session, person_id: int) -> dict[str, str]:
    """税务机关 → 社保经办机构 of the payer's own enrolments (the only ones an agreement may name)."""
    rows = session.execute(
        select(Enrolment.tax_office, Enrolment.si_agency)
        .where(Enrolment.person_id == person_id, Enrolment.status == EnrolmentStatus.ACTIVE)
        .order_by(Enrolment.id)
    )
    return {office: agency for office, agency in rows}


def list_for(session: Session, payer_id: int) -> list[Agreement]:
    """The payer's agreements, newest first."""
    return list(
        session.scalars(
            select(Agreement)
            .where(Agreement.payer_id == payer_id)
            .order_by(Agreement.signed_at.desc(), Agreement.id.desc())
        )
    )


def agreement_of(session: Session, payer_id: int, agreement_id: int) -> Agreement:
    """One of the payer's agreements; ``NotFound`` for anyone else's."""
    a = session.get(Agreement, agreement_id)
    if a is None or a.payer_id != payer_id:
        raise NotFound(agreement_id)
    return a


def usable(session: Session, payer_id: int, tax_office: str, today: date) -> list[Agreement]:
    """Agreements that may pay a receivable of this 税务机关 today: signed, in effect, not revoked or 失效
    (R-AG-4, R-AG-5, R-AG-6)."""
    return list(
        session.scalars(
            select(Agreement)
            .where(
                Agreement.payer_id == payer_id,
                Agreement.tax_office == tax_office,
                Agreement.status == AgreementStatus.SIGNED,
                Agreement.effective_on <= today,
            )
            .order_by(Agreement.id)
        )
    )


def taking_effect(session: Session, payer_id: int, tax_office: str, today: date) -> list[Agreement]:
    """Agreements of this 税务机关 signed but not yet in effect (次日生效, R-AG-5): the payer is told when
    协议支付 opens instead of being asked to sign one again."""
    return list(
        session.scalars(
            select(Agreement)
            .where(
                Agreement.payer_id == payer_id,
                Agreement.tax_office == tax_office,
                Agreement.status == AgreementStatus.SIGNED,
                Agreement.effective_on > today,
            )
            .order_by(Agreement.effective_on, Agreement.id)
        )
    )


def batch_agreement_exists(payer_id: int, today: date, tax_office: Any) -> sa.Exists:
    """``has_batch_agreement`` as an EXISTS to put into another query (``tax_office`` may be a column)."""
    return sa.exists().where(
        Agreement.payer_id == payer_id,
        Agreement.batch_debit.is_(True),
        Agreement.status == AgreementStatus.SIGNED,
        Agreement.effective_on <= today,
        Agreement.tax_office == tax_office,
    )


def has_batch_agreement(session: Session, payer_id: int, today: date, tax_office: str | None = None) -> bool:
    """Does the payer have an agreement in effect that the batch debit uses (是否银行代扣 = 是)?"""
    stmt = select(Agreement.id).where(
        Agreement.payer_id == payer_id,
        Agreement.batch_debit.is_(True),
        Agreement.status == AgreementStatus.SIGNED,
        Agreement.effective_on <= today,
    )
    if tax_office is not None:
        stmt = stmt.where(Agreement.tax_office == tax_office)
    return session.scalar(stmt.limit(1)) is not None


@dataclass(frozen=True)
class SignForm:
    """新增协议 as typed (税务机关, 开户银行, 银行行政区划, 银行网点, 持卡人姓名, 银行账号, 是否银行代扣)."""

    tax_office: str
    bank: str
    bank_region: str
    branch: str
    holder: str
    card_number: str
    batch_debit: bool


def check(session: Session, person: Person, form: SignForm) -> dict[str, str]:
    """What is wrong with the form, field by field (empty when it may go to the bank)."""
    errors: dict[str, str] = {}
    if form.tax_office not in offices(session, person.id):
        errors["tax_office"] = "请选择税务机关（须为您参保登记的主管税务机关）"
    if form.bank not in banks.banks():
        errors["bank"] = "请选择开户银行"
    elif form.bank_region not in banks.regions(form.bank):
        errors["bank_region"] = "请选择银行行政区划"
    elif form.branch not in banks.branches(form.bank, form.bank_region):
        errors["branch"] = "请选择银行网点"
    if not form.holder.strip():
        errors["holder"] = "请输入持卡人姓名"
    elif form.holder.strip() != person.name:
        errors["holder"] = "签约失败：持卡人姓名须与缴费人姓名一致，请使用本人的银行卡"
    if "bank" not in errors:
        try:
            banks.normalize_card(form.bank, form.card_number)
        except RuleViolation as e:
            errors["card_number"] = str(e)
    return errors


def _digest(card_number: str) -> str:
    return hashlib.sha256(card_number.encode()).hexdigest()


@atomic
def sign(session: Session, bank: BankAdapter, person: Person, form: SignForm, now: datetime) -> Agreement:
    """提交 on 新增协议: the bank signs, the agreement takes effect the next day (R-AG-1 … R-AG-5).

    ``RuleViolation`` with the reason when the form or the bank refuses; nothing is written then.
    """
    errors = check(session, person, form)
    if errors:
        raise RuleViolation(next(iter(errors.values())))
    card = banks.normalize_card(form.bank, form.card_number)
    digest = _digest(card)
    existing = session.scalar(
        select(Agreement).where(
            Agreement.payer_id == person.id,
            Agreement.account_digest == digest,
            Agreement.tax_office == form.tax_office,
            Agreement.status == AgreementStatus.SIGNED,
        )
    )
    if existing is not None:
        raise RuleViolation("该银行账户已签订本税务机关的缴费协议，无需重复签订")
    request_no = hashlib.sha256(f"{person.id}:{digest}:{form.tax_office}:{now.date()}".encode()).hexdigest()[:32]
    try:
        result = bank.sign_agreement(
            request_no, bank=form.bank, card_number=card, holder=form.holder.strip(), id_number=person.id_number
        )
    except PaymentError as e:
        raise RuleViolation("银行暂时无法受理签约，请稍后重试") from e
    if not result.ok:
        raise RuleViolation(f"签约失败：{result.message}")
    a = Agreement(
        agreement_no=result.agreement_no,
        payer_id=person.id,
        tax_office=form.tax_office,
        si_agency=offices(session, person.id)[form.tax_office],
        bank=form.bank,
        bank_region=form.bank_region,
        branch=form.branch,
        holder=form.holder.strip(),
        account_masked=banks.mask_card(card),
        account_digest=digest,
        batch_debit=form.batch_debit,
        signed_at=now,
        effective_on=now.date() + timedelta(days=1),
    )
    session.add(a)
    session.flush()
    record(session, "agreement.signed", a.agreement_no, f"{form.bank} {a.account_masked}", person.id)
    return a


def revoke(session: Session, bank: BankAdapter, a: Agreement, now: datetime) -> None:
    """撤销 (after the in-page confirmation): it pays nothing and the batch debit skips it (R-AG-6)."""
    if a.status is AgreementStatus.REVOKED:
        raise RuleViolation("该协议已撤销，无需再次撤销")
    if a.status is AgreementStatus.INVALID:
        raise RuleViolation("该协议已失效，无需撤销")
    try:
        bank.revoke_agreement(a.agreement_no)
    except PaymentError:
        pass  # ours is what counts: no order or batch debit uses a revoked agreement; the bank is told again later
    a.status, a.ended_at, a.end_reason = AgreementStatus.REVOKED, now, "缴费人撤销"
    record(session, "agreement.revoked", a.agreement_no, "", a.payer_id)


def invalidate(
    session: Session,
    person_id: int,
    reason: str,
    now: datetime,
    *,
    tax_office: str | None = None,
    account_digest: str | None = None,
) -> int:
    """Mark agreements 失效 after a change the bureau or the bank reports (R-AG-8); returns how many."""
    stmt = update(Agreement).where(Agreement.payer_id == person_id, Agreement.status == AgreementStatus.SIGNED)
    if tax_office is not None:
        stmt = stmt.where(Agreement.tax_office == tax_office)
    if account_digest is not None:
        stmt = stmt.where(Agreement.account_digest == account_digest)
    n = session.execute(
        stmt.values(status=AgreementStatus.INVALID, ended_at=now, end_reason=reason[:200]).execution_options(
            synchronize_session=False
        )
    ).rowcount
    if n:
        record(session, "agreement.invalidated", str(person_id), reason, None)
    return n


@atomic
def bureau_change(
    session: Session,
    person: Person,
    now: datetime,
    *,
    name: str | None = None,
    id_number: str | None = None,
    si_agency: tuple[str, str] | None = None,
) -> int:
    """The bureau reports a change of name, document or 社保经办机构 (``(scheme, agency)``): apply it and make the
    affected agreements 失效; the payer must sign again (R-AG-8, seed 000 Q51–52). Returns how many."""
    changed = 0
    if name and name != person.name:
        person.name = name
        changed += invalidate(session, person.id, "缴费人姓名变更，请重新签订缴费协议", now)
    if id_number and id_number != person.id_number:
        person.id_number = id_number
        changed += invalidate(session, person.id, "缴费人证件信息变更，请重新签订缴费协议", now)
    if si_agency is not None:
        scheme, agency = si_agency
        e = session.scalar(select(Enrolment).where(Enrolment.person_id == person.id, Enrolment.scheme == scheme))
        if e is None:
            raise RuleViolation("未查询到该人员的参保信息")
        if e.si_agency != agency:
            e.si_agency = agency
            changed += invalidate(
                session, person.id, "社保经办机构变更，请重新签订缴费协议", now, tax_office=e.tax_office
            )
    session.flush()
    return changed


def account_changed(session: Session, person_id: int, card_number: str, now: datetime) -> int:
    """The bank reports the account closed or changed: its agreements become 失效 (R-AG-8)."""
    return invalidate(session, person_id, "银行账户变更，请重新签订缴费协议", now, account_digest=_digest(card_number))
