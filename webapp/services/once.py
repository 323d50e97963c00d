"""Values that may be used once (a 记录查验 captcha's nonce), spent in the request's own transaction: the
``used_once`` primary key lets exactly one of any number of concurrent requests spend a value, on whichever
worker or process they land, with or without Redis (issue 17, D9)."""

from __future__ import annotations

import hashlib
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import UsedOnce


def spend(session: Session, purpose: str, value: str, expires_at: datetime) -> bool:
    """Spend ``value`` (for ``purpose``) now; False if it was spent before. Kept until ``expires_at``, after
    which the value is refused for its age anyway."""
    key = hashlib.sha256(f"{purpose}:{value}".encode()).hexdigest()
    try:
        with session.begin_nested():
            session.add(UsedOnce(key=key, expires_at=expires_at))
            session.flush()
    except IntegrityError:
        return False
    return True


def purge(session: Session, now: datetime) -> int:
    """Drop the values whose time has passed."""
    done = session.execute(sa.delete(UsedOnce).where(UsedOnce.expires_at <= now))
    return int(done.rowcount or 0)  # type: ignore[attr-defined]  # a DELETE's Result is a CursorResult
