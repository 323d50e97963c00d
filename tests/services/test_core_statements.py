"""Issue 21: the payment core's statements. A payment (declare, start the order, settle on the provider's word) runs
at most 10 SQL statements on PostgreSQL (reads merged after each lock, ``RETURNING``, one settle statement with its
updates and audit row in data-modifying CTEs); SQLite, without those CTEs, runs the same steps one by one. Exactly
once is held by tests/views/test_concurrency.py, test_money.py and test_orders.py on both."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import func, select

from webapp.models import AuditEvent, Declaration, DeclarationItem, PaymentOrder, Receivable, SettledPayment
from webapp.payments import orders
from webapp.payments.base import ProviderStatus

from .conftest import start

CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA")
BUDGET = {"postgresql": 10, "sqlite": 17}


def test_issue21_a_payment_runs_at_most_10_statements_on_postgresql(app, declare, resident) -> None:  # type: ignore[no-untyped-def]
    """declare + start + settle: ≤ 10 statements on PostgreSQL, and every row written as before."""
    seen: list[str] = []

    def on_execute(_conn, _cursor, statement, _params, _context, _many):  # type: ignore[no-untyped-def]
        if not statement.lstrip().upper().startswith(CONTROL):
            seen.append(" ".join(statement.split())[:120])

    engine = app.extensions["db_engine"]
    sa.event.listen(engine, "before_cursor_execute", on_execute)
    try:
        decl_id = declare()
        order = start(app, decl_id, visit=False)
        with app.extensions["db_sessionmaker"]() as s:
            orders.apply(
                s,
                app.extensions["payment_adapters"]["wechat"],
                order.id,
                ProviderStatus.PAID,
                amount_fen=order.amount_fen,
                txn_id="T1",
                paid_at=app.extensions["clock"].now(),
                now=app.extensions["clock"].now(),
            )
            s.commit()
    finally:
        sa.event.remove(engine, "before_cursor_execute", on_execute)
    dialect = engine.dialect.name
    seen = [q for q in seen if not q.startswith("SELECT receivable.id FROM receivable WHERE")]  # the fixture's own read
    assert len(seen) <= BUDGET[dialect], "\n".join(seen)
    with app.extensions["db_sessionmaker"]() as s:
        decl = s.get(Declaration, decl_id)
        paid = s.scalars(select(Receivable).where(Receivable.declaration_id == decl_id)).all()
        assert decl.status == "paid" and paid and all(r.status == "paid" for r in paid)
        assert s.get(PaymentOrder, order.id).state == "paid"
        assert s.get(PaymentOrder, order.id).provider_txn_id == "T1"
        settled = s.scalars(select(SettledPayment).where(SettledPayment.order_id == order.id)).all()
        assert sorted(x.receivable_id for x in settled) == sorted(r.id for r in paid)
        assert sum(x.amount_fen for x in settled) == decl.total_fen == order.amount_fen
        items = s.scalar(
            select(func.count()).select_from(DeclarationItem).where(DeclarationItem.declaration_id == decl_id)
        )
        assert items == len(paid)
        kinds = set(s.scalars(select(AuditEvent.kind)))
        assert {"declaration.created", "order.created", "order.paid"} <= kinds
