"""缴费协议 (R-AG-1 … R-AG-8): signing one with the payer's own bank account for one 税务机关, revoking it,
which agreements may pay what, and the bureau's changes that make them 失效.

Signing checks what it can before asking the bank (a 税务机关 of the payer's own enrolments, the bank's
region and branch, the cardholder's name against the payer's, the card number's length and Luhn digit),
then the bank checks the account itself. A new agreement takes effect the next day (次日生效).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..db import atomic
from ..domain import agreements as rules
from ..domain import banks
from ..domain.calendar import BEIJING, Month, format_date_zh
from ..domain.errors import NotFound, RuleViolation
from ..domain.identity import ID_TYPES, normalize_id_number
from ..domain.schemes import SchemeCode
from ..domain.statuses import AgreementStatus, EnrolmentStatus, ReceivableStatus
from ..models import Agreement, Enrolment, Person, Receivable, RegisteredHolder
from ..payments.bank import BankAdapter
from ..payments.base import PaymentError
from . import enrolments
from .audit import record
from .imports import ImportSpec, Loaded, run_import

STATUS_LABELS = {
    AgreementStatus.SIGNED: "签订成功",
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
    """签订成功, 已撤销 or 失效, as the guide's list shows it (R-AG-2; seed 000 §4, seed 004): a new agreement is
    签订成功 at once, and the list says from which day it is in effect (R-AG-5)."""
    return STATUS_LABELS[a.status]


def withheld_insurances(session: Session, payer: Person, rows: list[Agreement], today: date) -> dict[int, list[str]]:
    """代扣险种 of each agreement (R-AG-2): what the batch debit takes with it — the insurances of the payer's
    enrolments under its 税务机关 that a batch day debits: flexible medical always, pension and unemployment under a
    monthly cycle (R-FB-8), resident pension while an amount is set for the year (R-RP-1). An empty list (shown
    "--") without 是否银行代扣 or when nothing is taken. One read for the whole list."""
    from ..domain.flexible import FLEX_INSURANCES, cycle_for_month
    from ..domain.levy import LABELS
    from ..domain.pension import INSURANCES as RP_INSURANCES
    from ..domain.pension import pension_year
    from ..domain.policy import MEDICAL, contribution_year
    from ..models import BaseDeclaration, PensionAmount

    month = Month.of(today) + -1  # 本期: what the next batch day takes of pension and unemployment
    found = session.execute(
        select(
            Enrolment.id,
            Enrolment.scheme,
            Enrolment.tax_office,
            Enrolment.region,
            Enrolment.subsidized,
            Enrolment.insurances,
            BaseDeclaration.contribution_year,
            BaseDeclaration.cycle,
            PensionAmount.insurance,
        )
        .outerjoin(
            BaseDeclaration,
            (BaseDeclaration.enrolment_id == Enrolment.id)
            & BaseDeclaration.contribution_year.in_((month.year - 1, month.year)),
        )
        .outerjoin(
            PensionAmount,
            (PensionAmount.enrolment_id == Enrolment.id)
            & (PensionAmount.status == "active")
            & (PensionAmount.year == pension_year(today)),
        )
        .where(Enrolment.person_id == payer.id, Enrolment.status == EnrolmentStatus.ACTIVE)
    ).all()
    taken: dict[str, list[str]] = {}  # 税务机关 → insurances
    cycles: dict[int, str] = {}
    for eid, scheme, _office, region, subsidized, _named, year, cycle, _rp in found:
        if scheme == SchemeCode.FLEXIBLE and year == contribution_year(month, region) and not subsidized:
            cycles[eid] = cycle_for_month(cycle, month, payer.birth_date, payer.sex)
    for eid, scheme, office, _region, _subsidized, named, _year, _cycle, rp_insurance in found:
        chosen = {i for i in (named or "").split(",") if i}
        if scheme == SchemeCode.FLEXIBLE:
            monthly = cycles.get(eid, "monthly") == "monthly"
            items = [i for i in FLEX_INSURANCES if (not chosen or i in chosen) and (i == MEDICAL or monthly)]
        elif scheme == SchemeCode.RESIDENT_PENSION and rp_insurance in RP_INSURANCES:
            items = [rp_insurance]
        else:
            continue
        for i in items:
            if LABELS[i] not in taken.setdefault(office, []):
                taken[office].append(LABELS[i])
    return {
        a.id: taken.get(a.tax_office, []) if a.batch_debit and a.status is AgreementStatus.SIGNED else [] for a in rows
    }


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
    until = resign_blocked_until(session, person.id, now.astimezone(BEIJING).date())
    if until is not None:
        raise RuleViolation(resign_message(until))
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
        raise RuleViolation(banks.sign_refusal(form.bank, result.message))
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
    resign_from: date | None = None,
) -> int:
    """Mark agreements 失效 after a change the bureau or the bank reports (R-AG-8); returns how many."""
    stmt = update(Agreement).where(Agreement.payer_id == person_id, Agreement.status == AgreementStatus.SIGNED)
    if tax_office is not None:
        stmt = stmt.where(Agreement.tax_office == tax_office)
    if account_digest is not None:
        stmt = stmt.where(Agreement.account_digest == account_digest)
    n = session.execute(  # type: ignore[attr-defined]  # an UPDATE's Result is a CursorResult
        stmt.values(
            status=AgreementStatus.INVALID, ended_at=now, end_reason=reason[:200], resign_from=resign_from
        ).execution_options(synchronize_session=False)
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
    id_type: str | None = None,
    si_agency: tuple[str, str] | None = None,
    changed_on: date | None = None,
) -> int:
    """The bureau reports a change of name, document or 社保经办机构 (``(scheme, agency)``) made on ``changed_on``:
    apply it and make the affected agreements 失效; the payer must sign again, after a change of 社保经办机构 only
    from the day after the 8th of the next month (R-AG-8, seed 000 Q51–52). Returns how many."""
    on = changed_on or now.astimezone(BEIJING).date()
    changed = 0
    if name and name != person.name:
        _rename_holder(session, person, name)
        person.name = name
        changed += invalidate(session, person.id, rules.invalid_reason("name", on), now)
    if (id_number and id_number != person.id_number) or (id_type and id_type != person.id_type):
        new_type, new_number = id_type or person.id_type, id_number or person.id_number
        taken = session.scalar(select(Person.id).where(Person.id_type == new_type, Person.id_number == new_number))
        if taken is not None and taken != person.id:
            raise RuleViolation("新证件号码已属于另一缴费人")
        _move_holder(session, person, new_type, new_number)
        person.id_type, person.id_number = new_type, new_number
        changed += invalidate(session, person.id, rules.invalid_reason("document", on), now)
    if si_agency is not None:
        scheme, agency = si_agency
        e = enrolments.enrolment_of(session, person.id, scheme)
        if e is None:
            raise RuleViolation("未查询到该人员的参保信息")
        if e.si_agency != agency:
            e.si_agency = agency
            changed += invalidate(
                session,
                person.id,
                rules.invalid_reason("si_agency", on),
                now,
                tax_office=e.tax_office,
                resign_from=rules.resign_from(on),
            )
    session.flush()
    return changed


def _rename_holder(session: Session, person: Person, name: str) -> None:
    """The identity register (公安) holds the new name too, so the payer logs in with it (R-ID-4)."""
    row = session.scalar(
        select(RegisteredHolder).where(
            RegisteredHolder.id_type == person.id_type, RegisteredHolder.id_number == person.id_number
        )
    )
    if row is not None:
        row.name = name


def _move_holder(session: Session, person: Person, id_type: str, id_number: str) -> None:
    """The register lists the holder under the new document (the old one stays, as the register keeps it)."""
    old = session.scalar(
        select(RegisteredHolder).where(
            RegisteredHolder.id_type == person.id_type, RegisteredHolder.id_number == person.id_number
        )
    )
    exists = session.scalar(
        select(RegisteredHolder.id).where(RegisteredHolder.id_type == id_type, RegisteredHolder.id_number == id_number)
    )
    if exists is None:
        session.add(
            RegisteredHolder(
                id_type=id_type,
                id_number=id_number,
                name=person.name,
                face_fail_reason=old.face_fail_reason if old else None,
            )
        )


def account_changed(
    session: Session, person_id: int, card_number: str, now: datetime, changed_on: date | None = None
) -> int:
    """The bank reports the account closed or changed: its agreements become 失效 (R-AG-8)."""
    on = changed_on or now.astimezone(BEIJING).date()
    return invalidate(session, person_id, rules.invalid_reason("account", on), now, account_digest=_digest(card_number))


def resign_blocked_until(session: Session, payer_id: int, today: date) -> date | None:
    """After a change of 社保经办机构 this month, the day signing opens again (Q52(2)); None when it is open."""
    until = session.scalar(
        select(sa.func.max(Agreement.resign_from)).where(
            Agreement.payer_id == payer_id, Agreement.status == AgreementStatus.INVALID
        )
    )
    return until if until is not None and until > today else None


def resign_message(until: date) -> str:
    """Why 新增协议 is closed until ``until`` (Q52(2))."""
    return (
        f"您的社保经办机构已变更，原缴费协议已失效。按规定请于{format_date_zh(until)}起重新签订缴费协议"
        "（当月变更社保经办机构的，次月8日后重签）。"
    )


# ------------------------------------------------------------------------- the bureau's file of changes

CHANGE_COLUMNS = ("id_type", "id_number", "change", "scheme", "value", "changed_on")


@dataclass(frozen=True)
class _Row:
    """One row of the changes file, its fields checked (no database read yet)."""

    id_type: str
    id_number: str
    change: str
    scheme: str
    value: str
    new_type: str
    changed_on: date


@dataclass(frozen=True)
class _Change:
    person: Person
    change: str
    scheme: str
    value: str
    id_type: str
    changed_on: date


@dataclass
class ChangeReport:
    """What ``import_changes`` did: rows applied, agreements made 失效, and warnings by line (Q51)."""

    rows: int = 0
    invalidated: int = 0
    warnings: list[tuple[int, str]] = field(default_factory=list)


def changes_file(now: datetime) -> ImportSpec[_Row, _Change]:
    """The bureau's (and the banks') changes of payers' data as an ``imports.ImportSpec`` (R-AG-8, Q50–52), for a
    file read at ``now``: its ``load`` applies the rows in order and counts the agreements made 失效."""
    today = now.astimezone(BEIJING).date()

    def parse(f: Mapping[str, str]) -> _Row:
        id_type = f["id_type"]
        if id_type not in ID_TYPES:
            raise RuleViolation(f"证件类型不正确：{id_type}")
        number = normalize_id_number(id_type, f["id_number"])
        change = f["change"]
        if change not in rules.CHANGES:
            raise RuleViolation(f"变更类型不正确：{change}（应为{'/'.join(rules.CHANGES)}）")
        try:
            changed_on = date.fromisoformat(f["changed_on"])
        except ValueError:
            raise RuleViolation("变更日期应为YYYY-MM-DD") from None
        if changed_on > today:
            raise RuleViolation("变更日期不能晚于今天")
        value, scheme, new_type = f["value"], f["scheme"], ""
        if change == "name" and not 0 < len(value) <= 30:
            raise RuleViolation("新姓名不能为空，且不超过30个字")
        if change == "document":
            new_type, _, new_number = value.partition(":")
            if new_type not in ID_TYPES:
                raise RuleViolation(f"新证件类型不正确：{new_type}（应写作 证件类型:证件号码）")
            value = normalize_id_number(new_type, new_number)
        if change == "si_agency":
            if scheme not in {s.value for s in SchemeCode}:
                raise RuleViolation(f"险种业务不正确：{scheme}（应为flex/rm/rp）")
            if not 0 < len(value) <= 100:
                raise RuleViolation("新社保经办机构不能为空，且不超过100个字")
        if change == "account" and not (value.isascii() and value.isdigit() and 12 <= len(value) <= 30):
            raise RuleViolation("银行账号应为12至30位数字")
        return _Row(id_type, number, change, scheme, value, new_type, changed_on)

    def prepare(session: Session, rows: Sequence[_Row]) -> Callable[[_Row], _Change]:
        def check(r: _Row) -> _Change:
            person = session.scalar(select(Person).where(Person.id_type == r.id_type, Person.id_number == r.id_number))
            if person is None:
                raise RuleViolation("未查询到该缴费人")
            if r.change == "si_agency" and enrolments.enrolment_of(session, person.id, r.scheme) is None:
                raise RuleViolation("未查询到该人员的参保信息")
            return _Change(person, r.change, r.scheme, r.value, r.new_type, r.changed_on)

        return check

    def load(session: Session, changes: list[_Change]) -> Loaded:
        invalidated = 0
        errors: list[tuple[int, str]] = []
        warnings: list[tuple[int, str]] = []
        for i, c in enumerate(changes):
            try:
                invalidated += _apply_change(session, c, now, functools.partial(_note, warnings, i))
            except RuleViolation as e:
                errors.append((i, str(e)))
        return Loaded(invalidated, errors=tuple(errors), warnings=tuple(warnings))

    return ImportSpec(name="缴费人信息变更", columns=CHANGE_COLUMNS, parse=parse, prepare=prepare, load=load)


def import_changes(session: Session, text: str, now: datetime) -> ChangeReport:
    """Load the bureau's (and the banks') changes of payers' data from CSV (R-AG-8, Q50–52) through
    ``imports.run_import``: every row is checked first; a bad row names its line and nothing loads
    (``ImportFileError``). Columns: ``id_type,id_number,change,scheme,value,changed_on`` — ``change`` is ``name``
    (value: the new name), ``document`` (value: ``<id_type>:<number>``), ``si_agency`` (``scheme`` flex | rm | rp,
    value: the new 社保经办机构) or ``account`` (value: the card number the bank closed or changed); ``changed_on``
    is the day of the change (YYYY-MM-DD)."""
    report = run_import(session, changes_file(now), text).raise_for_errors()
    return ChangeReport(rows=report.rows, invalidated=report.created, warnings=report.warnings)


def _note(notes: list[tuple[int, str]], index: int, message: str) -> None:
    notes.append((index, message))


def _apply_change(session: Session, c: _Change, now: datetime, warn: Callable[[str], None]) -> int:
    if c.change == "name":
        return bureau_change(session, c.person, now, name=c.value, changed_on=c.changed_on)
    if c.change == "document":
        return bureau_change(session, c.person, now, id_type=c.id_type, id_number=c.value, changed_on=c.changed_on)
    if c.change == "si_agency":
        owed = session.scalar(
            select(sa.func.count())
            .select_from(Receivable)
            .join(Enrolment, Enrolment.id == Receivable.enrolment_id)
            .where(
                Enrolment.person_id == c.person.id,
                Enrolment.scheme == c.scheme,
                Receivable.status.in_((ReceivableStatus.DUE, ReceivableStatus.DECLARED)),
            )
        )
        if owed:
            warn(f"{c.person.name}变更社保经办机构时仍有{owed}笔应缴费款未缴清（问答51：变更前需先缴清应缴费款）")
        return bureau_change(session, c.person, now, si_agency=(c.scheme, c.value), changed_on=c.changed_on)
    n = account_changed(session, c.person.id, c.value, now, c.changed_on)
    if not n:
        warn(f"{c.person.name}没有使用该银行账户的有效缴费协议，未作处理")
    return n
