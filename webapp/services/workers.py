"""Which process does a job's work, and whether it still lives: so a job that a killed worker had claimed is
taken over at once by the next one (issue 17 D7, issue 16 item 4), not after a lease runs out.

A worker records its host, its process id and the process's start time (Linux counts it in /proc; a pid the
system has handed to another process since does not pass for the dead one). On the same host the next worker
asks the system whether that process still runs; on another host it cannot, and goes by the heartbeat the
worker beats from a thread while it lives.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

#: How often a working process beats, and how long without a beat makes it gone (to a worker on another host).
HEARTBEAT_EVERY = timedelta(seconds=10)
STALE_AFTER = timedelta(seconds=60)


@dataclass(frozen=True)
class Process:
    """One process on one host."""

    host: str
    pid: int
    start: str  # the process's start time as its host counts it; "" where the host does not say


def _start_of(pid: int) -> str:
    """The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), or ""."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except OSError:
        return ""
    fields = stat[stat.rfind(")") + 2 :].split()  # the command name may hold spaces and parentheses
    return fields[19] if len(fields) > 19 else ""


def this_process() -> Process:
    """The process this code runs in."""
    pid = os.getpid()
    return Process(socket.gethostname()[:100], pid, _start_of(pid))


def alive(process: Process) -> bool | None:
    """Whether the process still runs: True or False on this host, None on another (nobody here can tell)."""
    if process.host != socket.gethostname()[:100]:
        return None
    try:
        os.kill(process.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it runs, as another user
    if process.start and os.path.exists(f"/proc/{process.pid}"):
        return _start_of(process.pid) == process.start  # the same pid, another process: the worker is gone
    return True


class Heartbeat:
    """Calls ``beat`` every ``every`` from a thread of its own while the ``with`` block runs; a beat that fails
    (the database busy or away for a moment) is tried again at the next one, never raised into the work."""

    def __init__(self, beat: Callable[[], None], every: timedelta = HEARTBEAT_EVERY) -> None:
        self._beat, self._every = beat, every.total_seconds()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._beat()
            except Exception:  # the next beat tries again; the work must not fail for it
                continue

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def stale_before(now: datetime) -> datetime:
    """A heartbeat older than this belongs to a worker that is gone."""
    return now - STALE_AFTER
