"""Attempts counted before they are judged (issue 17, D3 and D9): failed face checks, wrong 记录查验 answers,
sessions started from one address.

``reserve`` counts the attempt against every budget it is given *before* the attempt is judged (one atomic
INCR each, in Redis or in the limiter's memory under its lock); an attempt that turns out right hands its
reservation back (``Reservation.release``). So however many wrong attempts arrive at once, no more than a
budget's size are ever judged. Flask-Limiter's ``deduct_when`` does the opposite (test before, count after
the answer): 40 concurrent wrong face checks had 9 judged against a limit of 5.

A budget is a fixed window that opens at its first counted attempt (``5 per 10 minutes``: five wrong
attempts, then nothing is judged until ten minutes after the first). The counters live where the rate
limits live (Redis with REDIS_URL, so every worker shares them; each process's memory otherwise) and carry
keyed digests, never a document number (R-ID-3).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from flask import current_app
from flask_limiter.util import get_remote_address
from limits import parse

from ._limits import digest, limiter, wait_text
from ._web import error_page

_PREFIX = "attempts:"


@dataclass
class Reservation:
    """The counts one attempt took; ``release`` gives them back (the attempt was right)."""

    taken: list[tuple[str, int]] = field(default_factory=list)

    def release(self) -> None:
        """Hand the counts back, once."""
        taken, self.taken = self.taken, []
        for key, expiry in taken:
            limiter.storage.incr(key, expiry, amount=-1)


@dataclass(frozen=True)
class Refused:
    """A budget was spent: how long until it opens again."""

    wait_seconds: int


def reserve(*budgets: tuple[str, str]) -> Reservation | Refused:
    """Count one attempt against each ``(key, config setting)`` budget (e.g. ``("face:pair:…",
    "RATELIMIT_FACE_PER_ID")``); a Reservation, or Refused (and nothing counted) when one is spent."""
    if not limiter.enabled:
        return Reservation()
    storage = limiter.storage
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


def address() -> str:
    """The client address the budgets count per."""
    return get_remote_address() or "-"


def pair(kind: str, document: str) -> str:
    """The key of one (address, document) pair: the document as a keyed digest."""
    return f"{kind}:pair:{address()}:{digest(document)}"


def per_address(kind: str) -> str:
    """The key of one address."""
    return f"{kind}:addr:{address()}"


def too_many(refused: Refused, message: str | None = None) -> tuple[object, int, dict[str, str]]:
    """The 429 page (in the layout, saying how long to wait) with Retry-After."""
    text = message or f"您的操作过于频繁，为保护您的信息安全，请{wait_text(refused.wait_seconds)}后再试。"
    body, status = error_page(429, message=text)
    return body, status, {"Retry-After": str(refused.wait_seconds)}
