"""The demo people (SPEC §13), seeded idempotently. Each persona is data, not code paths: the
amounts come from the policy table through the same generation the bureau feed would use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from .domain import resident_medical as rm
from .domain.identity import facts_from_id
from .domain.policy import NoPolicyError
from .models import Declaration, DeclarationItem, Enrolment, PaymentOrder, Person, Receivable, SettledPayment

TAX_OFFICE = "国家税务总局北京市西城区税务局什刹海税务所"
SI_AGENCY = "北京市西城区社会保险基金管理中心（医保）"


@dataclass(frozen=True)
class Persona:
    """One demo person: who they are, what roles they play, whom they pay for."""

    name: str
    id_number: str
    roles: tuple[str, ...]
    rm_category: str | None = None  # enrolled in resident medical with this category
    face_fail_reason: str | None = None
    family: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (id_number, relation)
    paid_rm: bool = False


PERSONAS: tuple[Persona, ...] = (
    Persona("王建国", "110105198003120032", ("rm-family",),
            family=(("110102195004050010", "父亲"), ("11010219520918002X", "母亲"), ("110105201506010040", "子女"))),
    Persona("王福生", "110102195004050010", (), rm_category="elderly"),
    Persona("李秀英", "11010219520918002X", (), rm_category="elderly"),
    Persona("王小雨", "110105201506010040", (), rm_category="student_child"),
    Persona("赵丽", "110108198507220028", ("rm-paid",), rm_category="working_age", paid_rm=True),
    Persona("孙强", "110101199003070054", ("no-enrolment",)),
    Persona("周敏", "110106197811030029", ("face-fails",), rm_category="working_age",
            face_fail_reason="未能识别到本人面部，请在光线充足处正对屏幕重试"),
)


def _person(session: Session, p: Persona) -> Person:
    person = session.scalar(select(Person).where(Person.id_type == "resident_id", Person.id_number == p.id_number))
    facts = facts_from_id("resident_id", p.id_number)
    if person is None:
        person = Person(name=p.name, id_type="resident_id", id_number=p.id_number, sex=facts.sex,
                        birth_date=facts.birth_date, person_no=f"2023{p.id_number[6:14]}{p.id_number[-4:]}")
        session.add(person)
        session.flush()
    person.face_fail_reason = p.face_fail_reason
    return person


def seed(session: Session, today: date, region: str = "beijing") -> dict[str, int]:
    """Create (or complete) every persona; running it twice changes nothing."""
    people = {p.id_number: _person(session, p) for p in PERSONAS}
    for p in PERSONAS:
        person = people[p.id_number]
        if p.rm_category and session.scalar(select(Enrolment.id).where(
                Enrolment.person_id == person.id, Enrolment.scheme == rm.SCHEME)) is None:
            session.add(Enrolment(person_id=person.id, scheme=rm.SCHEME, region=region, category=p.rm_category,
                                  tax_office=TAX_OFFICE, si_agency=SI_AGENCY, enrolled_on=date(2020, 1, 1)))
        for number, relation in p.family:
            rm.remember(session, person.id, people[number].id, relation)
    session.flush()
    year = today.year
    try:
        created = rm.generate_year(session, year, region)
    except NoPolicyError:
        year, created = year - 1, rm.generate_year(session, year - 1, region)
    session.flush()
    for p in PERSONAS:
        if p.paid_rm:
            _mark_paid(session, people[p.id_number], year, today)
    return {"people": len(people), "rm_receivables_created": created}


def _mark_paid(session: Session, person: Person, year: int, today: date) -> None:
    """Give a persona a paid year, as if they had paid by WeChat a month ago."""
    r = session.scalar(select(Receivable).where(Receivable.natural_key == f"rm:{person.id}:{year}"))
    if r is None or r.status == "paid":
        return
    paid_at = datetime.combine(today - timedelta(days=30), datetime.min.time()).astimezone()
    decl = Declaration(payer_id=person.id, insured_id=person.id, scheme=rm.SCHEME, total_fen=r.amount_fen,
                       status="paid", channel="wechat", declared_at=paid_at)
    session.add(decl)
    session.flush()
    session.add(DeclarationItem(declaration_id=decl.id, receivable_id=r.id, amount_fen=r.amount_fen))
    order = PaymentOrder(out_trade_no=f"SBDEMO{person.id:08d}{year}", declaration_id=decl.id, payer_id=person.id,
                         provider="wechat", channel="wechat", amount_fen=r.amount_fen, state="paid",
                         provider_txn_id=f"4200DEMO{person.id:08d}", created_at=paid_at, expires_at=paid_at,
                         updated_at=paid_at, paid_at=paid_at)
    session.add(order)
    session.flush()
    r.status, r.declaration_id = "paid", decl.id
    session.add(SettledPayment(receivable_id=r.id, order_id=order.id, payer_id=person.id, amount_fen=r.amount_fen,
                               levy_voucher_no=f"1001{paid_at:%y}{r.id:014d}", paid_at=paid_at,
                               channel="wechat", method="wechat"))


def people_json(session: Session) -> list[dict[str, object]]:
    """The personas as SPEC §13 lists them."""
    out: list[dict[str, object]] = []
    for p in PERSONAS:
        if not p.roles:
            continue
        item: dict[str, object] = {"name": p.name, "id_type": "resident_id", "id_number": p.id_number,
                                   "roles": list(p.roles)}
        if p.family:
            fam = []
            by_number = {q.id_number: q for q in PERSONAS}
            for number, relation in p.family:
                q = by_number[number]
                fam.append({"name": q.name, "id_type": "resident_id", "id_number": number,
                            "category": q.rm_category, "relation": relation})
            item["family"] = fam
        out.append(item)
    return out


