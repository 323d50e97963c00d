"""The app's payment core: orders, their forward-only state machine, and settling exactly once
(R-PA-1, R-PA-3). Plain functions over a SQLAlchemy session and a PaymentAdapter: no Flask.

created → paying → paid | closed | failed. "Still paying" and "trade not exist" are unknown,
never failed. Settlement inserts one SettledPayment per receivable; its unique constraint on
receivable_id makes a second settlement impossible whatever the number of notifications.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import OPEN_ORDER_STATES, AuditEvent, Declaration, PaymentOrder, Receivable, Refund, SettledPayment
from .base import AckResponse, OrderRequest, PaymentAdapter, PaymentError, ProviderStatus, SignatureError

DESCRIPTIONS = {"rm": "城乡居民基本医疗保险费", "rp": "城乡居民基本养老保险费", "flex": "灵活就业人员社会保险费"}


class OrderError(Exception):
    """The order cannot be started or changed; the message is for the user."""


@dataclass(frozen=True)
class Urls:
    """Absolute URLs the provider needs for one order."""

    notify_url: str
    return_url: str  # "{out_trade_no}" in it is replaced by the order's number


def new_out_trade_no(now: datetime) -> str:
    """``SB`` + time + random: 26 chars of [0-9A-Z], valid for all three providers."""
    return f"SB{now.astimezone(UTC):%Y%m%d%H%M%S}{secrets.token_hex(5).upper()}"


def _audit(session: Session, kind: str, order: PaymentOrder | None, detail: str = "",
           actor_id: int | None = None) -> None:
    session.add(AuditEvent(kind=kind, subject=order.out_trade_no if order else "", detail=detail,
                           actor_id=actor_id))


def _lock(session: Session, order_id: int) -> PaymentOrder:
    """Re-read an order under a row lock (PostgreSQL); SQLite serialises writers already."""
    stmt = select(PaymentOrder).where(PaymentOrder.id == order_id).with_for_update()
    order = session.execute(stmt, execution_options={"populate_existing": True}).scalar_one()
    return order


def start(session: Session, adapters: Mapping[str, PaymentAdapter], provider: str, *, decl: Declaration,
          channel: str, now: datetime, urls: Urls, expire_minutes: int) -> PaymentOrder:
    """Create an order for a declaration at the provider and return it (state paying).

    An unfinished order of the same declaration is closed first; if the provider says it was
    paid after all, that order is settled and returned instead.
    """
    if decl.status != "declared":
        raise OrderError("该申报已缴费或已作废，无需再支付" if decl.status == "paid" else "该申报已作废，请重新申报")
    existing = session.scalar(select(PaymentOrder).where(PaymentOrder.declaration_id == decl.id,
                                                         PaymentOrder.state.in_(OPEN_ORDER_STATES)))
    if existing is not None:
        closed = close(session, adapters[existing.provider], existing, now)
        if closed.state == "paid":
            return closed
    adapter = adapters[provider]
    rows = session.scalars(select(Receivable).where(Receivable.declaration_id == decl.id,
                                                    Receivable.status == "declared")).all()
    amount = sum(r.amount_fen for r in rows)
    if not rows or amount != decl.total_fen:
        raise OrderError("缴费信息已变化，请返回重新申报")
    order = PaymentOrder(out_trade_no=new_out_trade_no(now), declaration_id=decl.id, payer_id=decl.payer_id,
                         provider=adapter.name, channel=channel, amount_fen=amount, state="created",
                         created_at=now, updated_at=now, expires_at=now + timedelta(minutes=expire_minutes))
    session.add(order)
    _audit(session, "order.created", order, f"{adapter.name} {amount}", decl.payer_id)
    session.commit()  # the order exists before the provider can notify about it
    try:
        created = adapter.create(OrderRequest(
            out_trade_no=order.out_trade_no, amount_fen=amount, description=DESCRIPTIONS.get(decl.scheme, "社会保险费"),
            expire_at=order.expires_at, notify_url=urls.notify_url,
            return_url=urls.return_url.replace("{out_trade_no}", order.out_trade_no), created_at=now))
    except PaymentError as e:
        order = _lock(session, order.id)
        order.state, order.failure_reason, order.updated_at = "failed", f"下单失败：{e}"[:200], now
        _audit(session, "order.create_failed", order, str(e)[:500])
        session.commit()
        raise OrderError("支付渠道暂时无法下单，请稍后重试或选择其他支付方式") from e
    order = _lock(session, order.id)
    if order.state == "created":
        order.state = "paying"
    order.cashier_url = created.cashier_url
    order.updated_at = now
    session.commit()
    return order


def apply(session: Session, order_id: int, status: ProviderStatus, *, amount_fen: int | None,
          txn_id: str, paid_at: datetime | None, now: datetime, reason: str = "") -> PaymentOrder:
    """Move an order forward on what the provider said; idempotent. Commits."""
    order = _lock(session, order_id)
    if status is ProviderStatus.PAID:
        if amount_fen != order.amount_fen:
            _audit(session, "order.amount_mismatch", order, f"provider {amount_fen} != ours {order.amount_fen}")
            session.commit()
            return order
        if order.state == "paid":
            _audit(session, "order.duplicate_paid", order)
            session.commit()
            return order
        _settle(session, order, txn_id, paid_at or now, now)
    elif status is ProviderStatus.CLOSED and order.state in OPEN_ORDER_STATES:
        order.state, order.updated_at = "closed", now
        _audit(session, "order.closed", order)
    elif status is ProviderStatus.FAILED and order.state in OPEN_ORDER_STATES:
        order.state, order.failure_reason, order.updated_at = "failed", (reason or "支付失败")[:200], now
        _audit(session, "order.failed", order, reason)
    # PAYING / NOT_PAID / NOT_FOUND: unknown, nothing moves.
    session.commit()
    return order


def _settle(session: Session, order: PaymentOrder, txn_id: str, paid_at: datetime, now: datetime) -> None:
    """Record the money: each receivable of the declaration paid once, or refund what cannot be."""
    decl = session.get(Declaration, order.declaration_id)
    assert decl is not None
    items = [i.receivable for i in decl.items]
    payable = [r for r in items if r.status == "declared" and r.declaration_id == decl.id]
    order.provider_txn_id = txn_id
    order.paid_at = paid_at
    order.updated_at = now
    order.state = "paid"
    settleable = decl.status == "declared" and len(payable) == len(items)
    if not settleable or sum(r.amount_fen for r in payable) != order.amount_fen:
        # Paid for something no longer payable (voided, or paid another way): money goes back.
        session.add(Refund(order_id=order.id, out_refund_no=f"RF{order.out_trade_no}", amount_fen=order.amount_fen,
                           reason="订单支付时申报已作废或已由其他订单缴费，原路退回"))
        _audit(session, "order.paid_unpayable", order, "refund requested")
        return
    for r in payable:
        r.status = "paid"
        session.add(SettledPayment(receivable_id=r.id, order_id=order.id, payer_id=order.payer_id,
                                   amount_fen=r.amount_fen, paid_at=paid_at, channel=order.channel,
                                   method=order.provider,
                                   levy_voucher_no=f"1001{paid_at:%y}{r.id:014d}"))
    decl.status = "paid"
    _audit(session, "order.paid", order, txn_id)


def handle_notification(session: Session, adapter: PaymentAdapter, headers: Mapping[str, str], body: bytes,
                        now: datetime) -> AckResponse:
    """Verify a provider notification, settle on it at most once, and answer as the provider expects."""
    try:
        note = adapter.verify_notification(headers, body)
    except SignatureError as e:
        _audit(session, "notify.bad_signature", None, f"{adapter.name}: {e}"[:500])
        session.commit()
        return adapter.ack(False)
    except PaymentError as e:
        _audit(session, "notify.unreadable", None, f"{adapter.name}: {e}"[:500])
        session.commit()
        return adapter.ack(False)
    order = session.scalar(select(PaymentOrder).where(PaymentOrder.out_trade_no == note.out_trade_no))
    if order is None or order.provider != adapter.name:
        _audit(session, "notify.unknown_order", None, f"{adapter.name}: {note.out_trade_no}")
        session.commit()
        return adapter.ack(False)
    session.commit()
    apply(session, order.id, note.status, amount_fen=note.amount_fen, txn_id=note.provider_txn_id,
          paid_at=note.paid_at, now=now, reason=note.reason)
    return adapter.ack(True)


def reconcile(session: Session, adapter: PaymentAdapter, order: PaymentOrder, now: datetime) -> PaymentOrder:
    """Ask the provider about an unfinished order and apply the answer (user's return, periodic job)."""
    if order.state not in OPEN_ORDER_STATES:
        return order
    session.commit()
    try:
        result = adapter.query(order.out_trade_no)
    except PaymentError:
        return order
    status = result.status
    if status in (ProviderStatus.NOT_PAID, ProviderStatus.NOT_FOUND) and now > order.expires_at:
        return close(session, adapter, order, now)
    return apply(session, order.id, status, amount_fen=result.amount_fen, txn_id=result.provider_txn_id,
                 paid_at=result.paid_at, now=now, reason=result.reason)


def close(session: Session, adapter: PaymentAdapter, order: PaymentOrder, now: datetime) -> PaymentOrder:
    """Close an unfinished order at the provider first, so the user can pay another way at once.

    If the provider says it was paid after all (WeChat ORDERPAID), it is settled instead.
    """
    if order.state not in OPEN_ORDER_STATES:
        return order
    session.commit()
    try:
        result = adapter.close(order.out_trade_no)
    except PaymentError as e:
        raise OrderError("暂时无法取消该订单，请稍后重试") from e
    if result.status is ProviderStatus.PAID:
        if result.amount_fen is None:
            q = adapter.query(order.out_trade_no)
            result = q if q.status is ProviderStatus.PAID else result
        return apply(session, order.id, ProviderStatus.PAID, amount_fen=result.amount_fen if result.amount_fen
                     is not None else order.amount_fen, txn_id=result.provider_txn_id, paid_at=result.paid_at,
                     now=now)
    return apply(session, order.id, ProviderStatus.CLOSED, amount_fen=None, txn_id="", paid_at=None, now=now)


def unfinished_orders(session: Session, older_than: datetime) -> list[PaymentOrder]:
    """Orders still open since before ``older_than`` (for the periodic reconciliation job)."""
    return list(session.scalars(select(PaymentOrder).where(PaymentOrder.state.in_(OPEN_ORDER_STATES),
                                                          PaymentOrder.updated_at < older_than)))


def reconcile_all(session: Session, adapters: Mapping[str, PaymentAdapter], older_than: datetime,
                  now: datetime) -> int:
    """Reconcile every unfinished order older than a cut-off, then send pending refunds; returns how
    many orders were looked at."""
    orders = unfinished_orders(session, older_than)
    for order in orders:
        adapter = adapters.get(order.provider)
        if adapter is not None:
            reconcile(session, adapter, order, now)
    send_refunds(session, adapters)
    return len(orders)


def send_refunds(session: Session, adapters: Mapping[str, PaymentAdapter]) -> int:
    """Ask the provider to return money recorded for refund (keyed by out_refund_no, so a retry is safe)."""
    pending = list(session.scalars(select(Refund).where(Refund.state == "requested")))
    session.commit()
    for refund in pending:
        order = session.get(PaymentOrder, refund.order_id)
        adapter = adapters.get(order.provider) if order else None
        if order is None or adapter is None:
            continue
        try:
            result = adapter.refund(order.out_trade_no, refund.out_refund_no, refund.amount_fen, order.amount_fen)
        except PaymentError:
            continue  # try again next run
        refund.state = "accepted" if result.accepted else "rejected"
        _audit(session, f"refund.{refund.state}", order, result.reason)
        session.commit()
    return len(pending)
