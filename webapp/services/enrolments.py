"""The enrolment (参保信息) of one person in one scheme: the one query every flow asks, read once per session."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Enrolment


def enrolment_of(session: Session, person_id: int, scheme: str) -> Enrolment | None:
    """The person's enrolment in the scheme, if any. A page asks for it from several rules: the row found is
    kept in the session (``session.info``) and the same identity-mapped object is returned again; a miss is
    not kept, so an enrolment added later in the session is found."""
    cache: dict[tuple[int, str], Enrolment] = session.info.setdefault("enrolments", {})
    key = (person_id, str(scheme))
    found = cache.get(key)
    if found is None or found not in session:
        found = session.scalar(
            select(Enrolment).where(Enrolment.person_id == person_id, Enrolment.scheme == scheme).limit(1)
        )
        if found is not None:
            cache[key] = found
    return found
