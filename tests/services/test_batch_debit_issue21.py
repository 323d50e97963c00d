"""Issue 21: no statement of a batch-debit chunk grows with the run. Id lists go to PostgreSQL as one array, and the
indexes the chunk's look-ups need exist (migration 0013_speed, the models)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from webapp.models import BatchDebit, BatchWork
from webapp.services.batch_debit import _among


def test_issue21_id_lists_are_one_array_parameter_on_postgresql() -> None:
    """A chunk's thousand ids: ``= ANY(%(…)s)`` with one parameter on PostgreSQL, ``IN`` on SQLite."""
    stmt = select(BatchDebit.id).where(_among(BatchDebit.agreement_id, range(1000)))
    pg = stmt.compile(dialect=postgresql.psycopg.dialect())
    assert "= ANY" in str(pg) and len(pg.params) == 1 and list(pg.params.values())[0] == list(range(1000))
    lite = str(stmt.compile(dialect=sqlite.dialect(), compile_kwargs={"render_postcompile": True}))
    assert " IN (" in lite


def test_issue21_the_chunk_lookups_have_their_indexes() -> None:
    """Debits by (run, agreement); work rows by (run, state, id), so pending rows come in id order from the index."""
    debit = {tuple(c.name for c in i.columns) for i in BatchDebit.__table__.indexes}
    work = {tuple(c.name for c in i.columns) for i in BatchWork.__table__.indexes}
    assert ("run_id", "agreement_id") in debit
    assert ("run_id", "state", "id") in work
