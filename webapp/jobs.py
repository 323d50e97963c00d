"""Periodic jobs (huey): reconcile payment orders left unfinished, so a lost notification or a buyer who
never came back from the cashier never leaves an order 已下单缴费中 (R-PA-3), and send refunds; on the batch
day, the bank's batch debit (R-BD-1); post paid items to the treasury (入库, R-CE-2) and make the payment
certificates asked for (R-CE-3); drop ended sessions (R-ID-5).

Run the consumer with ``huey_consumer webapp.jobs.huey`` (``make run`` starts it). The queue is a SQLite
file under instance/ by default, Redis when HUEY_URL=redis://… says so. The app is built once per
consumer process, the first time a job needs it, not on every run.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from functools import cache

from flask import Flask
from huey import crontab

from .config import load_config
from .jobqueue import beat, make_huey

_settings = load_config()
huey = make_huey(_settings["HUEY_URL"], str(_settings["INSTANCE_PATH"]))  # type: ignore[arg-type]  # load_config's values are object; HUEY_URL is a str or None
log = logging.getLogger("huey.shebao")  # under the consumer's own logger, so its lines reach the consumer's log


@huey.on_startup()
def _worker_started() -> None:
    beat(huey)  # ready as soon as the consumer runs, not at the first minute's periodic run


@huey.periodic_task(crontab(minute="*"))
def heartbeat() -> None:
    """Every minute: the periodic jobs are running (what ``/readyz`` calls the job queue answering)."""
    beat(huey)


@cache
def app() -> Flask:
    """The app the jobs run against, built once per process."""
    from . import create_app

    return create_app()


def reconcile(flask_app: Flask) -> int:
    """Query the providers about orders unfinished for longer than RECONCILE_AFTER_SECONDS, then send
    the refunds recorded; returns how many orders were looked at."""
    from .payments.orders import reconcile_due

    now = flask_app.extensions["clock"].now()
    cutoff = now - timedelta(seconds=int(flask_app.config["RECONCILE_AFTER_SECONDS"]))
    return reconcile_due(flask_app.extensions["db_sessionmaker"], flask_app.extensions["payment_adapters"], now, cutoff)


@huey.periodic_task(crontab(minute="*"))
def reconcile_unfinished_orders() -> int:
    """Every minute: ``reconcile`` on the process's app."""
    return reconcile(app())


def batch_debit_today(flask_app: Flask) -> int:
    """Close out runs of earlier batch days left unfinished (nothing stays 申报处理中 past its day); on the batch
    day, run (or resume) the batch debit. Returns the debits decided."""
    from .domain.calendar import is_batch_debit_day
    from .services import batch_debit

    clock, sessions = flask_app.extensions["clock"], flask_app.extensions["db_sessionmaker"]
    bank = flask_app.extensions["payment_adapters"]["agreement"]
    today = clock.today()
    decided = 0
    with sessions() as s:
        stranded = batch_debit.unfinished_runs(s, today)
    for run_id, _day in stranded:
        decided += batch_debit.close_out(sessions, bank, run_id, clock.now).debits
    if is_batch_debit_day(today):
        decided += batch_debit.run(sessions, bank, today, clock.now, worker=f"huey-{os.getpid()}").debits
    return decided


@huey.periodic_task(crontab(minute="*/10"))
def batch_debit_on_the_batch_day() -> int:
    """Every ten minutes: on the batch day, the batch debit (R-BD-1), in BATCH_DEBIT_SHARES shares: this task
    takes one and queues the others, so the job workers of every consumer take part (the periodic task itself
    is enqueued by one consumer only)."""
    from .domain.calendar import is_batch_debit_day

    flask_app = app()
    if is_batch_debit_day(flask_app.extensions["clock"].today()):
        for _ in range(int(flask_app.config["BATCH_DEBIT_SHARES"]) - 1):
            batch_debit_share()
    return _share(flask_app)


@huey.task()
def batch_debit_share() -> int:
    """One more worker's share of the batch day's debit (queued by ``batch_debit_on_the_batch_day``)."""
    return _share(app())


def _share(flask_app: Flask) -> int:
    from .domain.calendar import is_batch_debit_day

    debits = batch_debit_today(flask_app)
    if is_batch_debit_day(flask_app.extensions["clock"].today()):  # which consumer did how much (docs/deploy.md)
        log.info("batch debit share of pid %s: %s debits", os.getpid(), debits)
    return debits


def post_payments(flask_app: Flask) -> int:
    """入库: post every paid item whose posting day (two working days after payment) has come, on the
    app's clock; returns how many."""
    from .services import certificates

    return certificates.post_due_in_batches(
        flask_app.extensions["db_sessionmaker"], flask_app.extensions["clock"].today()
    )


def make_certificate(flask_app: Flask, certificate_id: int) -> str | None:
    """Make one requested certificate in its own transaction; returns its status."""
    from .services import certificates

    status = certificates.make_now(
        flask_app.extensions["db_sessionmaker"],
        certificate_id,
        flask_app.extensions["certificate_settings"],
        flask_app.extensions["clock"].now(),
    )
    return str(status) if status else None


def make_waiting_certificates(flask_app: Flask, older_than_seconds: int = 60) -> int:
    """Make the requests still 制作中 after ``older_than_seconds`` (a task lost, a consumer that was down, or
    CERTIFICATE_MAKING=later); returns how many were looked at."""
    from .services import certificates

    now = flask_app.extensions["clock"].now()
    with flask_app.extensions["db_sessionmaker"]() as s:
        ids = certificates.making_ids(s, now - timedelta(seconds=older_than_seconds))
    for cid in ids:
        make_certificate(flask_app, cid)
    return len(ids)


@huey.task()
def make_certificate_task(certificate_id: int) -> str | None:
    """Queued by 证明申请 and 重新制作: ``make_certificate`` on the process's app."""
    return make_certificate(app(), certificate_id)


@huey.periodic_task(crontab(minute="*"))
def post_and_make() -> tuple[int, int]:
    """Every minute: post what is due (cheap when nothing is), then make any request left 制作中."""
    flask_app = app()
    return post_payments(flask_app), make_waiting_certificates(flask_app)


def purge_sessions(flask_app: Flask) -> int:
    """Drop the server-side sessions whose stay has ended (the database store; Redis expires its own keys),
    and spent single-use values past their time (``services.once``); returns how many sessions went."""
    from .services import once

    interface = flask_app.session_interface
    store = getattr(interface, "store", None)
    now = interface.now()  # type: ignore[attr-defined]  # our ServerSessionInterface's clock (views._sessions)
    with flask_app.extensions["db_sessionmaker"]() as s:
        once.purge(s, now)
        s.commit()
    counters = flask_app.extensions.get("attempt_counters")
    if counters is not None:
        counters.purge(now.timestamp())
    return store.purge(now) if store is not None else 0


@huey.periodic_task(crontab(minute="*/10"))
def purge_expired_sessions() -> int:
    """Every ten minutes: ``purge_sessions`` on the process's app."""
    return purge_sessions(app())
