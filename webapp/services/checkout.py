"""The checkout every scheme shares (R-CH-1, R-PA-1 … R-PA-6): which methods the channel offers,
whether the payer may pay now, 确认缴费, 取消支付, and what became of an order. Scheme differences
come from the registry (``domain.schemes``), never from a branch on a scheme code.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ..domain.channels import methods_for
from ..domain.errors import RuleViolation
from ..domain.schemes import SCHEMES
from ..models import Declaration, PaymentOrder, Refund
from ..payments import orders
from ..payments.orders import Adapters, Urls
from . import flexible
from .audit import record


def methods(channel: str, scheme_code: str) -> list[str]:
    """The payment methods the channel offers for the scheme (R-CH-1); agreement payment waits for the
    debit-agreement core."""
    return methods_for(channel, scheme_code, agreements_available=False)


def why_not_now(session: Session, decl: Declaration, now: datetime) -> str | None:
    """None when the declaration may be paid here now, else why not (R-FP-4 for the schemes it binds)."""
    if SCHEMES[decl.scheme].self_service_window:
        window = flexible.pay_window(session, decl.insured_id, now)
        if not window.open:
            return window.message_zh
    return None


def confirm(session: Session, adapters: Adapters, decl: Declaration, method: str, *, channel: str, now: datetime,
            urls: Urls, expire_minutes: int) -> PaymentOrder:
    """确认缴费: the order whose cashier the payer goes to, or the one that already paid.

    ``RuleViolation`` (nothing written) when the method, the time or the declaration does not allow
    it. An order that comes back ``failed`` or ``created`` carries the message in ``failure_reason``.
    """
    if method not in methods(channel, decl.scheme):
        raise RuleViolation("请选择本渠道支持的支付方式")
    if (why := why_not_now(session, decl, now)) is not None:
        raise RuleViolation(why)
    try:
        return orders.start(session, adapters, method, declaration_id=decl.id, channel=channel, now=now, urls=urls,
                            expire_minutes=expire_minutes, actor_id=decl.payer_id)
    except orders.OrderError as e:
        raise RuleViolation(str(e)) from e


def cancel(session: Session, adapters: Adapters, order: PaymentOrder, now: datetime) -> PaymentOrder:
    """取消支付: closed at the provider at once (no 35-minute wait, R-PA-3), or found paid after all."""
    try:
        order = orders.close(session, adapters, order.id, now)
    except orders.OrderError as e:
        raise RuleViolation(str(e)) from e
    record(session, "order.cancelled_by_user", order.out_trade_no, str(order.state), order.payer_id)
    return order


def refresh(session: Session, adapters: Adapters, order: PaymentOrder, now: datetime) -> PaymentOrder:
    """Ask the provider about an unfinished order (the return from the cashier, the waiting page's poll)."""
    if not order.state.is_open:
        return order
    return orders.reconcile(session, adapters, order.id, now) or order


def refunds(session: Session, order: PaymentOrder) -> list[Refund]:
    """The money going back for an order (退款中 / 已退款)."""
    return orders.refunds_of(session, order.id)
