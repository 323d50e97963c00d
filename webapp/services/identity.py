"""Who may log in as an ID (R-ID-4), and the bureau's 人员编号 sequence (R-ID-3).

The simulated identity authority stands for the public-security photo register the face check consults:
it knows each document's holder (its own table, ``identity_register``, for the people it lists; a name
derived from the number with the register's secret key, ``domain.identity.register_key``, for every other
valid document). The face check passes only for the holder's name, so a squatter with a wrong name fails
there, whether or not the ID is known to the app, and a person row is written only after a check passes.
Every refusal reads the same (``MSG_NOT_VERIFIED``), the holder's own failed face included: a different
answer for the right name would confirm a name and ID pair to whoever typed it. The app's own tables are
never consulted to decide it, so no answer says whether an ID is enrolled.

Swapping the simulation for the real register means replacing ``holder``; nothing else reads the table.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..domain.identity import facts_from_id, holder_name
from ..models import BureauSequence, Person, RegisteredHolder

MSG_NOT_VERIFIED = "请核对姓名、证件类型和证件号码，在光线充足处正对屏幕后重试"
PERSON_NO_START = 1101_0001_0000_0000  # as migration 0006_trust seeds it


@dataclass(frozen=True)
class Holder:
    """What the register says about a document: its holder's name, and (demo) why their face check fails."""

    name: str
    face_fail_reason: str | None = None


@dataclass(frozen=True)
class FaceCheck:
    """The outcome of the simulated face check: passed, or the one message every refusal shows, and (for
    the operator's audit only) what the register found wrong."""

    passed: bool
    reason: str = ""
    cause: str = ""


def person(session: Session, person_id: int) -> Person | None:
    """The person with this id, if any."""
    return session.get(Person, person_id)


def holder(session: Session, id_type: str, id_number: str, key: bytes) -> Holder:
    """The register's holder of a (valid, normalised) document; ``key`` is the register's (``register_key``)."""
    row = session.scalar(
        select(RegisteredHolder).where(RegisteredHolder.id_type == id_type, RegisteredHolder.id_number == id_number)
    )
    if row is not None:
        return Holder(row.name, row.face_fail_reason)
    return Holder(holder_name(key, id_type, id_number))


def register(session: Session, id_type: str, id_number: str, name: str, face_fail_reason: str | None = None) -> None:
    """List a holder in the simulated register (the demo seed, factories); idempotent, last write wins."""
    row = session.scalar(
        select(RegisteredHolder).where(RegisteredHolder.id_type == id_type, RegisteredHolder.id_number == id_number)
    )
    if row is None:
        session.add(
            RegisteredHolder(id_type=id_type, id_number=id_number, name=name, face_fail_reason=face_fail_reason)
        )
    else:
        row.name, row.face_fail_reason = name, face_fail_reason
    session.flush()


def face_check(session: Session, id_type: str, id_number: str, name: str, key: bytes) -> FaceCheck:
    """The simulated 人脸识别: the face in front of the camera is the typed name's, so it passes only when
    the register's holder has that name and the register has nothing against their face (demo face-fails).
    Both refusals read the same; only ``cause`` (for the audit) tells them apart."""
    h = holder(session, id_type, id_number, key)
    if h.name != name:
        return FaceCheck(False, MSG_NOT_VERIFIED, "姓名与证件不符")
    if h.face_fail_reason:
        return FaceCheck(False, MSG_NOT_VERIFIED, h.face_fail_reason)
    return FaceCheck(True)


def person_after_face_check(session: Session, id_type: str, id_number: str, name: str) -> Person:
    """The person row for a holder whose face check just passed: found, or written now (never before).
    A row whose name differs (written by an older version for a squatter) takes the register's name."""
    person = session.scalar(select(Person).where(Person.id_type == id_type, Person.id_number == id_number))
    if person is None:
        facts = facts_from_id(id_type, id_number)
        person = Person(name=name, id_type=id_type, id_number=id_number, sex=facts.sex, birth_date=facts.birth_date)
        session.add(person)
        session.flush()
    elif person.name != name:
        person.name = name
    return person


def next_person_nos(session: Session, count: int = 1) -> list[str]:
    """``count`` fresh 人员编号 from the bureau's sequence (a locked counter row), in order."""
    if count < 1:
        return []
    stmt = (
        update(BureauSequence)
        .where(BureauSequence.name == "person_no")
        .values(value=BureauSequence.value + count)
        .returning(BureauSequence.value)
    )
    last = session.execute(stmt).scalar_one_or_none()
    if last is None:  # a database emptied without its migration's row (tests truncate): start the sequence
        try:
            with session.begin_nested():
                session.add(BureauSequence(name="person_no", value=PERSON_NO_START))
        except IntegrityError:  # another worker started it first
            pass
        last = session.execute(stmt).scalar_one()
    return [str(n) for n in range(last - count + 1, last + 1)]


def next_person_no(session: Session) -> str:
    """One fresh 人员编号."""
    return next_person_nos(session, 1)[0]
