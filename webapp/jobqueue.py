"""The job queue (huey) and the heartbeat its workers leave in it, shared by the consumer (``webapp.jobs``) and
the app's readiness probe (``webapp.health``), which must not import the jobs themselves."""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey

HEARTBEAT = "shebao.heartbeat"


def make_huey(url: str | None, instance_path: str) -> Huey:
    """The queue: Redis at scale, a SQLite file by default."""
    if url and url.startswith("redis://"):
        return RedisHuey("shebao", url=url)
    os.makedirs(instance_path, exist_ok=True)
    return SqliteHuey("shebao", filename=os.path.join(instance_path, "huey.sqlite3"))


def beat(queue: Huey) -> None:
    """Record in the queue's storage that a job worker ran just now (``/readyz`` reads it)."""
    queue.put(HEARTBEAT, {"at": time.time(), "pid": os.getpid(), "host": socket.gethostname()})


def last_beat(queue: Huey) -> dict[str, Any] | None:
    """The last heartbeat a job worker left in ``queue`` (None when none ever ran)."""
    data = queue.get(HEARTBEAT, peek=True)
    return data if isinstance(data, dict) else None
