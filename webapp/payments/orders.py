"""The app's payment core: orders, their forward-only state machine, and settling exactly once
(R-PA-1 … R-PA-6). Plain functions over a SQLAlchemy session and the provider adapters: no Flask.

created → paying → paid | closed | failed | unapplied (``OrderState``).

Exactly once, whatever the taps, tabs, workers or notifications:

- Everything that changes an order first locks its declaration (``SELECT … FOR UPDATE`` on
  PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises writers), then the order. Starting an order
  holds that lock across the provider's create call, so a second tap waits and then finds the
  order: the same cashier for the same method (R-PA-4), or a close the provider confirms before a
  new order for another method. No tap can close an order whose create is still in flight.
- An order is closed only when the provider confirms it; a provider that does not answer leaves it
  open (and the user is told), never "closed" on a guess.
- Settlement inserts one ``SettledPayment`` per receivable; its unique constraint on
  ``receivable_id`` is the last guard.
- A payment either settles its fee or goes back in full (issue 17 D1). A notification that cannot
  settle (another amount, a closed order, a declaration no longer owed) proves nothing by itself: the
  order is closed at the provider first, and only the provider's own answer counts. Closed there:
  nothing was taken, the order is closed. Paid there: the amount its query gives settles the fee when
  it is the order's and the declaration is still owed; otherwise the order is ``unapplied`` and exactly
  that amount is refunded, one refund per order keyed by ``out_refund_no``, sent and asked about again
  until the provider confirms it (``send_refunds``). Amounts parse exactly or the message is refused.

The functions flush and leave the commit to their caller (the request, or the job's unit of work),
except the jobs' loops at the bottom, which take a session factory and commit per order.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..domain.schemes import SCHEMES
from ..domain.statuses import (
    OPEN_ORDER_STATES,
    DeclarationStatus,
    OrderState,
    ReceivableStatus,
    RefundState,
)
from ..models import (
    AuditEvent,
    Declaration,
    DeclarationItem,
    NotificationTally,
    PaymentOrder,
    Receivable,
    Refund,
    SettledPayment,
    utcnow,
)
from .base import (
    AckResponse,
    OrderRequest,
    PaymentAdapter,
    PaymentError,
    ProviderRefused,
    ProviderStatus,
    RefundRequest,
    RefundResult,
    RefundStatus,
    SignatureError,
)

#: An open order is offered again (same cashier) only while this much of its validity is left.
REUSE_MARGIN = timedelta(minutes=2)
MSG_CREATE_FAILED = "支付渠道暂时无法下单，请稍后重试或选择其他支付方式"
MSG_CLOSE_FAILED = "暂时无法确认上一笔订单已关闭，为避免重复扣款，请稍后重试"
MSG_WRONG_AMOUNT = "支付金额与应缴金额不一致，该笔款项将原路退回，请重新缴费"
MSG_NOT_PAYABLE = "该订单支付时，申报已作废或已通过其他订单缴费，该笔款项将原路退回"
MSG_UNCONFIRMED = "支付渠道未确认收款，订单已关闭，未扣款。可重新选择支付方式缴费。"
#: Money that settles nothing and came back to the payer (or is on its way): what the payer is told.
REFUND_REASON = "缴费未成功，原路退回"

Adapters = Mapping[str, PaymentAdapter]
SessionFactory = Callable[[], Session]


class OrderError(Exception):
    """The order cannot be started or changed; the message is for the user. Nothing was written."""


@dataclass(frozen=True)
class Urls:
    """Absolute URLs the provider needs for one order."""

    notify_url: str
    return_url: str  # "{out_trade_no}" in it is replaced by the order's number


def new_out_trade_no(now: datetime) -> str:
    """``SB`` + time + random: 26 chars of [0-9A-Z], valid for all three providers."""
    return f"SB{now.astimezone(UTC):%Y%m%d%H%M%S}{secrets.token_hex(5).upper()}"


def _audit(
    session: Session, kind: str, order: PaymentOrder | None, detail: str = "", actor_id: int | None = None
) -> None:
    session.add(
        AuditEvent(kind=kind, subject=order.out_trade_no if order else "", detail=detail[:500], actor_id=actor_id)
    )


# ----------------------------------------------------------------------------------------- locks and reads


def lock_declaration(session: Session, declaration_id: int, *, skip_locked: bool = False) -> Declaration | None:
    """Re-read a declaration under a row lock (the serialisation point of its payment); None if it does
    not exist, or (``skip_locked``) if another worker holds it."""
    stmt = select(Declaration).where(Declaration.id == declaration_id).with_for_update(skip_locked=skip_locked)
    return session.execute(stmt, execution_options={"populate_existing": True}).scalar_one_or_none()


def _lock_order(session: Session, order_id: int) -> PaymentOrder:
    stmt = select(PaymentOrder).where(PaymentOrder.id == order_id).with_for_update()
    return session.execute(stmt, execution_options={"populate_existing": True}).scalar_one()


def open_order(session: Session, declaration_id: int) -> PaymentOrder | None:
    """The declaration's unfinished order, if any (at most one: a partial unique index)."""
    return session.scalar(
        select(PaymentOrder).where(
            PaymentOrder.declaration_id == declaration_id, PaymentOrder.state.in_(OPEN_ORDER_STATES)
        )
    )


def paid_order(session: Session, declaration_id: int) -> PaymentOrder | None:
    """The order that paid the declaration, if any."""
    return session.scalar(
        select(PaymentOrder).where(PaymentOrder.declaration_id == declaration_id, PaymentOrder.state == OrderState.PAID)
    )


def _reusable(order: PaymentOrder, provider: str, now: datetime) -> bool:
    return (
        order.provider == provider
        and order.state is OrderState.PAYING
        and bool(order.cashier_url)
        and now < order.expires_at - REUSE_MARGIN
    )


def _open_and_owed(session: Session, declaration_id: int) -> tuple[int | None, int, int]:
    """One statement: the declaration's open order (its id), and the sum and count of its receivables still
    declared."""
    declared = (Receivable.declaration_id == declaration_id, Receivable.status == ReceivableStatus.DECLARED)
    row = session.execute(
        select(
            select(PaymentOrder.id)
            .where(PaymentOrder.declaration_id == declaration_id, PaymentOrder.state.in_(OPEN_ORDER_STATES))
            .limit(1)
            .scalar_subquery(),
            select(func.coalesce(func.sum(Receivable.amount_fen), 0)).where(*declared).scalar_subquery(),
            select(func.count(Receivable.id)).where(*declared).scalar_subquery(),
        )
    ).one()
    return row[0], int(row[1] or 0), int(row[2] or 0)


def _pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _audit_values(kind: str, order: PaymentOrder, detail: str, actor_id: int | None) -> dict[str, object]:
    return {"at": utcnow(), "actor_id": actor_id, "kind": kind, "subject": order.out_trade_no, "detail": detail[:500]}


def _write_with_audit(
    session: Session, order: PaymentOrder, values: dict[str, object], audit: tuple[str, str, int | None]
) -> None:
    """PostgreSQL: UPDATE the order and INSERT its audit row in one statement (a data-modifying CTE); the session's
    copy of the order takes the values as written (no second UPDATE at flush)."""
    table = PaymentOrder.__table__
    kind, detail, actor_id = audit
    audited = insert(AuditEvent.__table__).values(**_audit_values(kind, order, detail, actor_id)).cte("audited")
    with session.no_autoflush:
        session.execute(update(table).where(table.c.id == order.id).values(**values).add_cte(audited))
    for key, value in values.items():
        set_committed_value(order, key, value)


# ----------------------------------------------------------------------------------------- starting


def start(
    session: Session,
    adapters: Adapters,
    provider: str,
    *,
    declaration_id: int,
    channel: str,
    now: datetime,
    urls: Urls,
    expire_minutes: int,
    actor_id: int | None = None,
    agreement_no: str = "",
) -> PaymentOrder:
    """确认缴费: the order to send the buyer to (R-PA-1, R-PA-4).

    Returns the open order with its cashier (an existing one for the same method, or a new one), or
    the order that paid the declaration. A provider that refused or did not answer gives back an
    order in ``failed`` or ``created`` with ``failure_reason``; the caller shows that message. A provider
    that decides at once (协议支付: the bank debits ``agreement_no``) gives back the order paid or failed.
    Raises ``OrderError`` (having written nothing) when the declaration cannot be paid.
    """
    decl = lock_declaration(session, declaration_id)
    if decl is None:
        raise OrderError("申报不存在，请重新申报")
    adapter = adapters.get(provider)
    if adapter is None:
        raise OrderError("请选择本渠道支持的支付方式")
    if decl.status is DeclarationStatus.PAID:
        paid = paid_order(session, decl.id)
        if paid is not None:
            return paid
        raise OrderError("该申报已缴费，无需再支付")
    if decl.status is not DeclarationStatus.DECLARED:
        raise OrderError("该申报已作废，请重新申报")
    # After the lock, one read (a fresh snapshot): the open order, and what the declaration's receivables still owe.
    open_id, amount, owed = _open_and_owed(session, decl.id)
    if open_id is not None:
        existing = _lock_order(session, open_id)
        if _reusable(existing, provider, now):
            return existing
        existing = _close_locked(session, adapters, decl, existing, now)  # OrderError if not confirmed
        if existing.state is OrderState.PAID:
            return existing
        _, amount, owed = _open_and_owed(session, decl.id)
    if not owed or amount != decl.total_fen:
        raise OrderError("缴费信息已变化，请返回重新申报")
    order = PaymentOrder(
        out_trade_no=new_out_trade_no(now),
        declaration_id=decl.id,
        payer_id=decl.payer_id,
        provider=adapter.name,
        channel=channel,
        amount_fen=amount,
        state=OrderState.CREATED,
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(minutes=expire_minutes),
    )
    session.add(order)
    session.flush()
    try:
        created = adapter.create(
            OrderRequest(
                out_trade_no=order.out_trade_no,
                amount_fen=amount,
                description=SCHEMES[decl.scheme].order_subject,
                expire_at=order.expires_at,
                notify_url=urls.notify_url,
                return_url=urls.return_url.replace("{out_trade_no}", order.out_trade_no),
                created_at=now,
                agreement_no=agreement_no,
            )
        )
    except ProviderRefused as e:
        order.state, order.failure_reason = OrderState.FAILED, MSG_CREATE_FAILED
        _audit(session, "order.create_refused", order, str(e), actor_id)
        return order
    except PaymentError as e:
        # Unknown: the provider may have the order. It stays ``created`` until a close is confirmed.
        order.failure_reason = MSG_CREATE_FAILED
        _audit(session, "order.create_unknown", order, str(e), actor_id)
        return order
    if created.status is None and _pg(session):
        # The common case in one statement: the order goes to the cashier, and its audit row (issue 21).
        _write_with_audit(
            session,
            order,
            {"state": OrderState.PAYING, "cashier_url": created.cashier_url, "updated_at": now},
            ("order.created", f"{adapter.name} {amount}", actor_id),
        )
        return order
    _audit(session, "order.created", order, f"{adapter.name} {amount}", actor_id)
    if created.status is not None:  # decided at once, in the provider's own answer
        return _apply_locked(
            session,
            adapter,
            decl,
            order,
            created.status,
            amount_fen=order.amount_fen if created.amount_fen is None else created.amount_fen,
            txn_id=created.provider_txn_id,
            paid_at=now,
            now=now,
            reason=created.reason,
            confirmed=True,
        )
    order.state, order.cashier_url, order.updated_at = OrderState.PAYING, created.cashier_url, now
    return order


# ----------------------------------------------------------------------------------------- what providers say


class Unresolved(PaymentError):
    """A message that cannot settle, and the provider could not be asked what it took: try again later."""


def apply(
    session: Session,
    adapter: PaymentAdapter,
    order_id: int,
    status: ProviderStatus,
    *,
    amount_fen: int | None,
    txn_id: str,
    paid_at: datetime | None,
    now: datetime,
    reason: str = "",
    confirmed: bool = False,
) -> PaymentOrder:
    """Move an order forward on what its provider said; idempotent. ``confirmed`` when the provider said it in
    answer to our own call (a query, a close), not in a message that came to us. ``Unresolved`` (nothing
    written) when a message cannot settle and the provider does not answer the question it raises."""
    of_order = select(PaymentOrder.declaration_id).where(PaymentOrder.id == order_id).scalar_subquery()
    decl = session.execute(
        select(Declaration).where(Declaration.id == of_order).with_for_update(),
        execution_options={"populate_existing": True},
    ).scalar_one()
    # After the declaration's lock, one read: the order (locked too) with the declaration's receivables.
    found = session.execute(
        select(PaymentOrder, Receivable)
        .join(DeclarationItem, DeclarationItem.declaration_id == PaymentOrder.declaration_id)
        .join(Receivable, Receivable.id == DeclarationItem.receivable_id)
        .where(PaymentOrder.id == order_id)
        .order_by(Receivable.id)
        .with_for_update(of=PaymentOrder),
        execution_options={"populate_existing": True},
    ).all()
    if found:
        order, receivables = found[0][0], [r for _, r in found]
    else:  # a declaration without items (none is made so): the reads one by one
        order, receivables = _lock_order(session, order_id), None
    return _apply_locked(
        session,
        adapter,
        decl,
        order,
        status,
        amount_fen=amount_fen,
        txn_id=txn_id,
        paid_at=paid_at,
        now=now,
        reason=reason,
        confirmed=confirmed,
        receivables=receivables,
    )


def _apply_locked(
    session: Session,
    adapter: PaymentAdapter,
    decl: Declaration,
    order: PaymentOrder,
    status: ProviderStatus,
    *,
    amount_fen: int | None,
    txn_id: str,
    paid_at: datetime | None,
    now: datetime,
    reason: str = "",
    confirmed: bool,
    receivables: list[Receivable] | None = None,
) -> PaymentOrder:
    if status is ProviderStatus.PAID:
        return _paid(
            session,
            adapter,
            decl,
            order,
            amount_fen,
            txn_id=txn_id,
            paid_at=paid_at,
            now=now,
            confirmed=confirmed,
            receivables=receivables,
        )
    if status is ProviderStatus.CLOSED and order.state.is_open:
        order.state, order.updated_at = OrderState.CLOSED, now
        _audit(session, "order.closed", order)
    elif status is ProviderStatus.FAILED and order.state.is_open:
        order.state, order.failure_reason, order.updated_at = OrderState.FAILED, (reason or "支付失败")[:200], now
        _audit(session, "order.failed", order, reason)
    # PAYING / NOT_PAID / NOT_FOUND / REFUNDED: nothing moves.
    return order


def _paid(
    session: Session,
    adapter: PaymentAdapter,
    decl: Declaration,
    order: PaymentOrder,
    amount_fen: int | None,
    *,
    txn_id: str,
    paid_at: datetime | None,
    now: datetime,
    confirmed: bool,
    receivables: list[Receivable] | None = None,
) -> PaymentOrder:
    """Money taken, says the provider (or a message claiming to be it): settle the fee, or give it back.
    ``receivables``: the declaration's, read under its lock (``apply`` reads them with the order)."""
    if order.state in (OrderState.PAID, OrderState.UNAPPLIED):
        # The provider takes at most once per order number: what was settled (or is being refunded) stands.
        _audit(session, "order.duplicate_paid", order, f"{amount_fen}")
        return order
    if receivables is None:
        receivables = _receivables(session, decl)
    settles = order.state.is_open and amount_fen == order.amount_fen and _payable(decl, receivables)
    if not confirmed and not settles:
        # A message that cannot settle proves nothing: close the order at the provider first (no cashier can
        # take money on it after this) and go by what the provider itself says it took.
        try:
            answer = adapter.close(order.out_trade_no)
        except PaymentError as e:
            raise Unresolved(str(e)) from e
        if answer.status is not ProviderStatus.PAID:
            if answer.status not in (ProviderStatus.CLOSED, ProviderStatus.FAILED, ProviderStatus.NOT_FOUND):
                raise Unresolved(f"close answered {answer.status}")
            if order.state.is_open:
                order.state, order.failure_reason, order.updated_at = OrderState.CLOSED, MSG_UNCONFIRMED, now
            _audit(session, "order.paid_unconfirmed", order, f"said {amount_fen}, provider: {answer.status.value}")
            return order
        amount_fen, txn_id = answer.amount_fen, answer.provider_txn_id or txn_id
        paid_at = answer.paid_at or paid_at
        if amount_fen is None:
            raise Unresolved("the provider did not say what it took")
        settles = order.state.is_open and amount_fen == order.amount_fen and _payable(decl, receivables)
    assert amount_fen is not None
    if settles and _pg(session):
        _settle_in_one(session, decl, order, receivables, txn_id=txn_id, paid_at=paid_at or now, now=now)
        return order
    order.provider_txn_id, order.paid_at, order.updated_at = txn_id, paid_at or now, now
    if settles:
        _settle(session, decl, order, receivables)
    elif amount_fen != order.amount_fen:
        _unapply(
            session,
            order,
            amount_fen,
            MSG_WRONG_AMOUNT,
            "order.amount_mismatch",
            f"provider took {amount_fen} != ours {order.amount_fen}",
            now,
        )
    else:
        _unapply(
            session,
            order,
            amount_fen,
            MSG_NOT_PAYABLE,
            "order.paid_unpayable",
            f"order {order.state}, declaration {decl.status}",
            now,
        )
    return order


def _receivables(session: Session, decl: Declaration) -> list[Receivable]:
    """The declaration's receivables as the database has them now (read under the declaration's lock)."""
    ids = [i.receivable_id for i in decl.items]
    return list(
        session.scalars(
            select(Receivable).where(Receivable.id.in_(ids)).order_by(Receivable.id),
            execution_options={"populate_existing": True},
        )
    )


def _payable(decl: Declaration, receivables: list[Receivable]) -> bool:
    """The declaration is still owed, all of it, by this declaration."""
    return (
        decl.status is DeclarationStatus.DECLARED
        and bool(receivables)
        and all(r.status is ReceivableStatus.DECLARED and r.declaration_id == decl.id for r in receivables)
    )


def _settle(session: Session, decl: Declaration, order: PaymentOrder, receivables: list[Receivable]) -> None:
    """Record the money: each receivable of the declaration paid once (R-PA-1)."""
    assert order.paid_at is not None
    for r in receivables:
        r.status = ReceivableStatus.PAID
        session.add(
            SettledPayment(
                receivable_id=r.id,
                order_id=order.id,
                payer_id=order.payer_id,
                amount_fen=r.amount_fen,
                paid_at=order.paid_at,
                channel=order.channel,
                method=order.provider,
                levy_voucher_no=f"1001{order.paid_at:%y}{r.id:014d}",
            )
        )
    decl.status = DeclarationStatus.PAID
    order.state = OrderState.PAID
    session.flush()  # the unique receivable_id fails here, inside the caller's transaction, if ever
    _audit(session, "order.paid", order, order.provider_txn_id or "")


def _settle_in_one(
    session: Session,
    decl: Declaration,
    order: PaymentOrder,
    receivables: list[Receivable],
    *,
    txn_id: str,
    paid_at: datetime,
    now: datetime,
) -> None:
    """``_settle`` as one statement on PostgreSQL (issue 21): the settled rows inserted, and, in data-modifying CTEs,
    the receivables, the declaration and the order marked paid and the audit row written. The unique
    ``receivable_id`` still fails the statement (and the caller's transaction) if a receivable was ever settled."""
    ids = [r.id for r in receivables]
    r_t, d_t, o_t = Receivable.__table__, Declaration.__table__, PaymentOrder.__table__
    order_values = {"state": OrderState.PAID, "provider_txn_id": txn_id, "paid_at": paid_at, "updated_at": now}
    ctes = [
        update(r_t).where(r_t.c.id.in_(ids)).values(status=ReceivableStatus.PAID).cte("paid_receivables"),
        update(d_t).where(d_t.c.id == decl.id).values(status=DeclarationStatus.PAID).cte("paid_declaration"),
        update(o_t).where(o_t.c.id == order.id).values(**order_values).cte("paid_order"),
        insert(AuditEvent.__table__).values(**_audit_values("order.paid", order, txn_id or "", None)).cte("audited"),
    ]
    rows = [
        {
            "receivable_id": r.id,
            "order_id": order.id,
            "payer_id": order.payer_id,
            "amount_fen": r.amount_fen,
            "paid_at": paid_at,
            "channel": order.channel,
            "method": order.provider,
            "levy_voucher_no": f"1001{paid_at:%y}{r.id:014d}",
        }
        for r in receivables
    ]
    with session.no_autoflush:
        session.execute(insert(SettledPayment.__table__).values(rows).add_cte(*ctes))
    for r in receivables:
        set_committed_value(r, "status", ReceivableStatus.PAID)
    set_committed_value(decl, "status", DeclarationStatus.PAID)
    for key, value in order_values.items():
        set_committed_value(order, key, value)


def _unapply(
    session: Session, order: PaymentOrder, taken_fen: int, message: str, kind: str, detail: str, now: datetime
) -> PaymentOrder:
    """Money the provider took that cannot settle the declaration: record it and send exactly that back, once
    per order (R-PA-4, R-PA-5). The declaration stays as it was (freed, when it is still owed), so the payer
    can pay again."""
    order.state, order.paid_amount_fen, order.failure_reason = OrderState.UNAPPLIED, taken_fen, message
    if session.scalar(select(Refund.id).where(Refund.order_id == order.id)) is None:
        session.add(
            Refund(
                order_id=order.id,
                out_refund_no=f"RF{order.out_trade_no}",
                amount_fen=taken_fen,
                reason=message[:200],
                created_at=now,
            )
        )
    _audit(session, kind, order, detail)
    return order


def handle_notification(
    session: Session, adapter: PaymentAdapter, headers: Mapping[str, str], body: bytes, now: datetime
) -> tuple[AckResponse, PaymentOrder | None]:
    """Verify a provider notification, settle on it at most once, and answer as the provider expects.

    A forged, stale, unreadable or unknown-order notification is refused in the provider's own words
    (it retries, then gives up) and counted in ``notification_tally`` (one row per provider, minute and
    reason, not one audit row each: a flood of forgeries stays small); a verified one is acknowledged
    once applied.
    """
    try:
        note = adapter.verify_notification(headers, body)
    except SignatureError as e:
        tally_refusal(session, adapter.name, "bad_signature", str(e), now)
        return adapter.ack(False), None
    except (PaymentError, ValueError, TypeError, KeyError, ArithmeticError) as e:  # whatever a body can be
        tally_refusal(session, adapter.name, "unreadable", str(e) or type(e).__name__, now)
        return adapter.ack(False), None
    order_id = (
        session.scalar(
            select(PaymentOrder.id).where(
                PaymentOrder.out_trade_no == note.out_trade_no, PaymentOrder.provider == adapter.name
            )
        )
        if _ORDER_NO.fullmatch(note.out_trade_no)
        else None
    )
    if order_id is None:
        tally_refusal(session, adapter.name, "unknown_order", note.out_trade_no.encode("unicode_escape").decode(), now)
        return adapter.ack(False), None
    try:
        order = apply(
            session,
            adapter,
            order_id,
            note.status,
            amount_fen=note.amount_fen,
            txn_id=note.provider_txn_id,
            paid_at=note.paid_at,
            now=now,
            reason=note.reason,
        )
    except Unresolved as e:
        # Signed, but it cannot settle and the provider did not answer: let it retry (the job asks too).
        unresolved = session.get(PaymentOrder, order_id)
        assert unresolved is not None
        _audit(session, "order.notification_unresolved", unresolved, str(e))
        return adapter.ack(False), unresolved
    return adapter.ack(True), order


_ORDER_NO = re.compile(r"[0-9A-Za-z_-]{1,64}")


def signed_by(adapter: PaymentAdapter, headers: Mapping[str, str], body: bytes) -> bool:
    """Whether a notification is correctly signed and readable (its key, signature, freshness, amount); reads and
    writes nothing else."""
    try:
        adapter.verify_notification(headers, body)
    except (PaymentError, ValueError, TypeError, KeyError, ArithmeticError):
        return False
    return True


def tally_refusal(session: Session, provider: str, outcome: str, detail: str, now: datetime) -> None:
    """Count a refused notification in its provider's row for this minute and reason (an upsert)."""
    table = NotificationTally.__table__
    minute = now.astimezone(UTC).replace(second=0, microsecond=0)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(table).values(
        provider=provider[:20], minute=minute, outcome=outcome, count=1, last_detail=detail[:200]
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["provider", "minute", "outcome"],
            set_={"count": table.c.count + 1, "last_detail": stmt.excluded.last_detail},
        )
    )


# ----------------------------------------------------------------------------------------- asking and closing


def reconcile(
    session: Session, adapters: Adapters, order_id: int, now: datetime, *, wait: bool = True
) -> PaymentOrder | None:
    """Ask the provider about an unfinished order and apply the answer (the user's return, the poll,
    the periodic job). An order whose create was never confirmed, or that expired unpaid, is closed.
    With ``wait=False`` an order another worker is busy with is skipped (None)."""
    decl_id = session.scalar(select(PaymentOrder.declaration_id).where(PaymentOrder.id == order_id))
    decl = lock_declaration(session, decl_id, skip_locked=not wait) if decl_id is not None else None
    if decl is None:
        return None
    order = _lock_order(session, order_id)
    adapter = adapters.get(order.provider)
    if not order.state.is_open or adapter is None:
        return order
    if order.state is OrderState.CREATED:
        return _close_quietly(session, adapters, decl, order, now)
    try:
        result = adapter.query(order.out_trade_no)
    except PaymentError:
        return order
    if result.status in (ProviderStatus.NOT_PAID, ProviderStatus.NOT_FOUND) and now > order.expires_at:
        return _close_quietly(session, adapters, decl, order, now)
    return _apply_locked(
        session,
        adapter,
        decl,
        order,
        result.status,
        amount_fen=result.amount_fen,
        txn_id=result.provider_txn_id,
        paid_at=result.paid_at,
        now=now,
        reason=result.reason,
        confirmed=True,
    )


def close(session: Session, adapters: Adapters, order_id: int, now: datetime) -> PaymentOrder:
    """取消支付: close an unfinished order at the provider first, so the user can pay another way at once.

    Returns the order closed, or paid if the provider says it was paid after all. ``OrderError`` when
    the provider does not confirm: the order stays open, nothing is assumed.
    """
    decl_id = session.scalar(select(PaymentOrder.declaration_id).where(PaymentOrder.id == order_id))
    assert decl_id is not None, order_id
    decl = lock_declaration(session, decl_id)
    assert decl is not None
    return _close_locked(session, adapters, decl, _lock_order(session, order_id), now)


def close_open(session: Session, adapters: Adapters, declaration_id: int, now: datetime) -> PaymentOrder | None:
    """Close the declaration's unfinished order, if any (before a void); the order, or None."""
    decl = lock_declaration(session, declaration_id)
    existing = open_order(session, declaration_id) if decl is not None else None
    if decl is None or existing is None:
        return None
    return _close_locked(session, adapters, decl, _lock_order(session, existing.id), now)


def _close_locked(
    session: Session, adapters: Adapters, decl: Declaration, order: PaymentOrder, now: datetime
) -> PaymentOrder:
    if not order.state.is_open:
        return order
    adapter = adapters[order.provider]
    try:
        result = adapter.close(order.out_trade_no)
    except PaymentError as e:
        _audit(session, "order.close_unconfirmed", order, str(e))
        raise OrderError(MSG_CLOSE_FAILED) from e
    if result.status is ProviderStatus.PAID:
        return _apply_locked(
            session,
            adapter,
            decl,
            order,
            ProviderStatus.PAID,
            txn_id=result.provider_txn_id,
            amount_fen=order.amount_fen if result.amount_fen is None else result.amount_fen,
            paid_at=result.paid_at,
            now=now,
            confirmed=True,
        )
    if result.status not in (ProviderStatus.CLOSED, ProviderStatus.FAILED):
        raise OrderError(MSG_CLOSE_FAILED)
    return _apply_locked(
        session,
        adapter,
        decl,
        order,
        result.status,
        amount_fen=None,
        txn_id="",
        paid_at=None,
        now=now,
        reason=result.reason,
        confirmed=True,
    )


def _close_quietly(
    session: Session, adapters: Adapters, decl: Declaration, order: PaymentOrder, now: datetime
) -> PaymentOrder:
    try:
        return _close_locked(session, adapters, decl, order, now)
    except OrderError:
        return order  # try again on the next run


# ----------------------------------------------------------------------------------------- jobs


def reconcile_due(sessions: SessionFactory, adapters: Adapters, now: datetime, older_than: datetime) -> int:
    """The periodic job: every order unfinished since before ``older_than``, one transaction each,
    skipping those another worker holds; then the refunds. Returns how many orders were looked at."""
    with sessions() as s:
        ids = list(
            s.scalars(
                select(PaymentOrder.id)
                .where(PaymentOrder.state.in_(OPEN_ORDER_STATES), PaymentOrder.updated_at < older_than)
                .order_by(PaymentOrder.id)
            )
        )
    for order_id in ids:
        with sessions() as s:
            reconcile(s, adapters, order_id, now, wait=False)
            s.commit()
    send_refunds(sessions, adapters, now)
    return len(ids)


UNFINISHED_REFUNDS = (RefundState.REQUESTED, RefundState.PROCESSING)


def send_refunds(sessions: SessionFactory, adapters: Adapters, now: datetime, *, order_id: int | None = None) -> int:
    """Send the refunds not sent yet and ask again about those the provider has not finished (all, or one
    order's), one transaction each, skipping those another worker holds; keyed by ``out_refund_no``, so a retry
    never gives back twice. A provider that does not answer is asked again on the next run. Returns how many
    refunds are finished (已退款) now."""
    with sessions() as s:
        stmt = select(Refund.id).where(Refund.state.in_(UNFINISHED_REFUNDS))
        if order_id is not None:
            stmt = stmt.where(Refund.order_id == order_id)
        ids = list(s.scalars(stmt.order_by(Refund.id)))
    finished = 0
    for refund_id in ids:
        with sessions() as s:
            refund = s.execute(
                select(Refund)
                .where(Refund.id == refund_id, Refund.state.in_(UNFINISHED_REFUNDS))
                .with_for_update(skip_locked=True)
            ).scalar_one_or_none()
            adapter = adapters.get(refund.order.provider) if refund is not None else None
            if refund is None or adapter is None:
                continue
            refund.attempts, refund.updated_at = refund.attempts + 1, now
            try:
                _advance_refund(s, adapter, refund, now)
            except PaymentError as e:
                refund.last_error = str(e)[:200]
            finished += refund.state is RefundState.SUCCEEDED
            s.commit()
    return finished


def _refund_request(refund: Refund) -> RefundRequest:
    order = refund.order
    return RefundRequest(
        out_trade_no=order.out_trade_no,
        out_refund_no=refund.out_refund_no,
        amount_fen=refund.amount_fen,
        total_fen=order.paid_amount_fen if order.paid_amount_fen is not None else order.amount_fen,
        provider_txn_id=order.provider_txn_id or "",
        requested_at=refund.created_at,
    )


def _advance_refund(session: Session, adapter: PaymentAdapter, refund: Refund, now: datetime) -> None:
    """One step of a refund: ask about one the provider has, (re)send one it has not, and record its answer."""
    if refund.state is RefundState.PROCESSING:
        answer = adapter.refund_status(_refund_request(refund))
        if answer.status is RefundStatus.NOT_FOUND:  # it never arrived: send it again, same number
            answer = adapter.refund(_refund_request(refund))
    else:
        answer = adapter.refund(_refund_request(refund))
        if answer.status is RefundStatus.REFUSED:
            answer = _refused(session, adapter, refund, answer, now)
    _record_refund(session, refund, answer, now)
    if refund.state is RefundState.PROCESSING:  # often finished by now: ask once, else on the next run
        try:
            _record_refund(session, refund, adapter.refund_status(_refund_request(refund)), now)
        except PaymentError as e:
            refund.last_error = str(e)[:200]


def _record_refund(session: Session, refund: Refund, answer: RefundResult, now: datetime) -> None:
    if refund.state is RefundState.VOID:
        return
    if answer.provider_refund_id:
        refund.provider_refund_id = answer.provider_refund_id[:64]
    if answer.status is RefundStatus.SUCCEEDED:
        refund.state, refund.refunded_at, refund.last_error = RefundState.SUCCEEDED, answer.refunded_at or now, None
        _audit(session, "refund.succeeded", refund.order, str(refund.amount_fen))
    elif answer.status is RefundStatus.PROCESSING:
        refund.state, refund.last_error = RefundState.PROCESSING, None
    else:  # refused, or lost at the provider: stays owed and is sent again on the next run
        refund.state, refund.last_error = RefundState.REQUESTED, (answer.reason or answer.status.value)[:200]


def _refused(
    session: Session, adapter: PaymentAdapter, refund: Refund, answer: RefundResult, now: datetime
) -> RefundResult:
    """The provider refused a refund: ask it what it took on the order. Nothing (a refund recorded on what a
    message claimed, before issue 17): close the order there and the refund is void. Another amount, never
    sent yet: that amount is owed instead. Anything else stays owed and is retried (and audited)."""
    order = refund.order
    taken = adapter.query(order.out_trade_no)
    if taken.status in (ProviderStatus.NOT_PAID, ProviderStatus.NOT_FOUND, ProviderStatus.PAYING):
        taken = adapter.close(order.out_trade_no)
    if taken.status in (ProviderStatus.CLOSED, ProviderStatus.FAILED, ProviderStatus.NOT_FOUND):
        refund.state, refund.last_error = RefundState.VOID, answer.reason[:200] or None
        order.state, order.failure_reason, order.paid_amount_fen = OrderState.CLOSED, MSG_UNCONFIRMED, 0
        _audit(session, "refund.void", order, f"provider took nothing: {answer.reason}")
        return answer
    if taken.status is ProviderStatus.PAID and taken.amount_fen and taken.amount_fen != refund.amount_fen:
        refund.amount_fen = order.paid_amount_fen = taken.amount_fen
        _audit(session, "refund.amount_corrected", order, f"provider took {taken.amount_fen}")
        return adapter.refund(_refund_request(refund))
    _audit(session, "refund.refused", order, answer.reason)
    return answer


def refund_view(refunds: list[Refund]) -> tuple[str, datetime | None] | None:
    """What the payer reads about an order's money going back: ("退款中", None) until the provider confirms,
    then ("已退款", the date); None when nothing goes back."""
    live = [r for r in refunds if r.state is not RefundState.VOID]
    if not live:
        return None
    if all(r.state is RefundState.SUCCEEDED for r in live):
        return "已退款", max(r.refunded_at for r in live if r.refunded_at is not None)
    return "退款中", None


def refunds_of(session: Session, order_id: int) -> list[Refund]:
    """The refunds recorded for an order (退款中 / 已退款 on its result page)."""
    return list(session.scalars(select(Refund).where(Refund.order_id == order_id).order_by(Refund.id)))


def open_orders_count(session: Session) -> int:
    """How many orders are unfinished (for the housekeeping command)."""
    return (
        session.scalar(select(func.count()).select_from(PaymentOrder).where(PaymentOrder.state.in_(OPEN_ORDER_STATES)))
        or 0
    )
