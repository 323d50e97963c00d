"""申报 and 作废: declaring receivables (提交) and voiding an unpaid declaration (R-RM-3, R-FP-8).

Shared by every flow. Declaring is atomic: a conditional UPDATE moves exactly the chosen
receivables from ``due`` to ``declared``, so two concurrent submits of one receivable give
one declaration and one clear message.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..models import OPEN_ORDER_STATES, Declaration, DeclarationItem, PaymentOrder, Receivable
from .flexible import RuleViolation  # one exception for every rule the domain refuses


class AlreadyDeclared(RuleViolation):
    """Someone (perhaps the same user in another tab) declared these receivables first."""


def parse_ids(values: Iterable[str]) -> list[int]:
    """Receivable ids from form values; anything that is not a positive integer is refused."""
    ids = []
    for v in values:
        if not str(v).isdigit():
            raise RuleViolation("所选缴费信息有误，请刷新页面后重新选择")
        ids.append(int(v))
    return sorted(set(ids))


def declare(session: Session, *, payer_id: int, insured_id: int, scheme: str, receivable_ids: list[int],
            channel: str, now: datetime, kind: str = "normal") -> Declaration:
    """Declare the chosen receivables of one insured person; the total is recomputed here (R-MO-2)."""
    if not receivable_ids:
        raise RuleViolation("请选择需要缴费的信息")
    rows = session.scalars(select(Receivable).where(Receivable.id.in_(receivable_ids))).all()
    if len(rows) != len(receivable_ids) or any(
        r.insured_id != insured_id or r.scheme != scheme for r in rows
    ):
        raise RuleViolation("所选缴费信息不存在或不属于该参保人，请刷新页面后重新选择")
    if any(r.status == "paid" for r in rows):
        raise AlreadyDeclared("所选缴费信息已缴费，无需重复缴纳")
    if any(r.status != "due" for r in rows):
        raise AlreadyDeclared("所选缴费信息已申报，请在已申报查询中继续缴费或作废后重新申报")
    decl = Declaration(payer_id=payer_id, insured_id=insured_id, scheme=scheme, kind=kind,
                       total_fen=sum(r.amount_fen for r in rows), channel=channel, declared_at=now)
    session.add(decl)
    session.flush()
    moved = session.execute(
        update(Receivable)
        .where(Receivable.id.in_(receivable_ids), Receivable.status == "due")
        .values(status="declared", declaration_id=decl.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != len(receivable_ids):
        session.rollback()
        raise AlreadyDeclared("所选缴费信息已申报，请在已申报查询中继续缴费或作废后重新申报")
    for r in rows:
        session.add(DeclarationItem(declaration_id=decl.id, receivable_id=r.id, amount_fen=r.amount_fen))
    return decl


def declaration_of(session: Session, payer_id: int, declaration_id: int) -> Declaration | None:
    """A declaration the payer made (None for anyone else's: the caller answers 404)."""
    decl = session.get(Declaration, declaration_id)
    if decl is None or decl.payer_id != payer_id:
        return None
    return decl


def open_order(session: Session, declaration_id: int) -> PaymentOrder | None:
    """The declaration's unfinished payment order, if any."""
    return session.scalar(select(PaymentOrder).where(PaymentOrder.declaration_id == declaration_id,
                                                     PaymentOrder.state.in_(OPEN_ORDER_STATES)))


def void(session: Session, decl: Declaration, now: datetime) -> None:
    """作废: an unpaid declaration is voided and its receivables can be declared again (R-RM-3).

    The caller closes any open order first (the payment core), so nothing can be paid for a
    voided declaration.
    """
    if decl.status == "paid":
        raise RuleViolation("该申报已缴费，不能作废")
    if decl.status == "void":
        raise RuleViolation("该申报已作废")
    if open_order(session, decl.id) is not None:
        raise RuleViolation("该申报有正在支付的订单，请先取消支付后再作废")
    session.execute(
        update(Receivable)
        .where(Receivable.declaration_id == decl.id, Receivable.status == "declared")
        .values(status="due", declaration_id=None)
        .execution_options(synchronize_session=False)
    )
    decl.status = "void"
    decl.voided_at = now
