"""The demo people (SPEC §13), seeded idempotently. Each persona is data, not code paths: the
amounts come from the policy table through the same generation the bureau feed would use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from .domain.calendar import BEIJING, Month
from .domain.identity import facts_from_id, holder_name
from .domain.policy import NoPolicyError, contribution_year
from .domain.statuses import BaseSource, ChargeType, DeclarationStatus, OrderState, ReceivableStatus
from .models import (
    BaseDeclaration,
    Declaration,
    DeclarationItem,
    Enrolment,
    PaymentOrder,
    Person,
    Receivable,
    SettledPayment,
)
from .services import flexible as flex
from .services import identity
from .services import resident_medical as rm

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
    flex: dict[str, object] | None = None  # flexible-worker enrolment: enrolled_on, base, subsidized, paid


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
    # Flexible workers. "unpaid" lists the fee periods still owed, by insurance ("*" = all three), as
    # offsets from this month (-1 = 本期应缴费, -2 and -3 = 往期未缴费); every earlier month is paid.
    Persona("刘鹏", "110108198704150030", ("flex",),
            flex={"enrolled_on": date(2024, 3, 5), "base": 8000, "unpaid": {"*": (-3, -2, -1)}}),
    Persona("陈静", "110105197208300024", ("flex-subsidized",),
            flex={"enrolled_on": date(2023, 1, 9), "subsidized": True, "unpaid": {"*": (-1,)}}),
    Persona("黄磊", "110106199502110016", ("flex-new",), flex={"enrolled_on": "last-month"}),
    Persona("吴芳", "11010519830619002X", ("flex-special",),
            flex={"enrolled_on": date(2022, 6, 1), "base": 7500, "unpaid": {}, "special": True}),
    Persona("郑伟", "110108197911080018", ("flex-lapse",),
            flex={"enrolled_on": date(2021, 9, 1), "base": 10000, "unpaid": {"medical": (-2, -1)}}),
)
FLEX_TAX_OFFICE = "国家税务总局北京市海淀区税务局"
FLEX_SI_AGENCY = "北京市海淀区社会保险基金管理中心（人社）"


def _person(session: Session, p: Persona) -> Person:
    """The persona as the bureau knows it, listed in the simulated identity register (R-ID-4)."""
    identity.register(session, "resident_id", p.id_number, p.name, p.face_fail_reason)
    person = session.scalar(select(Person).where(Person.id_type == "resident_id", Person.id_number == p.id_number))
    facts = facts_from_id("resident_id", p.id_number)
    if person is None:
        person = Person(name=p.name, id_type="resident_id", id_number=p.id_number, sex=facts.sex,
                        birth_date=facts.birth_date, person_no=identity.next_person_no(session))
        session.add(person)
        session.flush()
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
    flex_created = _seed_flex(session, people, today, region)
    year = today.year
    try:
        created = rm.generate_year(session, year, region)
    except NoPolicyError:
        year, created = year - 1, rm.generate_year(session, year - 1, region)
    session.flush()
    for p in PERSONAS:
        if p.paid_rm:
            _mark_paid(session, people[p.id_number], year, today)
    return {"people": len(people), "rm_receivables_created": created, "flex_receivables_created": flex_created}


def _mark_paid(session: Session, person: Person, year: int, today: date) -> None:
    """Give a persona a paid year, as if they had paid by WeChat a month ago."""
    r = session.scalar(select(Receivable).where(Receivable.natural_key == f"rm:{person.id}:{year}"))
    if r is not None:
        settle_past(session, person, [r], today - timedelta(days=30), "wechat")


def settle_past(session: Session, person: Person, rows: list[Receivable], day: date, method: str) -> None:
    """Record receivables as paid on a past day, the way a settled order leaves them."""
    rows = [r for r in rows if r.status is ReceivableStatus.DUE]
    if not rows:
        return
    paid_at = datetime.combine(day, time(10, 0), BEIJING)
    total = sum(r.amount_fen for r in rows)
    decl = Declaration(payer_id=person.id, insured_id=person.id, scheme=rows[0].scheme, total_fen=total,
                       status=DeclarationStatus.PAID, channel=method, declared_at=paid_at)
    session.add(decl)
    session.flush()
    order = PaymentOrder(out_trade_no=f"SBDEMO{decl.id:010d}", declaration_id=decl.id, payer_id=person.id,
                         provider=method, channel=method, amount_fen=total, state=OrderState.PAID,
                         provider_txn_id=f"DEMO{decl.id:010d}", created_at=paid_at, expires_at=paid_at,
                         updated_at=paid_at, paid_at=paid_at)
    session.add(order)
    session.flush()
    for r in rows:
        session.add(DeclarationItem(declaration_id=decl.id, receivable_id=r.id, amount_fen=r.amount_fen))
        r.status, r.declaration_id = ReceivableStatus.PAID, decl.id
        session.add(SettledPayment(receivable_id=r.id, order_id=order.id, payer_id=person.id,
                                   amount_fen=r.amount_fen, levy_voucher_no=f"1001{paid_at:%y}{r.id:014d}",
                                   paid_at=paid_at, channel=method, method=method))


def _seed_flex(session: Session, people: dict[str, Person], today: date, region: str) -> int:
    """Flexible-worker enrolments, bases, six months of receivables, payments and special items."""
    this_month = Month.of(today)
    created = 0
    for p in PERSONAS:
        if not p.flex:
            continue
        person, f = people[p.id_number], p.flex
        enrolled_on = f["enrolled_on"]
        if enrolled_on == "last-month":
            enrolled_on = (this_month + -1).day(15)
        e = flex.enrolment_of(session, person.id)
        if e is None:
            e = Enrolment(person_id=person.id, scheme=flex.SCHEME, region=region, tax_office=FLEX_TAX_OFFICE,
                          si_agency=FLEX_SI_AGENCY, enrolled_on=enrolled_on, subsidized=bool(f.get("subsidized")),
                          insurances="pension,unemployment,medical", batch_debit=bool(f.get("batch_debit")),
                          special_category="享受补贴人员" if f.get("subsidized") else None)
            session.add(e)
            session.flush()
        if f.get("base") and not flex.has_declared(session, e):
            session.add(BaseDeclaration(enrolment_id=e.id, contribution_year=contribution_year(enrolled_on),
                                        base=int(f["base"]), source=BaseSource.DECLARED))  # type: ignore[call-overload]
            session.flush()
    for offset in range(-6, 0):
        try:
            created += flex.generate_month(session, this_month + offset, region).created
        except NoPolicyError:
            continue
    for p in PERSONAS:
        if not p.flex:
            continue
        person = people[p.id_number]
        unpaid: dict[str, tuple[int, ...]] = p.flex.get("unpaid", {})  # type: ignore[assignment]
        for offset in range(-6, 0):
            month = this_month + offset
            rows = session.scalars(select(Receivable).where(
                Receivable.insured_id == person.id, Receivable.scheme == flex.SCHEME,
                Receivable.charge_type == ChargeType.NORMAL, Receivable.fee_period_start == month.first_day))
            chosen = [r for r in rows if offset not in unpaid.get("*", ()) + unpaid.get(r.insurance, ())]
            settle_past(session, person, chosen, (month + 1).day(12), "alipay")
        if p.flex.get("special"):
            month = this_month + -8
            csv_text = "id_type,id_number,insurance,fee_period,amount,charge_type,notice_no\n" + "".join(
                f"resident_id,{p.id_number},{ins},{month},{amount},{kind},{notice}\n" for ins, amount, kind, notice in (
                    ("pension", "110.00", "missed_enrolment", "20261012044739"),
                    ("unemployment", "210.00", "missed_enrolment", "20261012044739"),
                    ("medical", "310.00", "policy_backpay", "20261012044809")))
            flex.import_special(session, csv_text)
    session.flush()
    return created


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




# ----------------------------------------------------------------------------------------- population

POPULATION_AREAS = {"rm": "110109", "flex": "110107"}  # 门头沟 and 石景山: no demo persona lives there
_DAYS = 20000  # births spread over 1950-01-01 + 20000 days (to 2004)
POPULATION_TAX_OFFICE = "国家税务总局北京市石景山区税务局"
POPULATION_SI_AGENCY = "北京市石景山区社会保险基金管理中心"


def population_person(kind: str, i: int) -> tuple[str, str]:
    """The i-th synthetic person of a kind: (name, resident ID number with a valid check digit). The name
    is the one the simulated identity register derives from the number, so each can log in (R-ID-4)."""
    from stdnum.cn import ric

    birth = date(1950, 1, 1) + timedelta(days=(i * 37) % _DAYS)
    body = f"{POPULATION_AREAS[kind]}{birth:%Y%m%d}{i // _DAYS + 1:03d}"
    number = body + ric.calc_check_digit(body + "0")  # it reads the first 17 of 18
    return holder_name("resident_id", number), number


def population(session: Session, *, residents: int, flex_workers: int, today: date,
               region: str = "beijing") -> list[dict[str, object]]:
    """Synthetic enrolled people for load tests and benchmarks: ``residents`` owing this year's resident
    medical premium, ``flex_workers`` owing the rolling window on a base of 8000. Idempotent for the same
    numbers (people are keyed by ID number); bulk inserts, so 10 000 take seconds. Returns them as
    ``demo people --json`` lists people."""
    from sqlalchemy import insert

    from .domain import flexible as rules
    from .domain.money import yuan_to_fen
    from .domain.policy import flex_policy, resident_medical_category, resident_medical_premium

    year = today.year
    try:
        resident_medical_premium(region, year, "working_age")
    except NoPolicyError:
        year -= 1
    out: list[dict[str, object]] = []
    for kind, count in (("rm", residents), ("flex", flex_workers)):
        people = [population_person(kind, i) for i in range(count)]
        out += [{"name": n, "id_type": "resident_id", "id_number": num, "roles": ["population", kind]}
                for n, num in people]
        existing: set[str] = set()
        for chunk in range(0, len(people), 5000):
            numbers = [num for _, num in people[chunk:chunk + 5000]]
            existing |= set(session.scalars(select(Person.id_number).where(Person.id_type == "resident_id",
                                                                           Person.id_number.in_(numbers))))
        new = [(n, num) for n, num in people if num not in existing]
        if not new:
            continue
        rows = []
        for (n, num), person_no in zip(new, identity.next_person_nos(session, len(new)), strict=True):
            facts = facts_from_id("resident_id", num)
            rows.append({"name": n, "id_type": "resident_id", "id_number": num, "sex": facts.sex,
                         "birth_date": facts.birth_date, "person_no": person_no,
                         "nationality": "中华人民共和国"})
        session.execute(insert(Person.__table__), rows)  # Core executemany: no ORM bookkeeping per row
        ids = _ids_by_number(session, [num for _, num in new])
        enrol_rows = []
        for _name, num in new:
            facts = facts_from_id("resident_id", num)
            category = resident_medical_category(facts.birth_date, year, region) if kind == "rm" else None
            enrol_rows.append({
                "person_id": ids[num], "scheme": rm.SCHEME if kind == "rm" else flex.SCHEME, "region": region,
                "category": category, "tax_office": POPULATION_TAX_OFFICE, "si_agency": POPULATION_SI_AGENCY,
                "enrolled_on": date(2020, 1, 1), "insurances": "" if kind == "rm" else "pension,unemployment,medical",
                "subsidized": False, "pay_cycle": "monthly", "batch_debit": False, "status": "active"})
        session.execute(insert(Enrolment.__table__), enrol_rows)
        scheme = rm.SCHEME if kind == "rm" else flex.SCHEME
        person_ids = list(ids.values())
        enrolments = [row for chunk in range(0, len(person_ids), 5000) for row in session.execute(
            select(Enrolment.id, Enrolment.person_id, Enrolment.category).where(
                Enrolment.scheme == scheme, Enrolment.person_id.in_(person_ids[chunk:chunk + 5000])))]
        receivables = []
        if kind == "rm":
            for eid, pid, category in enrolments:
                receivables.append({
                    "natural_key": f"rm:{pid}:{year}", "insured_id": pid, "enrolment_id": eid, "scheme": rm.SCHEME,
                    "insurance": "rm_medical", "fee_period_start": date(year, 1, 1),
                    "fee_period_end": date(year, 12, 1),
                    "amount_fen": yuan_to_fen(resident_medical_premium(region, year, category)),
                    "charge_type": ChargeType.ANNUAL, "si_serial": f"RM{year}{pid:010d}",
                    "tax_office": POPULATION_TAX_OFFICE, "si_agency": POPULATION_SI_AGENCY, "status": "due",
                    "provisional": False})
        else:
            months = rules.window_periods(today)
            policies = {m: flex_policy(region, m) for m in months}
            cy = policies[months[0]].contribution_year
            session.execute(insert(BaseDeclaration.__table__), [
                {"enrolment_id": eid, "contribution_year": cy, "base": 8000, "source": BaseSource.DECLARED}
                for eid, _pid, _c in enrolments])
            for eid, pid, _c in enrolments:
                for m in months:
                    policy = policies[m]
                    base = rules.effective_base(8000, policy)
                    for ins in rules.FLEX_INSURANCES:
                        receivables.append({
                            "natural_key": f"flex:{eid}:{ins}:{m}", "insured_id": pid, "enrolment_id": eid,
                            "scheme": flex.SCHEME, "insurance": ins, "fee_period_start": m.first_day,
                            "fee_period_end": m.first_day, "base": None if ins == rules.MEDICAL else base,
                            "amount_fen": yuan_to_fen(rules.monthly_amount(base, policy, ins)),
                            "charge_type": ChargeType.NORMAL, "si_serial": f"P{pid:08d}{m.year}{m.month:02d}{ins[0]}",
                            "tax_office": POPULATION_TAX_OFFICE, "si_agency": POPULATION_SI_AGENCY, "status": "due",
                            "provisional": policy.provisional})
        for chunk in range(0, len(receivables), 10000):
            session.execute(insert(Receivable.__table__), receivables[chunk:chunk + 10000])
    return out


def _ids_by_number(session: Session, numbers: list[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for chunk in range(0, len(numbers), 5000):
        ids.update((num, pid) for pid, num in session.execute(select(Person.id, Person.id_number).where(
            Person.id_type == "resident_id", Person.id_number.in_(numbers[chunk:chunk + 5000]))))
    return ids

