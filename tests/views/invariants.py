"""What must hold in the database after any request, whatever it carried: nothing half-written."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from webapp.domain.statuses import DeclarationStatus, ReceivableStatus
from webapp.models import (
    Declaration,
    DeclarationItem,
    FamilyPayee,
    Person,
    Receivable,
    SettledPayment,
)


def broken_rows(app: Flask) -> list[str]:
    """Every row that contradicts another: a declaration without items or with a wrong total, a receivable
    whose status disagrees with its declaration or its payment, a saved family member who is no one."""
    problems: list[str] = []
    with app.extensions["db_sessionmaker"]() as s:
        totals = dict(
            s.execute(
                select(DeclarationItem.declaration_id, func.sum(DeclarationItem.amount_fen)).group_by(
                    DeclarationItem.declaration_id
                )
            ).all()
        )
        for d in s.scalars(select(Declaration)):
            if d.id not in totals:
                problems.append(f"declaration {d.id} has no items")
            elif totals[d.id] != d.total_fen:
                problems.append(f"declaration {d.id} total {d.total_fen} != items {totals[d.id]}")
        paid = set(s.scalars(select(SettledPayment.receivable_id)))
        for r in s.scalars(select(Receivable)):
            decl = s.get(Declaration, r.declaration_id) if r.declaration_id else None
            live = decl is not None and decl.status is DeclarationStatus.DECLARED
            if r.status is ReceivableStatus.DECLARED and not live:
                problems.append(f"receivable {r.id} declared without a live declaration")
            if (r.status is ReceivableStatus.PAID) != (r.id in paid):
                problems.append(f"receivable {r.id} is {r.status} but settled={r.id in paid}")
        people = set(s.scalars(select(Person.id)))
        for f in s.scalars(select(FamilyPayee)):
            if f.insured_id not in people or f.payer_id not in people:
                problems.append(f"family payee {f.id} points at no one")
    return problems


def count(app: Flask, model: type) -> int:
    """How many rows a table holds."""
    with app.extensions["db_sessionmaker"]() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)
