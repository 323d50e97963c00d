"""申报 and 作废, and the lists every flow shows of them: declaring receivables (提交), voiding an unpaid
declaration (R-RM-3, R-FP-8, R-RP-3), declarations by date and payments by fee period (R-RM-4, R-CE-1).

Declaring is atomic: a conditional UPDATE moves exactly the chosen receivables from ``due`` to
``declared``, so two concurrent submits of one receivable give one declaration and one clear message.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time

from sqlalchemy import func, orm, select, update
from sqlalchemy.orm import Session

from ..db import atomic
from ..domain.calendar import BEIJING, Month
from ..domain.errors import NotFound, RuleViolation
from ..domain.inputs import parse_id
from ..domain.schemes import SCHEMES
from ..domain.statuses import DeclarationKind, DeclarationStatus, ReceivableStatus
from ..models import Declaration, DeclarationItem, PaymentOrder, Receivable, Refund, SettledPayment
from ..payments import orders
from ..payments.orders import Adapters
from .audit import record

MSG_STALE = "所选缴费信息有误，请刷新页面后重新选择"
MSG_AMOUNT_CHANGED = "缴费金额已变更，请核对后重新提交"


class AlreadyDeclared(RuleViolation):
    """Someone (perhaps the same user in another tab) declared these receivables first."""


def parse_ids(values: Iterable[str]) -> list[int]:
    """Receivable ids from form values; anything but a plain positive integer is refused."""
    ids = []
    for v in values:
        parsed = parse_id(v)
        if parsed is None:
            raise RuleViolation(MSG_STALE)
        ids.append(parsed)
    return sorted(set(ids))


@atomic
def declare(
    session: Session,
    *,
    payer_id: int,
    insured_id: int,
    scheme: str,
    receivable_ids: list[int],
    channel: str,
    now: datetime,
    kind: str = DeclarationKind.NORMAL,
) -> Declaration:
    """Declare the chosen receivables of one insured person; the total is recomputed here (R-MO-2)."""
    if not receivable_ids:
        raise RuleViolation("请选择需要缴费的信息")
    rows = session.scalars(select(Receivable).where(Receivable.id.in_(receivable_ids))).all()
    if len(rows) != len(receivable_ids) or any(r.insured_id != insured_id or r.scheme != scheme for r in rows):
        raise RuleViolation(MSG_STALE)
    already = f"所选缴费信息已申报，请在{SCHEMES[scheme].declared_label}中继续缴费或作废后重新申报"
    if any(r.status is ReceivableStatus.PAID for r in rows):
        raise AlreadyDeclared("所选缴费信息已缴费，无需重复缴纳")
    if any(r.status is not ReceivableStatus.DUE for r in rows):
        raise AlreadyDeclared(already)
    if any(r.batch_debit_id is not None for r in rows):
        raise AlreadyDeclared("所选缴费信息正在银行批量扣款中（申报处理中），请待扣款结果返回后再操作")
    decl = Declaration(
        payer_id=payer_id,
        insured_id=insured_id,
        scheme=scheme,
        kind=kind,
        total_fen=sum(r.amount_fen for r in rows),
        channel=channel,
        declared_at=now,
    )
    session.add(decl)
    session.flush()
    moved = session.execute(  # type: ignore[attr-defined]  # an UPDATE's Result is a CursorResult
        update(Receivable)
        .where(
            Receivable.id.in_(receivable_ids),
            Receivable.status == ReceivableStatus.DUE,
            Receivable.batch_debit_id.is_(None),
        )
        .values(status=ReceivableStatus.DECLARED, declaration_id=decl.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != len(receivable_ids):
        raise AlreadyDeclared(already)
    # The rows are ours now (locked by the UPDATE): an amount changed since they were read (a resident
    # pension amount set in another tab, R-RP-1) refuses the whole declaration rather than declare a
    # total that the receivables no longer add up to (R-MO-2).
    amounts: dict[int, int] = {
        rid: fen
        for rid, fen in session.execute(
            select(Receivable.id, Receivable.amount_fen).where(Receivable.id.in_(receivable_ids))
        )
    }
    if sum(amounts.values()) != decl.total_fen:
        raise RuleViolation(MSG_AMOUNT_CHANGED)
    for r in rows:
        session.add(DeclarationItem(declaration_id=decl.id, receivable_id=r.id, amount_fen=amounts[r.id]))
    record(session, "declaration.created", str(decl.id), str(decl.total_fen), payer_id)
    return decl


def declaration_of(session: Session, payer_id: int, declaration_id: int) -> Declaration:
    """A declaration the payer made; ``NotFound`` for anyone else's (the view answers 404)."""
    decl = session.get(Declaration, declaration_id)
    if decl is None or decl.payer_id != payer_id:
        raise NotFound(declaration_id)
    return decl


def void(session: Session, adapters: Adapters, decl: Declaration, now: datetime, actor_id: int) -> str:
    """作废: close any unfinished order at the provider first, then void; the receivables can be
    declared and paid again (R-RM-3). Returns what to tell the user; ``RuleViolation`` if it cannot."""
    try:
        order = orders.close_open(session, adapters, decl.id, now)
    except orders.OrderError as e:
        raise RuleViolation(str(e)) from e
    label = SCHEMES[decl.scheme].void_label
    if order is not None and order.state == "paid":
        return f"该申报在{label}前已支付成功，无需{label}"
    _void(session, decl, now, actor_id)
    return f"已{label}，可重新缴费"


@atomic
def _void(session: Session, decl: Declaration, now: datetime, actor_id: int) -> None:
    if decl.status is DeclarationStatus.PAID:
        raise RuleViolation("该申报已缴费，不能作废")
    if decl.status is DeclarationStatus.VOID:
        raise RuleViolation("该申报已作废")
    if orders.open_order(session, decl.id) is not None:
        raise RuleViolation("该申报有正在支付的订单，请先取消支付后再作废")
    session.execute(
        update(Receivable)
        .where(Receivable.declaration_id == decl.id, Receivable.status == ReceivableStatus.DECLARED)
        .values(status=ReceivableStatus.DUE, declaration_id=None)
        .execution_options(synchronize_session=False)
    )
    decl.status, decl.voided_at = DeclarationStatus.VOID, now
    record(session, "declaration.voided", str(decl.id), "", actor_id)


def declared_between(session: Session, payer_id: int, scheme: str, start: date, end: date) -> list[Declaration]:
    """已申报查询: the payer's declarations of a scheme by declaration date, for oneself and for others."""
    if start > end:
        raise RuleViolation("起始日期不能晚于截止日期")
    lo, hi = datetime.combine(start, time.min, BEIJING), datetime.combine(end, time.max, BEIJING)
    return list(
        session.scalars(
            select(Declaration)
            .where(
                Declaration.payer_id == payer_id,
                Declaration.scheme == scheme,
                Declaration.declared_at >= lo,
                Declaration.declared_at <= hi,
            )
            .order_by(Declaration.declared_at.desc(), Declaration.id.desc())
        )
    )


def payments_between(
    session: Session, person_id: int, scheme: str, start: Month, end: Month, *, insured_id: int | None = None
) -> list[SettledPayment]:
    """缴费记录查询 by 费款所属期 (R-CE-1): what was paid for the person, or by them for others; with
    ``insured_id``, only what was paid for that one insured person."""
    if start > end:
        raise RuleViolation("起始所属期不能晚于截止所属期")
    who = (SettledPayment.payer_id == person_id) | (Receivable.insured_id == person_id)
    stmt = (
        select(SettledPayment)
        .join(Receivable)
        .where(
            who,
            Receivable.scheme == scheme,
            Receivable.fee_period_start <= end.first_day,
            Receivable.fee_period_end >= start.first_day,
        )
    )
    if insured_id is not None:
        stmt = stmt.where(Receivable.insured_id == insured_id)
    return list(session.scalars(stmt.order_by(Receivable.fee_period_start.desc(), SettledPayment.id.desc())))


def refunds_between(
    session: Session, payer_id: int, scheme: str, start: Month, end: Month, *, insured_id: int | None = None
) -> list[Refund]:
    """Money the payer paid that settled nothing and goes back (退款中 / 已退款, R-PA-4), for declarations of the
    scheme whose fee periods meet the range; with ``insured_id``, only those for that insured person."""
    if start > end:
        raise RuleViolation("起始所属期不能晚于截止所属期")
    periods = (
        select(DeclarationItem.declaration_id)
        .join(Receivable, Receivable.id == DeclarationItem.receivable_id)
        .where(Receivable.fee_period_start <= end.first_day, Receivable.fee_period_end >= start.first_day)
    )
    stmt = (
        select(Refund)
        .join(PaymentOrder, PaymentOrder.id == Refund.order_id)
        .join(Declaration, Declaration.id == PaymentOrder.declaration_id)
        .where(
            PaymentOrder.payer_id == payer_id,
            Declaration.scheme == scheme,
            Declaration.id.in_(periods),
            Refund.state != "void",
        )
        .options(orm.contains_eager(Refund.order).contains_eager(PaymentOrder.declaration))
    )
    if insured_id is not None:
        stmt = stmt.where(Declaration.insured_id == insured_id)
    return list(session.scalars(stmt.order_by(Refund.created_at.desc(), Refund.id.desc())))


def paid_span(
    session: Session, person_id: int, scheme: str, *, insured_id: int | None = None
) -> tuple[Month, Month] | None:
    """The first and last 费款所属期 of what ``payments_between`` would list with no range, or None: the records
    page opens on a range that shows every payment (a 2024 补缴 paid today included)."""
    who = (SettledPayment.payer_id == person_id) | (Receivable.insured_id == person_id)
    stmt = (
        select(func.min(Receivable.fee_period_start), func.max(Receivable.fee_period_end))
        .select_from(SettledPayment)
        .join(Receivable)
        .where(who, Receivable.scheme == scheme)
    )
    if insured_id is not None:
        stmt = stmt.where(Receivable.insured_id == insured_id)
    first, last = session.execute(stmt).one()
    return (Month.of(first), Month.of(last)) if first is not None and last is not None else None


def payment_of(session: Session, person_id: int, scheme: str, payment_id: int) -> SettledPayment:
    """One payment the person made or was paid for; ``NotFound`` otherwise."""
    p = session.get(SettledPayment, payment_id)
    if p is None or p.receivable.scheme != scheme or person_id not in (p.payer_id, p.receivable.insured_id):
        raise NotFound(payment_id)
    return p


def unpaid_items(session: Session, declaration_id: int) -> list[Receivable]:
    """The receivables a declaration still owes."""
    return list(
        session.scalars(
            select(Receivable)
            .where(Receivable.declaration_id == declaration_id, Receivable.status == ReceivableStatus.DECLARED)
            .order_by(Receivable.fee_period_start, Receivable.id)
        )
    )


def order_of(session: Session, payer_id: int, out_trade_no: str) -> PaymentOrder:
    """One of the payer's orders; ``NotFound`` otherwise."""
    if not (out_trade_no.isascii() and out_trade_no.isalnum() and len(out_trade_no) <= 32):
        raise NotFound(out_trade_no[:40])
    order = session.scalar(select(PaymentOrder).where(PaymentOrder.out_trade_no == out_trade_no))
    if order is None or order.payer_id != payer_id:
        raise NotFound(out_trade_no)
    return order
