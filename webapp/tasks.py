"""Periodic jobs (huey): reconcile payment orders left unfinished, so a lost notification or a
buyer who never came back from the cashier never leaves an order 已下单缴费中 (R-PA-3).

Run the consumer with ``huey_consumer webapp.tasks.huey`` (``make run`` starts it). The queue is a
SQLite file under instance/ by default, Redis when HUEY_URL=redis://… says so.
"""

from __future__ import annotations

import os
from datetime import timedelta

from huey import Huey, RedisHuey, SqliteHuey, crontab

from . import ROOT


def make_huey(url: str | None, instance_path: str) -> Huey:
    """The queue: Redis at scale, a SQLite file by default."""
    if url and url.startswith("redis://"):
        return RedisHuey("shebao", url=url)
    os.makedirs(instance_path, exist_ok=True)
    return SqliteHuey("shebao", filename=os.path.join(instance_path, "huey.sqlite3"))


huey = make_huey(os.environ.get("HUEY_URL"), os.environ.get("INSTANCE_PATH") or str(ROOT / "instance"))


@huey.periodic_task(crontab(minute="*"))
def reconcile_unfinished_orders() -> int:
    """Every minute: ask the providers about orders unfinished for longer than RECONCILE_AFTER_SECONDS."""
    from . import create_app
    from .payments.orders import reconcile_all

    app = create_app()
    clock = app.extensions["clock"]
    now = clock.now()
    cutoff = now - timedelta(seconds=int(app.config["RECONCILE_AFTER_SECONDS"]))
    with app.extensions["db_sessionmaker"]() as session:
        n = reconcile_all(session, app.extensions["payment_adapters"], cutoff, now)
    app.extensions["db_engine"].dispose()
    return n
