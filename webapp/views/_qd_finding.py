"""Qingdao's finding by name + ID (R-QD-2), shared by its entries — the public accounts' pages (``qingdao``) and
云闪付's menus (``qd_unionpay``): the look-up's budgets, the look-up itself and the person found, kept in the
session for ``FOUND_MINUTES`` (one finding, whichever page made it)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from flask import current_app, session

from ..domain.errors import RuleViolation
from ..domain.identity import register_key
from ..domain.regions import QINGDAO
from ..services import qingdao as qd
from ..services.identity import person as person_by_id
from ._attempts import pair, reserve
from ._attempts import per_address as address_key
from ._limits import digest
from ._sessions import session_now
from ._web import after_commit, audit, current_user, db, fresh_session

if TYPE_CHECKING:  # annotations only: views read the database through services
    from ..models import Person

FOUND_KEY = "qd_found"
FOUND_MINUTES = 30


def reserve_lookup(id_type: str, id_number: str) -> Any:
    """Counted before judged, per (address, ID), per address and per ID, so enumeration fails (issue 17 D3):
    a ``Refused`` or the reservation to release once the look-up succeeds."""
    document = f"{id_type}:{id_number}"
    return reserve(
        (pair(QINGDAO.code, document), "RATELIMIT_FACE_PER_ID"),
        (address_key(QINGDAO.code), "RATELIMIT_FACE_FAILED"),
        (f"{QINGDAO.code}:id:{digest(document)}", "RATELIMIT_QD_PER_ID"),
    )


def look_up(form: dict[str, str], budget: Any, channel: str) -> tuple[Person | None, str | None]:
    """The person whose name and ID were typed, remembered as this session's finding; or the one refusal message
    for every mismatch (audited either way)."""
    key = register_key(str(current_app.config["SECRET_KEY"]))
    try:
        person = qd.find(db(), form["name"], form["id_type"], form["id_number"], key)
    except RuleViolation as e:
        audit("qd.lookup_refused", form["id_number"][-4:], channel)
        return None, str(e)
    after_commit(budget.release)
    if current_user() is None:
        fresh_session()  # a step up in trust: a new session id and form token (D4)
    session[FOUND_KEY] = {
        "person_id": person.id,
        "until": (session_now() + timedelta(minutes=FOUND_MINUTES)).isoformat(),
    }
    user = current_user()
    audit("qd.lookup", str(person.id), channel, actor_id=user.id if user else None)
    return person, None


def found_person() -> Person | None:
    """The person this session's finding names, while it lasts."""
    held = session.get(FOUND_KEY)
    if not isinstance(held, dict) or not isinstance(held.get("person_id"), int):
        return None
    until = held.get("until")
    if not isinstance(until, str) or until <= session_now().isoformat():
        return None
    return person_by_id(db(), held["person_id"])
