"""The liveness check's one read (``GET /healthz``)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session


def ping(session: Session) -> None:
    """``SELECT 1``: raises when the database does not answer."""
    session.execute(text("SELECT 1"))
