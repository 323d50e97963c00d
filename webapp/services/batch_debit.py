"""批量扣款 on the batch day (R-BD-1 … R-BD-4): every agreement with 是否银行代扣 = 是 in effect, each receivable
debited at most once whatever the reruns, crashes or concurrent workers.

How a run goes, so any number of workers can share it and a killed one costs nothing:

1. ``open_run``: one ``batch_run`` per batch day, and one ``batch_work`` row per agreement (a unique key
   makes planning twice, or by two workers at once, a no-op).
2. ``claim``: a worker, recorded with its host, process and heartbeat (``batch_worker``), takes a chunk of
   pending work rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite has one writer). A share claimed by a
   worker that is gone is taken again at once: its process no longer runs on this host, or (another host) its
   heartbeat stopped. A chunk that fails (the bank does not answer, an error) gives its rows back at once.
3. ``plan``: the chunk's debits (R-FP-5 groups), keyed ``debit_no`` per batch day, agreement and kind; their
   receivables are marked taken (申报处理中), so no one declares them while the bank decides. A rerun finds the
   debits already planned and plans nothing twice.
4. ``send``: the chunk's undecided debits (planned now, or by a worker that died) go to the bank as one file;
   the bank answers every debit_no once and returns the same answer to a resend, so money is never taken twice.
   A chunk with nothing due sends nothing: that is a normal outcome, not a silent bank.
5. ``apply``: successes settle their receivables (one ``settled_payment`` each: the unique constraint is the last
   guard); failures keep the bank's reason and free the receivables for the 10th–25th.
6. ``finish``: the run's ``finished_at`` once every row is done and every debit decided. A run its batch day left
   unfinished is closed out later (``close_out``): what the bank never received is cancelled there and freed.

Set-based SQL and executemany throughout: a chunk of 500 agreements is a handful of statements.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, Connection, String, Table, any_, bindparam, cast, func, literal, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnElement

from ..domain import batch_debit as rules
from ..domain.calendar import Month, batch_debit_date
from ..domain.flexible import FlexReceivable, current_period, cycle_for_month, window_periods
from ..domain.money import fen_to_yuan
from ..domain.policy import contribution_year
from ..domain.schemes import SchemeCode
from ..domain.statuses import (
    AgreementStatus,
    BatchDebitState,
    BatchWorkState,
    ChargeType,
    EnrolmentStatus,
    PensionAmountStatus,
    ReceivableStatus,
)
from ..models import (
    Agreement,
    BaseDeclaration,
    BatchDebit,
    BatchRun,
    BatchWork,
    BatchWorker,
    Enrolment,
    PensionAmount,
    Person,
    Receivable,
    SettledPayment,
)
from ..payments.bank import BankAdapter, DebitResult
from ..payments.base import PaymentError
from . import workers

#: Rows claimed before workers were recorded (no ``worker_id``) are taken again after this.
LEASE = timedelta(minutes=10)
CHUNK = 500
SessionFactory = Callable[[], Session]


@dataclass
class RunReport:
    """What one worker did in a run."""

    batch_day: date
    chunks: int = 0
    debits: int = 0
    succeeded: int = 0
    failed: int = 0
    unanswered: int = 0  # chunks the bank did not answer (given back at once; the run is to be run again)
    resumed: int = 0  # debits planned before (by a worker that died or a bank that did not answer), sent now
    taken_over: int = 0  # workers found gone, whose claims this one could take
    seconds: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)


def _insert_ignore(conn: Connection, table: Table, rows: list[dict[str, object]]) -> None:
    """Insert rows, skipping those whose unique key exists (small tables: the run and its work queue)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    if rows:
        conn.execute(dialect.insert(table).on_conflict_do_nothing(), rows)


# The chunk's big writes. PostgreSQL gets one statement each, its rows as arrays (``unnest``), compiled once;
# SQLite (tests, the embedded default) gets executemany.
_PG_DEBITS = text("""
    INSERT INTO batch_debit (run_id, agreement_id, payer_id, kind, debit_no, amount_fen, receivable_ids, state)
    SELECT :run_id, v.agreement_id, v.payer_id, v.kind, v.debit_no, v.amount_fen, v.receivable_ids, 'planned'
    FROM unnest(CAST(:agreement_ids AS bigint[]), CAST(:payer_ids AS bigint[]), CAST(:kinds AS text[]),
                CAST(:debit_nos AS text[]), CAST(:amounts AS bigint[]), CAST(:receivable_ids AS text[]))
         AS v(agreement_id, payer_id, kind, debit_no, amount_fen, receivable_ids)
    ON CONFLICT (debit_no) DO NOTHING""")
_PG_CLAIM = text("""
    UPDATE receivable SET batch_debit_id = v.debit_id
    FROM unnest(CAST(:ids AS bigint[]), CAST(:debit_ids AS bigint[])) AS v(id, debit_id) WHERE receivable.id = v.id""")
_PG_DECIDE = text("""
    UPDATE batch_debit SET state = :state, decided_at = :now, reason = v.reason, bank_txn = v.txn
    FROM unnest(CAST(:ids AS bigint[]), CAST(:reasons AS text[]), CAST(:txns AS text[])) AS v(id, reason, txn)
    WHERE batch_debit.id = v.id""")
_PG_SETTLE = text("""
    INSERT INTO settled_payment (receivable_id, batch_debit_id, payer_id, amount_fen, levy_voucher_no, paid_at,
                                 channel, method)
    SELECT v.receivable_id, v.debit_id, v.payer_id, v.amount_fen, v.voucher, :now, 'batch', 'agreement'
    FROM unnest(CAST(:receivable_ids AS bigint[]), CAST(:debit_ids AS bigint[]), CAST(:payer_ids AS bigint[]),
                CAST(:amounts AS bigint[]), CAST(:vouchers AS text[]))
         AS v(receivable_id, debit_id, payer_id, amount_fen, voucher)""")


_PG_RELEASE = text("""
    UPDATE receivable SET batch_debit_id = NULL
    WHERE id = ANY(CAST(:ids AS bigint[])) AND batch_debit_id = ANY(CAST(:debit_ids AS bigint[]))""")
_PG_PAID = text("""
    UPDATE receivable SET status = 'paid'
    WHERE id = ANY(CAST(:ids AS bigint[])) AND batch_debit_id = ANY(CAST(:debit_ids AS bigint[])) AND status = 'due'
    RETURNING id, batch_debit_id, amount_fen""")


def _pg(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


class _Among(ColumnElement[bool]):
    """``column IN (values)``; on PostgreSQL ``column = ANY(:array)``: one parameter for a chunk's thousand ids instead
    of a thousand (issue 21: the driver spent a tenth of a worker's time converting the placeholders)."""

    inherit_cache = False
    type = Boolean()

    def __init__(self, column: Any, values: Iterable[Any]) -> None:
        self.column, self.values = column, list(values)


@compiles(_Among)
def _among_default(element: _Among, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.column.in_(element.values), **kw)


@compiles(_Among, "postgresql")
def _among_pg(element: _Among, compiler: Any, **kw: Any) -> str:
    array = bindparam(None, element.values, type_=postgresql.ARRAY(element.column.type))
    return compiler.process(element.column == any_(array), **kw)


def _among(column: Any, values: Iterable[Any]) -> Any:
    return _Among(column, values)


def _write_debits(conn: Connection, run_id: int, debits: list[dict[str, object]]) -> None:
    if _pg(conn):
        conn.execute(
            _PG_DEBITS,
            {
                "run_id": run_id,
                **{
                    key: [d[col] for d in debits]
                    for key, col in (
                        ("agreement_ids", "agreement_id"),
                        ("payer_ids", "payer_id"),
                        ("kinds", "kind"),
                        ("debit_nos", "debit_no"),
                        ("amounts", "amount_fen"),
                        ("receivable_ids", "receivable_ids"),
                    )
                },
            },
        )
    else:
        _insert_ignore(
            conn, BatchDebit.__table__, [{**d, "run_id": run_id, "state": BatchDebitState.PLANNED} for d in debits]
        )


def _claim_receivables(conn: Connection, claims: list[tuple[int, int]]) -> None:
    if _pg(conn):
        conn.execute(_PG_CLAIM, {"ids": [r for r, _ in claims], "debit_ids": [d for _, d in claims]})
    else:
        table = Receivable.__table__
        conn.execute(
            update(table).where(table.c.id == bindparam("rid")).values(batch_debit_id=bindparam("bd")),
            [{"rid": r, "bd": d} for r, d in claims],
        )


def _decide(conn: Connection, state: str, now: datetime, rows: list[tuple[int, str | None, str | None]]) -> None:
    """(debit id, reason, bank txn) of debits the bank decided."""
    if _pg(conn):
        conn.execute(
            _PG_DECIDE,
            {
                "state": state,
                "now": now,
                "ids": [r[0] for r in rows],
                "reasons": [r[1] for r in rows],
                "txns": [r[2] for r in rows],
            },
        )
    else:
        table = BatchDebit.__table__
        conn.execute(
            update(table)
            .where(table.c.id == bindparam("k"))
            .values(state=state, decided_at=now, reason=bindparam("reason"), bank_txn=bindparam("txn")),
            [{"k": i, "reason": reason, "txn": txn} for i, reason, txn in rows],
        )


def _settle(conn: Connection, now: datetime, rows: list[tuple[int, int, int, int]]) -> None:
    """(receivable, debit, payer, fen) settled by a batch debit."""
    vouchers = [f"1001{now:%y}{r[0]:014d}" for r in rows]
    if _pg(conn):
        conn.execute(
            _PG_SETTLE,
            {
                "now": now,
                "receivable_ids": [r[0] for r in rows],
                "debit_ids": [r[1] for r in rows],
                "payer_ids": [r[2] for r in rows],
                "amounts": [r[3] for r in rows],
                "vouchers": vouchers,
            },
        )
    else:
        conn.execute(
            SettledPayment.__table__.insert(),
            [
                {
                    "receivable_id": r,
                    "batch_debit_id": d,
                    "order_id": None,
                    "payer_id": p,
                    "amount_fen": f,
                    "levy_voucher_no": v,
                    "paid_at": now,
                    "channel": "batch",
                    "method": "agreement",
                }
                for (r, d, p, f), v in zip(rows, vouchers, strict=True)
            ],
        )


def open_run(session: Session, day: date, now: datetime) -> BatchRun:
    """The run of a batch day, with a work row for every agreement it debits (idempotent, R-BD-1)."""
    conn = session.connection()
    _insert_ignore(conn, BatchRun.__table__, [{"batch_date": day, "started_at": now}])
    run = session.scalar(select(BatchRun).where(BatchRun.batch_date == day))
    assert run is not None
    agreements = select(Agreement.id).where(
        Agreement.status == AgreementStatus.SIGNED, Agreement.batch_debit.is_(True), Agreement.effective_on <= day
    )
    planned = set(session.scalars(select(BatchWork.agreement_id).where(BatchWork.run_id == run.id)))
    _insert_ignore(
        conn,
        BatchWork.__table__,
        [
            {"run_id": run.id, "agreement_id": a, "state": BatchWorkState.PENDING}
            for a in session.scalars(agreements)
            if a not in planned
        ],
    )
    return run


def enlist(session: Session, run_id: int, name: str, now: datetime) -> int:
    """Record this process as a worker of the run (host, pid, start time, heartbeat); returns its id."""
    me = workers.this_process()
    worker = BatchWorker(
        run_id=run_id,
        name=name[:40],
        host=me.host,
        pid=me.pid,
        proc_start=me.start,
        started_at=now,
        heartbeat_at=now,
    )
    session.add(worker)
    session.flush()
    return worker.id


def beat(session: Session, worker_id: int, now: datetime) -> None:
    """The worker is alive."""
    session.execute(update(BatchWorker).where(BatchWorker.id == worker_id).values(heartbeat_at=now))


def retire(session: Session, worker_id: int, now: datetime) -> None:
    """The worker is done with the run (whatever it held is free for others)."""
    session.execute(
        update(BatchWorker).where(BatchWorker.id == worker_id, BatchWorker.ended_at.is_(None)).values(ended_at=now)
    )


def reap(session: Session, run_id: int, now: datetime) -> int:
    """Mark gone the run's workers whose process no longer runs on this host (killed, crashed); returns how
    many. Workers on other hosts are judged by their heartbeat in ``claim``."""
    gone = [
        w.id
        for w in session.scalars(
            select(BatchWorker).where(BatchWorker.run_id == run_id, BatchWorker.ended_at.is_(None))
        )
        if workers.alive(workers.Process(w.host, w.pid, w.proc_start)) is False
    ]
    if gone:
        session.execute(update(BatchWorker).where(BatchWorker.id.in_(gone)).values(ended_at=now))
    return len(gone)


def claim(
    session: Session, run_id: int, worker: str, now: datetime, limit: int = CHUNK, *, worker_id: int | None = None
) -> list[int]:
    """Take up to ``limit`` agreements of the run that nobody holds: pending, or held by a worker that is gone
    (ended, or silent for longer than ``workers.STALE_AFTER``), or claimed without a worker record longer than
    ``LEASE`` ago."""
    gone = select(BatchWorker.id).where(
        BatchWorker.run_id == run_id,
        BatchWorker.ended_at.is_not(None) | (BatchWorker.heartbeat_at < workers.stale_before(now)),
    )
    held = BatchWork.state == BatchWorkState.CLAIMED
    # Pending rows first, in id order straight from ``ix_batch_work_run_state_id`` (one OR of the three kinds would
    # scan every row of the run on each claim: quadratic at 1 000 000, issue 21); then what the gone left.
    taken: list[int] = []
    for free_rows in (
        BatchWork.state == BatchWorkState.PENDING,
        (held & BatchWork.worker_id.in_(gone))
        | (held & BatchWork.worker_id.is_(None) & (BatchWork.claimed_at < now - LEASE)),
    ):
        free = (
            select(BatchWork.id)
            .where(BatchWork.run_id == run_id, free_rows)
            .order_by(BatchWork.id)
            .limit(limit - len(taken))
            .with_for_update(skip_locked=True)
        )
        taken += session.scalars(
            update(BatchWork)
            .where(BatchWork.id.in_(free.scalar_subquery()))
            .values(state=BatchWorkState.CLAIMED, claimed_by=worker[:40], claimed_at=now, worker_id=worker_id)
            .returning(BatchWork.agreement_id)
            .execution_options(synchronize_session=False)
        )
        if len(taken) >= limit:
            break
    return taken


def release(session: Session, run_id: int, agreement_ids: list[int]) -> int:
    """Give a chunk's rows back (the bank did not answer, or the chunk failed): claimable by anyone at once. Their
    debits stay planned and keep their numbers, so whoever takes the rows resends them and no money is taken
    twice. Returns how many rows went back."""
    return session.execute(  # type: ignore[attr-defined]  # an UPDATE's Result is a CursorResult
        update(BatchWork)
        .where(
            BatchWork.run_id == run_id,
            _among(BatchWork.agreement_id, agreement_ids),
            BatchWork.state == BatchWorkState.CLAIMED,
        )
        .values(state=BatchWorkState.PENDING, claimed_by=None, claimed_at=None, worker_id=None)
        .execution_options(synchronize_session=False)
    ).rowcount


def planned_count(session: Session, run_id: int, agreement_ids: list[int]) -> int:
    """How many of the chunk's debits are planned and undecided already (a crashed worker's, an unanswered file's)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(BatchDebit)
            .where(
                BatchDebit.run_id == run_id,
                _among(BatchDebit.agreement_id, agreement_ids),
                BatchDebit.state == BatchDebitState.PLANNED,
            )
        )
        or 0
    )


def plan(session: Session, run: BatchRun, agreement_ids: list[int]) -> int:
    """The chunk's debits and the receivables they take (R-FP-5); debits planned before are kept as they
    are. Returns how many debits were planned now."""
    if not agreement_ids:
        return 0
    done = set(
        session.scalars(
            select(BatchDebit.agreement_id).where(
                BatchDebit.run_id == run.id, _among(BatchDebit.agreement_id, agreement_ids)
            )
        )
    )
    agreements = list(
        session.scalars(
            select(Agreement).where(
                _among(Agreement.id, [a for a in agreement_ids if a not in done]),
                Agreement.status == AgreementStatus.SIGNED,
            )
        )
    )
    if not agreements:
        return 0
    by_payer = {(a.payer_id, a.tax_office): a for a in agreements}
    day = run.batch_date
    periods = [m.first_day for m in window_periods(day)]
    rows = session.execute(
        select(
            Receivable.id,
            Receivable.insured_id,
            Receivable.tax_office,
            Receivable.insurance,
            Receivable.fee_period_start,
            Receivable.amount_fen,
        )
        .join(Enrolment, Enrolment.id == Receivable.enrolment_id)
        .where(
            _among(Receivable.insured_id, {a.payer_id for a in agreements}),
            Receivable.scheme == SchemeCode.FLEXIBLE,
            Receivable.charge_type == ChargeType.NORMAL,
            Receivable.status == ReceivableStatus.DUE,
            Receivable.batch_debit_id.is_(None),
            Receivable.fee_period_start.in_(periods),
            Enrolment.status == EnrolmentStatus.ACTIVE,
        )
        .with_for_update(of=Receivable)
    ).all()
    items: dict[int, list[FlexReceivable]] = defaultdict(list)
    months = {p: Month.of(p) for p in periods}  # the window's three months, made once (not once per row)
    for rid, payer, office, insurance, period, fen in rows:
        a = by_payer.get((payer, office))
        if a is not None:
            items[a.id].append(
                FlexReceivable(
                    id=rid,
                    insurance=insurance,
                    fee_period=months.get(period) or Month.of(period),
                    amount=fen_to_yuan(fen),
                    charge_type="",
                    notice_no=None,
                )
            )
    pension: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for rid, payer, office, fen in _pension_due(session, {a.payer_id for a in agreements}, day):
        a = by_payer.get((payer, office))
        if a is not None:
            pension[a.id].append((rid, fen))
    payers = {a.payer_id for a in agreements if items.get(a.id)}
    cycles = _flex_cycles(session, payers, current_period(day))
    held = _medical_declared(session, payers, periods)
    debits: list[dict[str, object]] = []
    claims: list[tuple[int, int]] = []
    for a in agreements:
        for group in rules.flex_groups(items.get(a.id, []), day, cycles.get(a.payer_id, "monthly")):
            if group.kind == rules.MEDICAL and rules.medical_held(held.get((a.payer_id, a.tax_office), ()), day):
                continue
            debits.append(
                {
                    "agreement_id": a.id,
                    "payer_id": a.payer_id,
                    "kind": group.kind,
                    "debit_no": rules.debit_no(day, a.id, group.kind),
                    "amount_fen": group.amount_fen,
                    "receivable_ids": ",".join(str(r.id) for r in group.receivables),
                }
            )
        if pension.get(a.id):
            debits.append(
                {
                    "agreement_id": a.id,
                    "payer_id": a.payer_id,
                    "kind": rules.RESIDENT_PENSION,
                    "debit_no": rules.debit_no(day, a.id, rules.RESIDENT_PENSION),
                    "amount_fen": sum(fen for _, fen in pension[a.id]),
                    "receivable_ids": ",".join(str(rid) for rid, _ in pension[a.id]),
                }
            )
    if not debits:
        return 0
    conn = session.connection()
    _write_debits(conn, run.id, debits)
    ids = dict(
        session.execute(
            select(BatchDebit.debit_no, BatchDebit.id).where(
                BatchDebit.run_id == run.id, _among(BatchDebit.agreement_id, [a.id for a in agreements])
            )
        ).all()
    )
    for d in debits:
        claims += [(int(r), ids[str(d["debit_no"])]) for r in str(d["receivable_ids"]).split(",")]
    _claim_receivables(conn, claims)
    return len(debits)


def _flex_cycles(session: Session, payers: set[int], month: Month) -> dict[int, str]:
    """The 缴费周期 governing each payer's pension and unemployment of ``month`` (R-FB-5, R-FB-8): the one
    declared with the base of its contribution year; monthly when none was, for 享受补贴人员, and within 12
    months of legal retirement age. One read for the chunk."""
    if not payers:
        return {}
    rows = session.execute(
        select(
            Enrolment.person_id,
            Enrolment.region,
            Enrolment.subsidized,
            Person.birth_date,
            Person.sex,
            BaseDeclaration.contribution_year,
            BaseDeclaration.cycle,
        )
        .join(Person, Person.id == Enrolment.person_id)
        .join(BaseDeclaration, BaseDeclaration.enrolment_id == Enrolment.id)
        .where(
            _among(Enrolment.person_id, payers),
            Enrolment.scheme == SchemeCode.FLEXIBLE,
            BaseDeclaration.contribution_year.in_({month.year - 1, month.year}),
            BaseDeclaration.cycle != "monthly",
        )
    ).all()
    cycles: dict[int, str] = {}
    for person_id, region, subsidized, birth, sex, year, cycle in rows:
        if subsidized or year != contribution_year(month, region):
            continue
        cycles[person_id] = cycle_for_month(cycle, month, birth, sex)
    return cycles


def _medical_declared(session: Session, payers: set[int], periods: list[date]) -> dict[tuple[int, str], list[Month]]:
    """Medical months of the window each payer (and 税务机关) has declared and not paid: the batch day leaves
    that medical to the payer's own declaration (R-FP-5, ``rules.medical_held``)."""
    held: dict[tuple[int, str], list[Month]] = defaultdict(list)
    for payer, office, period in session.execute(
        select(Receivable.insured_id, Receivable.tax_office, Receivable.fee_period_start).where(
            _among(Receivable.insured_id, payers),
            Receivable.scheme == SchemeCode.FLEXIBLE,
            Receivable.charge_type == ChargeType.NORMAL,
            Receivable.insurance == rules.MEDICAL,
            Receivable.status == ReceivableStatus.DECLARED,
            Receivable.fee_period_start.in_(periods),
        )
    ):
        held[(payer, office)].append(Month.of(period))
    return held


def _pension_due(session: Session, payers: set[int], day: date) -> list[tuple[int, int, str, int]]:
    """Resident pension receivables the batch debit takes on ``day`` (R-BD-1, R-RP-1): the year's receivable
    at the amount the payer set, while that amount is active and its 缴费金额有效期 covers the day; a voided
    amount debits nothing. Both rows are locked, so a 作废 committed meanwhile is seen (and wins)."""
    return [
        (r[0], r[1], r[2], r[3])
        for r in session.execute(
            select(Receivable.id, Receivable.insured_id, Receivable.tax_office, Receivable.amount_fen)
            .join(Enrolment, Enrolment.id == Receivable.enrolment_id)
            .join(PensionAmount, PensionAmount.receivable_id == Receivable.id)
            .where(
                _among(Receivable.insured_id, payers),
                Receivable.scheme == SchemeCode.RESIDENT_PENSION,
                Receivable.charge_type == ChargeType.ANNUAL,
                Receivable.status == ReceivableStatus.DUE,
                Receivable.batch_debit_id.is_(None),
                Enrolment.status == EnrolmentStatus.ACTIVE,
                PensionAmount.status == PensionAmountStatus.ACTIVE,
                PensionAmount.amount_fen == Receivable.amount_fen,
                PensionAmount.valid_from <= day,
                PensionAmount.valid_to >= day,
            )
            .order_by(Receivable.id)
            .with_for_update(of=(Receivable, PensionAmount))
        ).all()
    ]


def send(
    sessions: SessionFactory, bank: BankAdapter, run_id: int, agreement_ids: list[int]
) -> dict[str, DebitResult] | None:
    """The chunk's undecided debits, as one file to the bank; its answers by debit_no. ``{}`` when the chunk has
    nothing to send (nothing due: a normal outcome), None when the bank did not answer."""
    with sessions() as s:
        planned = s.execute(
            select(
                BatchDebit.debit_no,
                BatchDebit.kind,
                BatchDebit.agreement_id,
                Agreement.agreement_no,
                BatchDebit.amount_fen,
            )
            .join(Agreement, Agreement.id == BatchDebit.agreement_id)
            .where(
                BatchDebit.run_id == run_id,
                _among(BatchDebit.agreement_id, agreement_ids),
                BatchDebit.state == BatchDebitState.PLANNED,
            )
        ).all()
    order = {k: i for i, k in enumerate(rules.ordered(list({p.kind for p in planned})))}
    planned = sorted(planned, key=lambda p: (p.agreement_id, order[p.kind]))
    if not planned:
        return {}
    try:
        results = bank.debit_batch([(p.debit_no, p.agreement_no, p.amount_fen) for p in planned])
    except PaymentError:
        return None  # the file is sent again: every debit keeps its number
    return {r.debit_no: r for r in results}


def apply(
    session: Session, run_id: int, agreement_ids: list[int], results: dict[str, DebitResult], now: datetime
) -> tuple[int, int, dict[str, int]]:
    """Settle what the bank took, keep the reason for what it did not; returns (succeeded, failed, reasons)."""
    conn = session.connection()
    planned = conn.execute(
        select(
            BatchDebit.id, BatchDebit.debit_no, BatchDebit.payer_id, BatchDebit.amount_fen, BatchDebit.receivable_ids
        ).where(
            BatchDebit.run_id == run_id,
            _among(BatchDebit.agreement_id, agreement_ids),
            BatchDebit.state == BatchDebitState.PLANNED,
        )
    ).all()
    covers = {debit_id: [int(r) for r in ids.split(",")] for debit_id, _no, _p, _a, ids in planned}
    ok: dict[int, int] = {}  # debit id → payer
    succeeded: list[tuple[int, str | None, str | None]] = []
    failed: list[tuple[int, str | None, str | None]] = []
    reasons: dict[str, int] = defaultdict(int)
    for debit_id, no, payer, amount, _ids in planned:
        r = results.get(no)
        if r is None:
            continue
        if r.succeeded and r.amount_fen == amount:
            ok[debit_id] = payer
            succeeded.append((debit_id, None, r.bank_txn))
        else:
            reason = (r.reason if not r.succeeded else "扣款金额与清单不一致")[:100]
            failed.append((debit_id, reason, None))
            reasons[reason] += 1
    table = Receivable.__table__
    if failed:
        _decide(conn, BatchDebitState.FAILED, now, failed)
        freed, by = [r for f in failed for r in covers[f[0]]], [f[0] for f in failed]
        conn.execute(_PG_RELEASE, {"ids": freed, "debit_ids": by}) if _pg(conn) else conn.execute(
            update(table).where(table.c.id.in_(freed), table.c.batch_debit_id.in_(by)).values(batch_debit_id=None)
        )
    if ok:
        _decide(conn, BatchDebitState.SUCCEEDED, now, succeeded)
        ids = [r for d in ok for r in covers[d]]
        taken = (
            conn.execute(_PG_PAID, {"ids": ids, "debit_ids": list(ok)}).all()
            if _pg(conn)
            else conn.execute(
                update(table)
                .where(
                    table.c.id.in_(ids), table.c.batch_debit_id.in_(list(ok)), table.c.status == ReceivableStatus.DUE
                )
                .values(status=ReceivableStatus.PAID)
                .returning(table.c.id, table.c.batch_debit_id, table.c.amount_fen)
            ).all()
        )
        _settle(conn, now, [(rid, bd, ok[bd], fen) for rid, bd, fen in taken])
    return len(ok), len(failed), dict(reasons)


def finish(session: Session, run_id: int, agreement_ids: list[int], now: datetime) -> int:
    """The chunk's agreements whose debits are all decided are done (one the bank left undecided goes back, to be
    resent); the run is finished once nothing is pending or claimed and every debit is decided. Returns how many
    rows went back."""
    undecided = select(BatchDebit.agreement_id).where(
        BatchDebit.run_id == run_id,
        _among(BatchDebit.agreement_id, agreement_ids),
        BatchDebit.state == BatchDebitState.PLANNED,
    )
    waiting = set(session.scalars(undecided))
    session.execute(
        update(BatchWork)
        .where(
            BatchWork.run_id == run_id, _among(BatchWork.agreement_id, [a for a in agreement_ids if a not in waiting])
        )
        .values(state=BatchWorkState.DONE)
        .execution_options(synchronize_session=False)
    )
    back = release(session, run_id, sorted(waiting)) if waiting else 0
    finish_run(session, run_id, now)
    return back


def finish_run(session: Session, run_id: int, now: datetime) -> bool:
    """Set the run's ``finished_at`` when every row is done and every debit decided; True when it is finished.

    The run's row is locked first, so workers finishing their last chunks at the same moment take turns: each
    counts after the one before has committed, and the last one sees every row done (without the lock, two
    workers each saw the other's chunk still claimed and nobody finished the run)."""
    session.execute(select(BatchRun.id).where(BatchRun.id == run_id).with_for_update())
    # Whether anything is left, not how much: one index probe each, not a count of the run's million rows per chunk
    # (issue 21: the count made the run quadratic at Beijing's scale).
    left = select(BatchWork.id).where(
        BatchWork.run_id == run_id, BatchWork.state.in_([BatchWorkState.PENDING, BatchWorkState.CLAIMED])
    )
    undecided = select(BatchDebit.id).where(BatchDebit.run_id == run_id, BatchDebit.state == BatchDebitState.PLANNED)
    if session.scalar(select(left.exists() | undecided.exists())):
        return False
    session.execute(
        update(BatchRun).where(BatchRun.id == run_id, BatchRun.finished_at.is_(None)).values(finished_at=now)
    )
    return True


def run(
    sessions: SessionFactory,
    bank: BankAdapter,
    day: date,
    now: Callable[[], datetime],
    *,
    worker: str = "worker",
    chunk: int = CHUNK,
    heartbeat_every: timedelta = workers.HEARTBEAT_EVERY,
) -> RunReport:
    """One worker's share of the batch day's run, until nothing is left to claim. Safe to start on any number
    of workers at once, and again after a crash: it takes over what dead workers held and resends what they
    planned. A chunk the bank does not answer is given back at once and the worker stops (``unanswered``)."""
    started = time.monotonic()
    report = RunReport(day)
    with sessions() as s:
        run_row = open_run(s, day, now())
        s.commit()
        run_id = run_row.id
    with sessions() as s:
        worker_id = enlist(s, run_id, worker, now())
        s.commit()

    def heartbeat() -> None:
        with sessions() as s:
            beat(s, worker_id, now())
            s.commit()

    try:
        with workers.Heartbeat(heartbeat, heartbeat_every):
            _work(sessions, bank, run_id, worker_id, worker, now, chunk, report)
    finally:
        with sessions() as s:
            retire(s, worker_id, now())
            s.commit()
    report.seconds = time.monotonic() - started
    return report


def _work(
    sessions: SessionFactory,
    bank: BankAdapter,
    run_id: int,
    worker_id: int,
    worker: str,
    now: Callable[[], datetime],
    chunk: int,
    report: RunReport,
) -> None:
    while True:
        with sessions() as s:
            report.taken_over += reap(s, run_id, now())
            ids = claim(s, run_id, worker, now(), chunk, worker_id=worker_id)
            if not ids:
                finish_run(s, run_id, now())  # nothing left to claim: the run may be over (another worker's last chunk)
            s.commit()
        if not ids:
            return
        report.chunks += 1
        try:
            with sessions() as s:
                report.resumed += planned_count(s, run_id, ids)
                run_row = s.get(BatchRun, run_id)
                assert run_row is not None
                plan(s, run_row, ids)
                s.commit()
            results = send(sessions, bank, run_id, ids)
            if results is None:
                report.unanswered += 1
                with sessions() as s:
                    release(s, run_id, ids)
                    s.commit()
                return  # the bank is not answering: stop here, rerun later (nothing is held meanwhile)
            with sessions() as s:
                ok, failed, reasons = apply(s, run_id, ids, results, now())
                undecided = finish(s, run_id, ids, now())
                s.commit()
        except BaseException:
            # Whatever broke (an error, Ctrl-C), the chunk goes back at once; its planned debits keep their numbers.
            with sessions() as s:
                release(s, run_id, ids)
                s.commit()
            raise
        report.succeeded += ok
        report.failed += failed
        report.debits += ok + failed
        for k, v in reasons.items():
            report.reasons[k] = report.reasons.get(k, 0) + v
        if undecided:  # the bank answered the file but left debits undecided: do not loop on it, stop as unanswered
            report.unanswered += 1
            return


def unfinished_runs(session: Session, before: date) -> list[tuple[int, date]]:
    """Runs of batch days before ``before`` that never finished (a bank that did not answer, workers that died)."""
    return [
        (rid, day)
        for rid, day in session.execute(
            select(BatchRun.id, BatchRun.batch_date)
            .where(BatchRun.finished_at.is_(None), BatchRun.batch_date < before)
            .order_by(BatchRun.batch_date)
        )
    ]


def close_out(sessions: SessionFactory, bank: BankAdapter, run_id: int, now: Callable[[], datetime]) -> RunReport:
    """Finish a run whose batch day has passed, so nothing stays 申报处理中: every undecided debit is asked of the
    bank and cancelled there if it never arrived (it can never be taken after that); what the bank took settles,
    what it did not frees its receivables (the payer pays them the 10th–25th); rows never planned are done
    without a debit. Stops at a bank that does not answer (``unanswered``), to be tried on the next run."""
    with sessions() as s:
        day = s.scalar(select(BatchRun.batch_date).where(BatchRun.id == run_id))
        planned = s.execute(
            select(BatchDebit.debit_no, BatchDebit.agreement_id).where(
                BatchDebit.run_id == run_id, BatchDebit.state == BatchDebitState.PLANNED
            )
        ).all()
    assert day is not None
    report = RunReport(day)
    results: dict[str, DebitResult] = {}
    for no, _agreement in planned:
        try:
            results[no] = bank.cancel_debit(no)
        except PaymentError:
            report.unanswered += 1
            break
    with sessions() as s:
        ids = sorted({a for no, a in planned if no in results})
        ok, failed, reasons = apply(s, run_id, ids, results, now()) if ids else (0, 0, {})
        if not report.unanswered:
            s.execute(
                update(BatchWork)
                .where(BatchWork.run_id == run_id, BatchWork.state != BatchWorkState.DONE)
                .values(state=BatchWorkState.DONE)
                .execution_options(synchronize_session=False)
            )
        finish_run(s, run_id, now())
        s.commit()
    report.succeeded, report.failed, report.debits, report.reasons = ok, failed, ok + failed, dict(reasons)
    report.resumed = len(results)
    return report


def batch_day_of(today: date) -> date:
    """This month's batch day (the 8th, or the next working day)."""
    return batch_debit_date(today.year, today.month)


def failures_for(session: Session, payer_id: int, today: date, scheme: str) -> list[BatchDebit]:
    """The payer's failed debits of one scheme in this month's batch run, to show with the bank's reason and
    what to do (R-BD-3); only while the month's payment is still open, and only while something the debit
    covered is still unpaid (once paid another way, the failure is history, not a warning)."""
    kinds = rules.KINDS_OF_SCHEME.get(SchemeCode(scheme), ())
    day = batch_day_of(today)
    if today < day:
        return []
    return list(session.scalars(_FAILURES, {"day": day, "payer_id": payer_id, "kinds": list(kinds)}))


_FAILURES = (
    select(BatchDebit)
    .join(BatchRun, BatchRun.id == BatchDebit.run_id)
    .where(
        BatchRun.batch_date == bindparam("day"),
        BatchDebit.payer_id == bindparam("payer_id"),
        BatchDebit.state == BatchDebitState.FAILED,
        BatchDebit.kind.in_(bindparam("kinds", expanding=True)),
        # receivable_ids is "12,13,14": a receivable is covered when ",<id>," is in ",12,13,14,".
        select(Receivable.id)
        .where(
            Receivable.insured_id == BatchDebit.payer_id,
            Receivable.status != ReceivableStatus.PAID,
            (literal(",") + BatchDebit.receivable_ids + literal(",")).contains(
                literal(",") + cast(Receivable.id, String) + literal(",")
            ),
        )
        .exists(),
    )
    .order_by(BatchDebit.id)
)  # built once: every service page asks
