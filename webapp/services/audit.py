"""Who did what, when: an ``AuditEvent`` row added to the caller's transaction."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ..models import AuditEvent


def record(session: Session, kind: str, subject: str = "", detail: str = "", actor_id: int | None = None) -> None:
    """Add an audit event; it is committed (or not) with the change it records."""
    session.add(AuditEvent(kind=kind, subject=subject[:80], detail=detail[:2000], actor_id=actor_id))
