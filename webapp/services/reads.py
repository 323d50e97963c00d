"""One read of a person's standing in a scheme (issue 21): their enrolment and every receivable of the scheme, in one
statement, kept for the rest of the unit of work so each rule that cuts it (what is due and on sale, the year's state,
the 正常/特殊 items, why there is nothing to pay) cuts it in Python instead of asking the database again.

The copy lasts while the session writes nothing: any flush, ORM INSERT/UPDATE/DELETE, commit or rollback drops it,
so a page that writes (a declaration, an amount set) reads afresh after. A person has a few dozen receivables of a
scheme at most (a year per insurance, and the 人社核定 items), so reading them all is one small indexed read.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, event, select
from sqlalchemy.orm import ORMExecuteState, Session

from ..models import Enrolment, Receivable

_MEMO = "scheme_reads"


def standing(session: Session, person_id: int, scheme: str) -> tuple[Enrolment | None, list[Receivable]]:
    """The person's enrolment in ``scheme`` (None if not enrolled) and all their receivables of it, by id."""
    memo: dict[tuple[int, str], tuple[Enrolment | None, list[Receivable]]] = session.info.setdefault(_MEMO, {})
    key = (person_id, scheme)
    if key not in memo:
        rows = session.execute(
            select(Enrolment, Receivable)
            .outerjoin(
                Receivable,
                and_(Receivable.insured_id == Enrolment.person_id, Receivable.scheme == Enrolment.scheme),
            )
            .where(Enrolment.person_id == person_id, Enrolment.scheme == scheme)
            .order_by(Enrolment.id, Receivable.id)
        ).all()
        enrolment = rows[0][0] if rows else None
        seen: dict[int, Receivable] = {}
        for _, r in rows:
            if r is not None:
                seen.setdefault(r.id, r)
        memo[key] = (enrolment, list(seen.values()))
    return memo[key]


def forget(session: Session) -> None:
    """Drop the session's copies (it wrote, or its transaction ended)."""
    session.info.pop(_MEMO, None)


def _on_execute(state: ORMExecuteState) -> None:
    if not state.is_select:
        forget(state.session)


def _on_flush(session: Session, *_: Any) -> None:
    forget(session)


event.listen(Session, "do_orm_execute", _on_execute)
for _name in ("after_flush", "after_commit", "after_rollback", "after_soft_rollback"):
    event.listen(Session, _name, _on_flush)
