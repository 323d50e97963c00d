"""Attempts counted before they are judged (issue 17, D3 and D9): failed face checks, wrong 记录查验 answers,
sessions started from one address.

``reserve`` counts the attempt against every budget it is given *before* the attempt is judged (one atomic
INCR each, in Redis or in the limiter's memory under its lock); an attempt that turns out right hands its
reservation back (``Reservation.release``). So however many wrong attempts arrive at once, no more than a
budget's size are ever judged. Flask-Limiter's ``deduct_when`` does the opposite (test before, count after
the answer): 40 concurrent wrong face checks had 9 judged against a limit of 5.

A budget is a fixed window that opens at its first counted attempt (``5 per 10 minutes``: five wrong
attempts, then nothing is judged until ten minutes after the first). The counters are shared by every
worker and process: in Redis with REDIS_URL (the rate limits' storage), else in the database
(``attempt_count``, one upsert per count, in a short transaction of its own), never in one process's
memory, where two gunicorn workers made a budget of 5 judge 10. Keys carry keyed digests, never a document
number (R-ID-3).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from flask_limiter.util import get_remote_address
from limits import parse

from ._limits import digest, limiter, wait_text
from ._web import error_page

_PREFIX = "attempts:"


@dataclass
class Reservation:
    """The counts one attempt took; ``release`` gives them back (the attempt was right). In a view, release
    after the request's commit (``_web.after_commit``): the counts are written in a transaction of their own."""

    taken: list[tuple[str, int]] = field(default_factory=list)

    def release(self) -> None:
        """Hand the counts back, once."""
        taken, self.taken = self.taken, []
        for key, expiry in taken:
            _counters().incr(key, expiry, amount=-1)


@dataclass(frozen=True)
class Refused:
    """A budget was spent: how long until it opens again."""

    wait_seconds: int


def reserve(*budgets: tuple[str, str]) -> Reservation | Refused:
    """Count one attempt against each ``(key, config setting)`` budget (e.g. ``("face:pair:…",
    "RATELIMIT_FACE_PER_ID")``); a Reservation, or Refused (and nothing counted) when one is spent."""
    if not limiter.enabled:
        return Reservation()
    storage = _counters()
    taken: list[tuple[str, int]] = []
    for key, setting in budgets:
        item = parse(str(current_app.config[setting]))
        full, expiry = f"{current_app.config.get('RATELIMIT_KEY_PREFIX') or ''}{_PREFIX}{key}", item.get_expiry()
        count = storage.incr(full, expiry)
        taken.append((full, expiry))
        if count > item.amount:
            wait = math.ceil(storage.get_expiry(full) - time.time())
            Reservation(taken).release()
            return Refused(max(1, wait))
    return Reservation(taken)


class DatabaseCounters:
    """Fixed-window counters in ``attempt_count``, with the interface of the limits library's storage that
    ``reserve`` uses (``incr``, ``get_expiry``): exact across workers and processes without Redis."""

    _UPSERT = sa.text(
        "INSERT INTO attempt_count (key, count, window_ends) VALUES (:key, 1, :ends) "
        "ON CONFLICT (key) DO UPDATE SET "
        "count = CASE WHEN attempt_count.window_ends <= :now THEN 1 ELSE attempt_count.count + 1 END, "
        "window_ends = CASE WHEN attempt_count.window_ends <= :now THEN :ends ELSE attempt_count.window_ends END "
        "RETURNING count"
    )
    _GIVE_BACK = sa.text(
        "UPDATE attempt_count SET count = count - 1 WHERE key = :key AND window_ends > :now AND count > 0"
    )
    _EXPIRY = sa.text("SELECT window_ends FROM attempt_count WHERE key = :key")

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Count one (``amount`` 1) in the key's window, opening a new window if it has ended; or give one
        back (``amount`` -1) to a window still open. The count after."""
        now = time.time()
        with self.engine.begin() as conn:
            if amount < 0:
                conn.execute(self._GIVE_BACK, {"key": key, "now": now})
                return 0
            return int(conn.execute(self._UPSERT, {"key": key, "now": now, "ends": now + expiry}).scalar_one())

    def get_expiry(self, key: str) -> float:
        """When the key's window ends (epoch seconds)."""
        with self.engine.connect() as conn:
            ends = conn.execute(self._EXPIRY, {"key": key}).scalar()
        return float(ends) if ends is not None else time.time()

    def purge(self, now: float) -> int:
        """Drop the windows that have ended."""
        with self.engine.begin() as conn:
            done = conn.execute(sa.text("DELETE FROM attempt_count WHERE window_ends <= :now"), {"now": now})
        return int(done.rowcount or 0)


def _counters() -> Any:
    """Where this app's budgets are counted: the limiter's Redis, or the database."""
    return (
        current_app.extensions["attempt_counters"] if "attempt_counters" in current_app.extensions else limiter.storage
    )


def init_app(app: Flask) -> None:
    """Count budgets in the database unless the rate limits live in Redis (REDIS_URL)."""
    if not app.config.get("REDIS_URL"):
        app.extensions["attempt_counters"] = DatabaseCounters(app.extensions["db_engine"])


def address() -> str:
    """The client address the budgets count per."""
    return get_remote_address() or "-"


def pair(kind: str, document: str) -> str:
    """The key of one (address, document) pair: the document as a keyed digest."""
    return f"{kind}:pair:{address()}:{digest(document)}"


def per_address(kind: str) -> str:
    """The key of one address."""
    return f"{kind}:addr:{address()}"


def too_many(refused: Refused, message: str | None = None) -> tuple[str, int, dict[str, str]]:
    """The 429 page (in the layout, saying how long to wait) with Retry-After."""
    text = message or f"您的操作过于频繁，为保护您的信息安全，请{wait_text(refused.wait_seconds)}后再试。"
    body, status = error_page(429, message=text)
    return body, status, {"Retry-After": str(refused.wait_seconds)}
