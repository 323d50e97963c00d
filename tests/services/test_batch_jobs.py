"""Batch-debit runs that never stall or strand (issue 17 D7, issue 16 item 4, R-BD-2): "nothing due" is a normal
outcome, a chunk the bank does not answer goes back at once and the run says so (exit 1), a rerun takes over what
a killed worker held as soon as it is known gone (its process gone from this host, or its heartbeat stopped on
another) and resends what it planned, ``finished_at`` is set when every row is done, and a run its batch day left
unfinished is closed out so nothing stays 申报处理中. Each receivable is debited at most once throughout."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update

from tests.factories import at, make_agreement, make_flex_worker, make_pension_payer
from webapp import jobs
from webapp.models import BatchDebit, BatchRun, BatchWork, BatchWorker, Receivable, SettledPayment
from webapp.payments.sim import controls
from webapp.services import batch_debit, workers

from ..conftest import TODAY

BATCH_DAY = date(2026, 11, 9)
MEDICAL, PENSION, UNEMPLOYMENT = 58492, 160000, 8000  # 2025 numbers, base 8000 (fen)
DUE = 3 * MEDICAL + PENSION + UNEMPLOYMENT  # what one worker's batch day takes: medical 08–10, pension and
# unemployment 10


@pytest.fixture
def people(app, providers):
    """``people(n_due, n_nothing)``: flexible workers owing 08–10 with a funded batch-debit agreement, and resident
    pension payers with an agreement and nothing the batch day can take (no amount set)."""

    def make(n_due: int = 1, n_nothing: int = 0):
        with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
            due = [make_flex_worker(s, f"批扣{i}", unpaid_months=3) for i in range(n_due)]
            for p in due:
                make_agreement(s, p, providers)
            nothing = [make_pension_payer(s, f"无扣{i}", amount=None) for i in range(n_nothing)]
            for p in nothing:
                make_agreement(s, p, providers)
            s.commit()
        return due, nothing

    return make


def _clock(day=BATCH_DAY, minutes=0):
    return lambda: at(day, 6) + timedelta(minutes=minutes)


def _run(app, worker="w1", chunk=500, now=None):
    return batch_debit.run(
        app.extensions["db_sessionmaker"],
        app.extensions["payment_adapters"]["agreement"],
        BATCH_DAY,
        now or _clock(),
        worker=worker,
        chunk=chunk,
    )


def _rows(app):
    """The run's work rows by state, its finished_at, and receivables held 申报处理中."""
    with app.extensions["db_sessionmaker"]() as s:
        states = dict(s.execute(select(BatchWork.state, func.count()).group_by(BatchWork.state)).all())
        finished = s.scalar(select(BatchRun.finished_at).where(BatchRun.batch_date == BATCH_DAY))
        held = s.scalar(
            select(func.count())
            .select_from(Receivable)
            .where(Receivable.batch_debit_id.is_not(None), Receivable.status == "due")
        )
    return {str(k): v for k, v in states.items()}, finished, held


def _once(app, providers):
    """R-BD-2: every debit number went to the bank's books once, every receivable settled at most once, and what
    the bank took is what was settled."""
    debits = controls.debits(providers)
    assert len({d["debit_no"] for d in debits}) == len(debits)
    taken = sum(d["amount_fen"] for d in debits if d["code"] == "00")
    with app.extensions["db_sessionmaker"]() as s:
        settled = s.scalar(
            select(func.coalesce(func.sum(SettledPayment.amount_fen), 0)).where(
                SettledPayment.batch_debit_id.is_not(None)
            )
        )
        dupes = s.execute(
            select(SettledPayment.receivable_id).group_by(SettledPayment.receivable_id).having(func.count() > 1)
        ).all()
    assert dupes == []
    assert taken == settled
    return taken


def test_D7_a_chunk_with_nothing_due_is_a_normal_outcome_and_the_run_finishes(app, providers, people):
    """Before: a chunk with nothing due was reported 银行未应答 and exited 1; its rows stayed claimed after the lease
    and after reruns, and finished_at stayed empty."""
    people(n_due=1, n_nothing=2)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["batch-debit", "run", "--date", "2026-11-09", "--chunk", "1"])
    assert first.exit_code == 0, first.output
    assert "3 debits in 3 chunks" in first.output and "银行未应答" not in first.output
    states, finished, held = _rows(app)
    assert states == {"done": 3} and finished is not None and held == 0
    again = runner.invoke(args=["batch-debit", "run", "--date", "2026-11-09"])
    assert again.exit_code == 0 and "0 debits in 0 chunks" in again.output
    assert _once(app, providers) == DUE


def test_D7_a_chunk_the_bank_does_not_answer_goes_back_at_once_and_the_rerun_resumes_it(app, providers, people):
    """Issue 16 item 4: the run that cannot reach the bank exits non-zero, leaving its chunk claimable at once (no
    lease held by a finished process); the rerun resends the planned debits and says so."""
    people(n_due=2)
    controls.set(providers, "bank", unavailable=True)
    runner = app.test_cli_runner()
    down = runner.invoke(args=["batch-debit", "run", "--date", "2026-11-09"])
    assert down.exit_code != 0 and "银行未应答" in down.output
    states, finished, held = _rows(app)
    assert states == {"pending": 2} and finished is None
    assert held == 10  # planned, maybe received: held 申报处理中 until the bank answers (never taken twice)
    controls.set(providers, "bank")
    again = runner.invoke(args=["batch-debit", "run", "--date", "2026-11-09"])  # at once, same clock
    assert again.exit_code == 0, again.output
    assert "6 debited" in again.output and "resumed 6 debits" in again.output
    states, finished, held = _rows(app)
    assert states == {"done": 2} and finished is not None and held == 0
    assert _once(app, providers) == 2 * DUE


class Blackhole:
    """A bank that takes the connection and never answers (a worker sending to it hangs until it is killed)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        for c in self.conns:
            c.close()
        self.sock.close()


def _planned(app) -> int:
    with app.extensions["db_sessionmaker"]() as s:
        return s.scalar(select(func.count()).select_from(BatchDebit).where(BatchDebit.state == "planned")) or 0


def test_D7_a_worker_killed_between_planning_and_sending_is_taken_over_at_once(app, providers, people):
    """Before: a worker SIGKILLed after planning held its receivables (596 of them in the probe) 申报处理中 for the
    whole 10-minute lease, and an immediate rerun did nothing. Now the rerun sees the process gone from this host,
    takes its claims over and sends what it planned: each receivable debited once."""
    people(n_due=2)
    bank = Blackhole()
    env = {
        **os.environ,
        "DATABASE_URL": str(app.config["DATABASE_URL"]),
        "INSTANCE_PATH": app.instance_path,
        "SECRET_KEY": "test",
        "APP_TODAY": TODAY,
        "BANK_BASE_URL": f"http://127.0.0.1:{bank.port}/sim/bank",
        "PAYMENT_TRANSPORT": "http",
        "RATELIMIT_ENABLED": "0",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "webapp", "batch-debit", "run", "--date", "2026-11-09"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while _planned(app) < 6 and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.05)
        assert _planned(app) == 6, "the worker did not get to plan its chunk"
        time.sleep(0.2)  # it is sending into the blackhole now
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
        bank.close()
    states, finished, held = _rows(app)
    assert states == {"claimed": 2} and held == 10  # what the probe saw: held 申报处理中 by a dead process
    report = _run(app, worker="rerun")  # at once: the same minute, no lease to wait for
    assert (report.taken_over, report.resumed, report.succeeded, report.unanswered) == (1, 6, 6, 0)
    states, finished, held = _rows(app)
    assert states == {"done": 2} and finished is not None and held == 0
    assert _once(app, providers) == 2 * DUE


def _claimed_by_a_worker_elsewhere(app, heartbeat_minutes_ago: float, limit: int = 500) -> None:
    """A worker on another host claimed ``limit`` agreements and planned their debits, then went silent."""
    sessions = app.extensions["db_sessionmaker"]
    now = at(BATCH_DAY, 6)
    with sessions() as s:
        run = batch_debit.open_run(s, BATCH_DAY, now)
        wid = batch_debit.enlist(s, run.id, "far", now)
        s.execute(
            update(BatchWorker)
            .where(BatchWorker.id == wid)
            .values(host="worker-7.elsewhere", pid=4242, heartbeat_at=now - timedelta(minutes=heartbeat_minutes_ago))
        )
        ids = batch_debit.claim(s, run.id, "far", now, limit, worker_id=wid)
        batch_debit.plan(s, run, ids)
        s.commit()


def test_D7_a_worker_on_another_host_is_taken_over_once_its_heartbeat_stops(app, providers, people):
    people(n_due=2)
    _claimed_by_a_worker_elsewhere(app, heartbeat_minutes_ago=0.2)
    alive = _run(app, worker="here")
    assert alive.chunks == 0 and alive.debits == 0  # it beat 12 s ago: it is working, leave its share
    assert _rows(app)[0] == {"claimed": 2}
    later = _run(app, worker="here", now=_clock(minutes=2))  # no beat for over a minute: gone
    assert (later.resumed, later.succeeded) == (6, 6)
    states, finished, held = _rows(app)
    assert states == {"done": 2} and finished is not None and held == 0
    assert _once(app, providers) == 2 * DUE


def test_D7_workers_record_their_host_pid_and_heartbeat_and_end(app, providers, people, monkeypatch):
    people(n_due=1)
    beats = []
    real_beat = batch_debit.beat
    monkeypatch.setattr(batch_debit, "beat", lambda s, wid, now: (beats.append(wid), real_beat(s, wid, now)))
    real_send = batch_debit.send

    def slow_send(*a, **kw):
        time.sleep(0.35)  # a bank that takes its time: the heartbeat goes on meanwhile
        return real_send(*a, **kw)

    monkeypatch.setattr(batch_debit, "send", slow_send)
    report = batch_debit.run(
        app.extensions["db_sessionmaker"],
        app.extensions["payment_adapters"]["agreement"],
        BATCH_DAY,
        _clock(),
        worker="beating",
        heartbeat_every=timedelta(seconds=0.1),
    )
    assert report.succeeded == 3 and len(beats) >= 2
    with app.extensions["db_sessionmaker"]() as s:
        w = s.scalar(select(BatchWorker).where(BatchWorker.name == "beating"))
        me = workers.this_process()
        assert (w.host, w.pid, w.proc_start) == (me.host, me.pid, me.start) and w.ended_at is not None
    assert workers.alive(me) is True
    assert workers.alive(workers.Process(me.host, me.pid, "1")) is False  # a pid handed to another process
    assert workers.alive(workers.Process("elsewhere", me.pid, me.start)) is None


def test_D7_a_run_its_batch_day_left_unfinished_is_closed_out_and_nothing_stays_held(
    app, providers, people, monkeypatch, phone_user
):
    """The bank never answered on the batch day. The next day's job asks the bank about each planned debit: one
    it had taken (its answer was lost) settles; one it never received is cancelled there (it can never be taken)
    and its receivables are freed for the 10th–25th, with the reason shown; the run is finished."""
    (first, second), _ = people(n_due=2)
    real_send = batch_debit.send
    calls = []

    def lossy(sessions, bank, run_id, ids):
        calls.append(ids)
        if len(calls) == 1:
            real_send(sessions, bank, run_id, ids)  # the bank took the first chunk; its answer was lost
        return None

    monkeypatch.setattr(batch_debit, "send", lossy)
    assert _run(app, chunk=1).unanswered == 1
    assert _run(app, chunk=1, worker="w2").unanswered == 1  # the first chunk again: unanswered again
    monkeypatch.undo()
    # Only the first agreement's file reached the bank; the second agreement was never even planned.
    app.extensions["clock"].set(at(date(2026, 11, 10), 6))
    assert jobs.batch_debit_today(app) == 3
    states, finished, held = _rows(app)
    assert states == {"done": 2} and finished is not None and held == 0
    assert _once(app, providers) == DUE
    with app.extensions["db_sessionmaker"]() as s:
        left = s.scalar(
            select(func.count())
            .select_from(Receivable)
            .where(Receivable.insured_id == second.id, Receivable.status == "due")
        )
    assert left == 9  # nothing debited after its day: the payer pays all of it the 10th–25th


def test_R_BD_2_on_a_dead_workers_run_three_workers_at_once_debit_each_receivable_once(app, providers):
    """A worker on another host planned a chunk and died; three workers then share the run at once (PostgreSQL:
    FOR UPDATE SKIP LOCKED; SQLite: one writer). Every receivable is debited at most once."""
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        people = [make_flex_worker(s, f"并发{i}", unpaid_months=1) for i in range(15)]
        for p in people:
            make_agreement(s, p, providers)
        s.commit()
    _claimed_by_a_worker_elsewhere(app, heartbeat_minutes_ago=5, limit=4)
    reports, errors = [], []

    def work(name):
        try:
            reports.append(_run(app, worker=name, chunk=2))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(r.succeeded for r in reports) == 15 * 3 and sum(r.resumed for r in reports) == 12
    print(f"\nthree workers: {[(r.chunks, r.succeeded, r.resumed) for r in reports]}")
    states, finished, held = _rows(app)
    assert states == {"done": 15} and finished is not None and held == 0
    _once(app, providers)
    with app.extensions["db_sessionmaker"]() as s:
        assert s.scalar(select(func.count()).select_from(BatchDebit)) == 15 * 3
