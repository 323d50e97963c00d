"""Periodic jobs (huey): reconcile payment orders left unfinished, so a lost notification or a buyer who
never came back from the cashier never leaves an order 已下单缴费中 (R-PA-3), and send refunds; drop
ended sessions (R-ID-5).

Run the consumer with ``huey_consumer webapp.jobs.huey`` (``make run`` starts it). The queue is a SQLite
file under instance/ by default, Redis when HUEY_URL=redis://… says so. The app is built once per
consumer process, the first time a job needs it, not on every run.
"""

from __future__ import annotations

import os
from datetime import timedelta
from functools import cache

from flask import Flask
from huey import Huey, RedisHuey, SqliteHuey, crontab

from .config import load_config


def make_huey(url: str | None, instance_path: str) -> Huey:
    """The queue: Redis at scale, a SQLite file by default."""
    if url and url.startswith("redis://"):
        return RedisHuey("shebao", url=url)
    os.makedirs(instance_path, exist_ok=True)
    return SqliteHuey("shebao", filename=os.path.join(instance_path, "huey.sqlite3"))


_settings = load_config()
huey = make_huey(_settings["HUEY_URL"], str(_settings["INSTANCE_PATH"]))  # type: ignore[arg-type]


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
    return reconcile_due(flask_app.extensions["db_sessionmaker"], flask_app.extensions["payment_adapters"], now,
                         cutoff)


@huey.periodic_task(crontab(minute="*"))
def reconcile_unfinished_orders() -> int:
    """Every minute: ``reconcile`` on the process's app."""
    return reconcile(app())


def purge_sessions(flask_app: Flask) -> int:
    """Drop the server-side sessions whose stay has ended (the database store; Redis expires its own keys);
    returns how many went."""
    interface = flask_app.session_interface
    store = getattr(interface, "store", None)
    return store.purge(interface.now()) if store is not None else 0  # type: ignore[attr-defined]


@huey.periodic_task(crontab(minute="*/10"))
def purge_expired_sessions() -> int:
    """Every ten minutes: ``purge_sessions`` on the process's app."""
    return purge_sessions(app())
