"""The checkout every scheme shares (R-CH-1, R-PA-1 … R-PA-6): which methods the channel offers,
whether the payer may pay now, 确认缴费, 取消支付, and what became of an order. Scheme differences
come from the registry (``domain.schemes``), never from a branch on a scheme code.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from ..domain import banks
from ..domain.calendar import BEIJING, format_date_zh
from ..domain.channels import methods_for
from ..domain.errors import RuleViolation
from ..domain.statuses import Provider
from ..models import Agreement, Declaration, PaymentOrder, Refund
from ..payments import orders
from ..payments.base import PaymentError, ProviderStatus
from ..payments.orders import Adapters, Urls
from . import agreements, schemes
from .audit import record

#: The prompt before the agreements (seed 003 §2.1 shows one and does not print it; these are the app's words,
#: from what 协议支付 does: it debits the signed account at once, docs/policy.md §8).
AGREEMENT_PROMPT = (
    "协议支付将从您签订缴费协议的银行账户中直接扣缴本次费款，扣款结果以银行返回为准。"
    "请确认账户余额充足，点击【确定】后选择缴费协议。"
)


def methods(channel: str, scheme_code: str) -> list[str]:
    """The payment methods the channel offers for the scheme (R-CH-1)."""
    return methods_for(channel, scheme_code)


def tax_office_of(decl: Declaration) -> str:
    """The 税务机关 a declaration's receivables belong to (an agreement must name the same one, R-AG-4)."""
    return decl.items[0].receivable.tax_office if decl.items else ""


def usable_agreements(session: Session, decl: Declaration, today: date) -> list[Agreement]:
    """The payer's agreements that may pay this declaration today (R-AG-4 … R-AG-7)."""
    return agreements.usable(session, decl.payer_id, tax_office_of(decl), today)


def agreements_taking_effect(session: Session, decl: Declaration, today: date) -> list[Agreement]:
    """The payer's agreements for this declaration's 税务机关 that take effect on a later day (R-AG-5)."""
    return agreements.taking_effect(session, decl.payer_id, tax_office_of(decl), today)


def msg_taking_effect(a: Agreement) -> str:
    """What 协议支付 says while the payer's agreement has not taken effect yet (R-AG-5: 次日生效)."""
    bank = banks.banks().get(a.bank)
    return (
        f"您的缴费协议（{bank.name if bank else a.bank} {a.account_masked}）已签订，"
        f"将于{format_date_zh(a.effective_on)}生效，生效后即可使用协议支付。今天请选择其他支付方式，或生效后再来缴费"
    )


def why_not_now(session: Session, decl: Declaration, now: datetime) -> str | None:
    """None when the declaration may be paid here now, else why not: each scheme's flow says (the 10th–25th
    for the schemes it binds, nothing but the batch debit on the batch day for a payer whose agreement it
    uses: R-FP-4, Q42)."""
    return schemes.why_not_now(session, decl, now)


def confirm(
    session: Session,
    adapters: Adapters,
    decl: Declaration,
    method: str,
    *,
    channel: str,
    now: datetime,
    urls: Urls,
    expire_minutes: int,
    agreement_id: int | None = None,
) -> PaymentOrder:
    """确认缴费: the order whose cashier the payer goes to, or the one that already paid (or, with 协议支付,
    the bank's decision on the chosen agreement).

    ``RuleViolation`` (nothing written) when the method, the agreement, the time or the declaration does
    not allow it. An order that comes back ``failed`` or ``created`` carries the message in ``failure_reason``.
    """
    if method not in methods(channel, decl.scheme):
        raise RuleViolation("请选择本渠道支持的支付方式")
    if (why := why_not_now(session, decl, now)) is not None:
        raise RuleViolation(why)
    agreement_no = ""
    if method == Provider.AGREEMENT:
        usable = {a.id: a for a in usable_agreements(session, decl, now.astimezone(BEIJING).date())}
        if not usable:
            today = now.astimezone(BEIJING).date()
            if coming := agreements_taking_effect(session, decl, today):
                raise RuleViolation(msg_taking_effect(coming[0]))
            raise RuleViolation("您没有可用于该税务机关缴费的缴费协议（新签协议次日生效），请先在缴费协议中新增协议")
        if agreement_id not in usable:
            raise RuleViolation("请选择一条可用的缴费协议")
        agreement_no = usable[agreement_id].agreement_no
    try:
        return orders.start(
            session,
            adapters,
            method,
            declaration_id=decl.id,
            channel=channel,
            now=now,
            urls=urls,
            expire_minutes=expire_minutes,
            actor_id=decl.payer_id,
            agreement_no=agreement_no,
        )
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


def back_from_cashier(session: Session, adapters: Adapters, order: PaymentOrder, now: datetime) -> PaymentOrder:
    """返回商户: ask the provider (R-PA-3). When it says the buyer has not paid (not "still paying"), the payer left
    the cashier: the order is closed there at once, so the page says 已取消 with the ways to pay again instead of
    waiting for ever. A payment that lands meanwhile is found by the close (or refunded)."""
    order = refresh(session, adapters, order, now)
    adapter = adapters.get(order.provider)
    if not order.state.is_open or adapter is None or order.provider == Provider.AGREEMENT:
        return order
    try:
        answer = adapter.query(order.out_trade_no)
    except PaymentError:
        return order
    if answer.status not in (ProviderStatus.NOT_PAID, ProviderStatus.NOT_FOUND):
        return order
    try:
        return cancel(session, adapters, order, now)
    except RuleViolation:
        return order


def refunds(session: Session, order: PaymentOrder) -> list[Refund]:
    """The money going back for an order (退款中 / 已退款)."""
    return orders.refunds_of(session, order.id)


def refund_state(refunds_of_order: list[Refund]) -> tuple[str, datetime | None] | None:
    """What the payer reads: ("退款中", None) until the provider confirms, ("已退款", its date) after; None when
    nothing goes back."""
    return orders.refund_view(refunds_of_order)
