"""The demo people (SPEC §13), seeded idempotently. Each persona is data, not code paths: the
amounts come from the policy table through the same generation the bureau feed would use.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import demo_qingdao
from .domain import banks, collection
from .domain.calendar import BEIJING, Month
from .domain.identity import facts_from_id, holder_name
from .domain.policy import NoPolicyError, contribution_year
from .domain.schemes import SchemeCode
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
from .services import certificates, flexible, identity
from .services import resident_medical as rm
from .services.imports import run_import

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
    flex: dict[str, Any] | None = None  # flexible-worker enrolment: enrolled_on, base, subsidized, paid
    agreement: dict[str, Any] | None = None  # a debit agreement in effect: bank, batch_debit
    balance_fen: int = 2_000_000  # what the persona's own bank account holds (20,000.00 unless said)
    bank: str = "ICBC"
    rp_amount: int | None = None  # enrolled in resident pension, this amount set for the year (unpaid)
    qingdao: dict[str, object] | None = None  # a Qingdao enrolment (demo_qingdao.py): numbers, base, 核定 rows


PERSONAS: tuple[Persona, ...] = (
    Persona(
        "王建国",
        "110105198003120032",
        ("rm-family",),
        family=(("110102195004050010", "父亲"), ("11010219520918002X", "母亲"), ("110105201506010040", "子女")),
    ),
    Persona("王福生", "110102195004050010", (), rm_category="elderly"),
    Persona("李秀英", "11010219520918002X", (), rm_category="elderly"),
    Persona("王小雨", "110105201506010040", (), rm_category="student_child"),
    Persona("赵丽", "110108198507220028", ("rm-paid",), rm_category="working_age", paid_rm=True),
    Persona("孙强", "110101199003070054", ("no-enrolment",)),
    Persona(
        "周敏",
        "110106197811030029",
        ("face-fails",),
        rm_category="working_age",
        face_fail_reason="未能识别到本人面部，请在光线充足处正对屏幕重试",
    ),
    # Flexible workers. "unpaid" lists the fee periods still owed, by insurance ("*" = all three), as
    # offsets from this month (-1 = 本期应缴费, -2 and -3 = 往期未缴费); every earlier month is paid.
    Persona(
        "刘鹏",
        "110108198704150030",
        (SchemeCode.FLEXIBLE,),
        flex={"enrolled_on": date(2024, 3, 5), "base": 8000, "unpaid": {"*": (-3, -2, -1)}},
    ),
    Persona(
        "陈静",
        "110105197208300024",
        ("flex-subsidized",),
        flex={"enrolled_on": date(2023, 1, 9), "subsidized": True, "unpaid": {"*": (-1,)}},
    ),
    Persona(
        "黄磊", "110106199502110016", ("flex-new",), flex={"enrolled_on": "last-month", "unpaid": {"*": (-1,)}}
    ),  # owes medical (Q20), no base yet
    Persona(
        "吴芳",
        "11010519830619002X",
        ("flex-special",),
        flex={"enrolled_on": date(2022, 6, 1), "base": 7500, "unpaid": {}, "special": True},
    ),
    # Debit agreements (缴费协议): signed a month ago, in effect; 钱敏's account is funded, 高红's is not.
    Persona(
        "钱敏",
        "110105198205160040",
        ("agreement",),
        rm_category="working_age",
        bank="CCB",
        balance_fen=5_000_000,
        agreement={"batch_debit": True},
        flex={"enrolled_on": date(2023, 3, 1), "base": 9000, "unpaid": {"*": (-1,)}},
    ),
    Persona(
        "高红",
        "110108197608230028",
        ("agreement", "agreement-short-funds"),
        rm_category="working_age",
        bank="BOC",
        balance_fen=1_000,
        agreement={"batch_debit": True},
        flex={"enrolled_on": date(2022, 1, 1), "base": 8000, "unpaid": {"*": (-1,)}},
    ),
    Persona(
        "郑伟",
        "110108197911080018",
        ("flex-lapse",),
        flex={"enrolled_on": date(2021, 9, 1), "base": 10000, "unpaid": {"medical": (-2, -1)}},
    ),
    # Resident pension: 2000 set for this year (unpaid) and one 人社核定 special item.
    Persona("马秀兰", "110106196805120023", (SchemeCode.RESIDENT_PENSION,), rp_amount=2000),
    # Qingdao (seed 002, R-QD-*): found by name + ID in the five Qingdao channels (demo_qingdao.py).
    Persona("林海", "370202198604150039", ("qd-flex",), qingdao={"role": "qd-flex"}),
    Persona("孙岚", "370203198708220042", ("qd-no-base",), qingdao={"role": "qd-no-base"}),
    Persona("宋涛", "370211198803100057", ("qd-arrears",), qingdao={"role": "qd-arrears"}),
)
RP_TAX_OFFICE = "国家税务总局北京市丰台区税务局第一税务所"
RP_SI_AGENCY = "北京市丰台区社会保险基金管理中心（人社）"
RP_SPECIAL_NOTICE = "20261015093021"
FLEX_TAX_OFFICE = "国家税务总局北京市海淀区税务局"
FLEX_SI_AGENCY = "北京市海淀区社会保险基金管理中心（人社）"


def _person(session: Session, p: Persona) -> Person:
    """The persona as the bureau knows it, listed in the simulated identity register (R-ID-4)."""
    identity.register(session, "resident_id", p.id_number, p.name, p.face_fail_reason)
    person = session.scalar(select(Person).where(Person.id_type == "resident_id", Person.id_number == p.id_number))
    facts = facts_from_id("resident_id", p.id_number)
    if person is None:
        person = Person(
            name=p.name,
            id_type="resident_id",
            id_number=p.id_number,
            sex=facts.sex,
            birth_date=facts.birth_date,
            person_no=identity.next_person_no(session),
        )
        session.add(person)
        session.flush()
    return person


def seed(session: Session, today: date, region: str = "beijing") -> dict[str, int]:
    """Create (or complete) every persona; running it twice changes nothing."""
    people = {p.id_number: _person(session, p) for p in PERSONAS}
    for p in PERSONAS:
        person = people[p.id_number]
        if (
            p.rm_category
            and session.scalar(
                select(Enrolment.id).where(Enrolment.person_id == person.id, Enrolment.scheme == rm.SCHEME)
            )
            is None
        ):
            session.add(
                Enrolment(
                    person_id=person.id,
                    scheme=rm.SCHEME,
                    region=region,
                    category=p.rm_category,
                    tax_office=TAX_OFFICE,
                    si_agency=SI_AGENCY,
                    enrolled_on=date(2020, 1, 1),
                )
            )
        for number, relation in p.family:
            rm.remember(session, person.id, people[number].id, relation)
    session.flush()
    flex_created = _seed_flex(session, people, today, region)
    # Every resident medical year on sale today whose premiums are out (docs/policy.md §1); the persona who has
    # paid has paid the year the pages present.
    year = rm.presented_year(region, today)
    created = 0
    for y in sorted({*collection.years_on_sale(region, rm.SCHEME, today), year}):
        try:
            created += rm.generate_year(session, y, region)
        except NoPolicyError:
            continue
    session.flush()
    for p in PERSONAS:
        if p.paid_rm:
            _mark_paid(session, people[p.id_number], year, today)
    _seed_rp(session, people, today, region)
    agreements = _seed_agreements(session, people, today)
    qd_bills = demo_qingdao.seed(session, {p.id_number: people[p.id_number] for p in PERSONAS if p.qingdao}, today)
    session.flush()
    # Past payments are in the treasury already (入库), so a newcomer can apply for a certificate at once.
    posted = certificates.post_due(session, today)
    return {
        "people": len(people),
        "rm_receivables_created": created,
        "flex_receivables_created": flex_created,
        "agreements": agreements,
        "qd_bills_imported": qd_bills,
        "posted": posted,
    }


def bank_account(p: Persona) -> dict[str, object]:
    """The persona's own account at the simulated bank (what `demo people --json` lists)."""
    index = PERSONAS.index(p)
    return {
        "bank": p.bank,
        "bank_name": banks.banks()[p.bank].name,
        "card_number": banks.card_number(p.bank, 7_000_000 + index),
        "holder": p.name,
        "balance": f"{p.balance_fen / 100:.2f}",
    }


def bank_rows() -> list[tuple[str, str, str, str, int]]:
    """Every persona's account, as the bank's back office opens them."""
    return [
        (str(a["card_number"]), p.bank, p.name, p.id_number, p.balance_fen) for p in PERSONAS if (a := bank_account(p))
    ]


def _seed_agreements(session: Session, people: dict[str, Person], today: date) -> int:
    """Agreements signed a month ago for the personas that have one (the bank side is ``bank_agreements``)."""
    from .models import Agreement
    from .services.agreements import offices

    created = 0
    for p in PERSONAS:
        if not p.agreement:
            continue
        person = people[p.id_number]
        if session.scalar(select(Agreement.id).where(Agreement.payer_id == person.id)) is not None:
            continue
        card = str(bank_account(p)["card_number"])
        for office, agency in offices(session, person.id).items():
            region = banks.regions(p.bank)[0]
            session.add(
                Agreement(
                    agreement_no=f"AGDEMO{person.id:06d}{len(office) % 100:02d}{created:02d}",
                    payer_id=person.id,
                    tax_office=office,
                    si_agency=agency,
                    bank=p.bank,
                    bank_region=region,
                    branch=banks.branches(p.bank, region)[0],
                    holder=p.name,
                    account_masked=banks.mask_card(card),
                    account_digest=hashlib.sha256(card.encode()).hexdigest(),
                    batch_debit=bool(p.agreement.get("batch_debit")),
                    effective_on=today - timedelta(days=29),
                    signed_at=datetime.combine(today - timedelta(days=30), time(10, 0), BEIJING),
                )
            )
            created += 1
    session.flush()
    return created


def bank_agreements(session: Session) -> list[tuple[str, str, str, str]]:
    """The demo's agreements as the bank registered them: (agreement_no, card, holder, id number)."""
    from .models import Agreement

    by_number = {p.id_number: p for p in PERSONAS}
    rows = session.execute(
        select(Agreement.agreement_no, Person.id_number, Person.name)
        .join(Person, Person.id == Agreement.payer_id)
        .where(Agreement.agreement_no.like("AGDEMO%"))
    ).all()
    return [
        (no, str(bank_account(by_number[number])["card_number"]), name, number)
        for no, number, name in rows
        if number in by_number
    ]


def _has_rp_policy(region: str, year: int) -> bool:
    from .domain.policy import resident_pension_grades

    try:
        resident_pension_grades(region, year)
    except NoPolicyError:
        return False
    return True


def _seed_rp(session: Session, people: dict[str, Person], today: date, region: str) -> None:
    """Resident pension payers: enrolled, this year's amount set through the same use case as the page
    (the receivable follows), and one 人社核定 special item. A year without a policy row uses the last one."""
    from .domain.pension import pension_year
    from .services import resident_pension as rp

    now = datetime.combine(today, time(9, 0), BEIJING)
    for p in PERSONAS:
        if p.rp_amount is None:
            continue
        person = people[p.id_number]
        if rp.enrolment_of(session, person.id) is None:
            session.add(
                Enrolment(
                    person_id=person.id,
                    scheme=rp.SCHEME,
                    region=region,
                    tax_office=RP_TAX_OFFICE,
                    si_agency=RP_SI_AGENCY,
                    enrolled_on=date(2015, 3, 1),
                    insurances="rp_pension",
                )
            )
            session.flush()
        year = next((y for y in (pension_year(today), pension_year(today) - 1) if _has_rp_policy(region, y)), None)
        if year is None:
            continue  # no policy row for this year or the last: enrolled, nothing to set
        if rp.year_receivable(session, person.id, "rp_pension", year) is None:
            rp.set_amount(
                session,
                person.id,
                insurance="rp_pension",
                year=year,
                amount_text=str(p.rp_amount),
                now=now if now.year == year else datetime(year, 12, 1, 9, 0, tzinfo=BEIJING),
            )
        run_import(
            session,
            rp.SPECIAL_ITEMS,
            "id_type,id_number,insurance,fee_period,amount,charge_type,notice_no\n"
            f"resident_id,{p.id_number},rp_pension,{year - 2},1000.00,missed_enrolment,"
            f"{RP_SPECIAL_NOTICE}\n",
        ).raise_for_errors()
    session.flush()


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
    decl = Declaration(
        payer_id=person.id,
        insured_id=person.id,
        scheme=rows[0].scheme,
        total_fen=total,
        status=DeclarationStatus.PAID,
        channel=method,
        declared_at=paid_at,
    )
    session.add(decl)
    session.flush()
    order = PaymentOrder(
        out_trade_no=f"SBDEMO{decl.id:010d}",
        declaration_id=decl.id,
        payer_id=person.id,
        provider=method,
        channel=method,
        amount_fen=total,
        state=OrderState.PAID,
        provider_txn_id=f"DEMO{decl.id:010d}",
        created_at=paid_at,
        expires_at=paid_at,
        updated_at=paid_at,
        paid_at=paid_at,
    )
    session.add(order)
    session.flush()
    for r in rows:
        session.add(DeclarationItem(declaration_id=decl.id, receivable_id=r.id, amount_fen=r.amount_fen))
        r.status, r.declaration_id = ReceivableStatus.PAID, decl.id
        session.add(
            SettledPayment(
                receivable_id=r.id,
                order_id=order.id,
                payer_id=person.id,
                amount_fen=r.amount_fen,
                levy_voucher_no=f"1001{paid_at:%y}{r.id:014d}",
                paid_at=paid_at,
                channel=method,
                method=method,
            )
        )


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
        e = flexible.enrolment_of(session, person.id)
        if e is None:
            e = Enrolment(
                person_id=person.id,
                scheme=flexible.SCHEME,
                region=region,
                tax_office=FLEX_TAX_OFFICE,
                si_agency=FLEX_SI_AGENCY,
                enrolled_on=enrolled_on,
                subsidized=bool(f.get("subsidized")),
                insurances="pension,unemployment,medical",
                special_category="享受补贴人员" if f.get("subsidized") else None,
            )
            session.add(e)
            session.flush()
        if f.get("base") and not flexible.has_declared(session, e):
            session.add(
                BaseDeclaration(
                    enrolment_id=e.id,
                    contribution_year=contribution_year(enrolled_on),
                    base=int(f["base"]),
                    source=BaseSource.DECLARED,
                )
            )
            session.flush()
    for offset in range(-6, 0):
        try:
            created += flexible.generate_month(session, this_month + offset, region).created
        except NoPolicyError:
            continue
    for p in PERSONAS:
        if not p.flex:
            continue
        person = people[p.id_number]
        unpaid: dict[str, tuple[int, ...]] = p.flex.get("unpaid", {})
        for offset in range(-6, 0):
            month = this_month + offset
            rows = session.scalars(
                select(Receivable).where(
                    Receivable.insured_id == person.id,
                    Receivable.scheme == flexible.SCHEME,
                    Receivable.charge_type == ChargeType.NORMAL,
                    Receivable.fee_period_start == month.first_day,
                )
            )
            chosen = [r for r in rows if offset not in unpaid.get("*", ()) + unpaid.get(r.insurance, ())]
            settle_past(session, person, chosen, (month + 1).day(12), "alipay")
        if p.flex.get("special"):
            month = this_month + -8
            csv_text = "id_type,id_number,insurance,fee_period,amount,charge_type,notice_no\n" + "".join(
                f"resident_id,{p.id_number},{ins},{month},{amount},{kind},{notice}\n"
                for ins, amount, kind, notice in (
                    ("pension", "110.00", "missed_enrolment", "20261012044739"),
                    ("unemployment", "210.00", "missed_enrolment", "20261012044739"),
                    ("medical", "310.00", "policy_backpay", "20261012044809"),
                )
            )
            run_import(session, flexible.SPECIAL_ITEMS, csv_text).raise_for_errors()
    session.flush()
    return created


def people_json(session: Session) -> list[dict[str, object]]:
    """The personas as SPEC §13 lists them."""
    out: list[dict[str, object]] = []
    for p in PERSONAS:
        if not p.roles:
            continue
        item: dict[str, object] = {
            "name": p.name,
            "id_type": "resident_id",
            "id_number": p.id_number,
            "roles": list(p.roles),
        }
        item["bank_accounts"] = [bank_account(p)]
        if p.family:
            fam = []
            by_number = {q.id_number: q for q in PERSONAS}
            for number, relation in p.family:
                q = by_number[number]
                fam.append(
                    {
                        "name": q.name,
                        "id_type": "resident_id",
                        "id_number": number,
                        "category": q.rm_category,
                        "relation": relation,
                    }
                )
            item["family"] = fam
        out.append(item)
    return out


def seed_bank(instance_path: str, session: Session) -> int:
    """The simulated bank's side of the demo: every persona's account, and the agreements the personas signed
    (the bank's back office; balances already there are left as the demo's users left them)."""
    from .payments.sim import bank as sim_bank
    from .payments.sim.store import Store

    store = Store(instance_path)
    sim_bank.init(store)
    sim_bank.open_accounts(store, bank_rows())
    rows = bank_agreements(session)
    for row in rows:
        sim_bank.register_agreement(store, *row)
    return len(rows)


# ----------------------------------------------------------------------------------------- population

# 门头沟 and 石景山: no demo persona lives there
POPULATION_AREAS: dict[str, str] = {SchemeCode.RESIDENT_MEDICAL: "110109", SchemeCode.FLEXIBLE: "110107"}
_DAYS = 20000  # births spread over 1950-01-01 + 20000 days (to 2004)
POPULATION_TAX_OFFICE = "国家税务总局北京市石景山区税务局"
POPULATION_SI_AGENCY = "北京市石景山区社会保险基金管理中心"


def population_person(kind: str, i: int, key: bytes) -> tuple[str, str]:
    """The i-th synthetic person of a kind: (name, resident ID number with a valid check digit). The name
    is the one this instance's simulated identity register (``key``) derives from the number, so each can
    log in (R-ID-4)."""
    from stdnum.cn import ric

    birth = date(1950, 1, 1) + timedelta(days=(i * 37) % _DAYS)
    body = f"{POPULATION_AREAS[kind]}{birth:%Y%m%d}{i // _DAYS + 1:03d}"
    number = body + ric.calc_check_digit(body + "0")  # it reads the first 17 of 18
    return holder_name(key, "resident_id", number), number


def population(
    session: Session, *, residents: int, flex_workers: int, today: date, key: bytes, region: str = "beijing"
) -> list[dict[str, object]]:
    """Synthetic enrolled people for load tests and benchmarks: ``residents`` owing this year's resident
    medical premium, ``flex_workers`` owing the rolling window on a base of 8000. Idempotent for the same
    numbers (people are keyed by ID number); ``key`` is the register's (``domain.identity.register_key``), so
    the names are the ones the face check accepts; bulk inserts, so 10 000 take seconds. Returns them as
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
    for kind, count in ((SchemeCode.RESIDENT_MEDICAL, residents), (SchemeCode.FLEXIBLE, flex_workers)):
        people = [population_person(kind, i, key) for i in range(count)]
        out += [
            {
                "name": n,
                "id_type": "resident_id",
                "id_number": num,
                "roles": ["population", kind],
                "bank_accounts": [
                    {
                        "bank": "ICBC",
                        "card_number": population_card(kind, i),
                        "holder": n,
                        "balance": f"{POPULATION_BALANCE[kind] / 100:.2f}",
                    }
                ],
            }
            for i, (n, num) in enumerate(people)
        ]
        existing: set[str] = set()
        for chunk in range(0, len(people), 5000):
            numbers = [num for _, num in people[chunk : chunk + 5000]]
            existing |= set(
                session.scalars(
                    select(Person.id_number).where(Person.id_type == "resident_id", Person.id_number.in_(numbers))
                )
            )
        new = [(n, num) for n, num in people if num not in existing]
        if not new:
            continue
        rows = []
        for (n, num), person_no in zip(new, identity.next_person_nos(session, len(new)), strict=True):
            facts = facts_from_id("resident_id", num)
            rows.append(
                {
                    "name": n,
                    "id_type": "resident_id",
                    "id_number": num,
                    "sex": facts.sex,
                    "birth_date": facts.birth_date,
                    "person_no": person_no,
                    "nationality": "中华人民共和国",
                }
            )
        session.execute(insert(Person.__table__), rows)  # Core executemany: no ORM bookkeeping per row
        ids = _ids_by_number(session, [num for _, num in new])
        enrol_rows = []
        for _name, num in new:
            facts = facts_from_id("resident_id", num)
            assert facts.birth_date is not None  # a resident ID number carries it
            category = resident_medical_category(facts.birth_date, year, region) if kind == rm.SCHEME else None
            enrol_rows.append(
                {
                    "person_id": ids[num],
                    "scheme": rm.SCHEME if kind == rm.SCHEME else flexible.SCHEME,
                    "region": region,
                    "category": category,
                    "tax_office": POPULATION_TAX_OFFICE,
                    "si_agency": POPULATION_SI_AGENCY,
                    "enrolled_on": date(2020, 1, 1),
                    "insurances": "" if kind == rm.SCHEME else "pension,unemployment,medical",
                    "subsidized": False,
                    "pay_cycle": "monthly",
                    "status": "active",
                }
            )
        session.execute(insert(Enrolment.__table__), enrol_rows)
        scheme = rm.SCHEME if kind == rm.SCHEME else flexible.SCHEME
        person_ids = list(ids.values())
        enrolments = [
            row
            for chunk in range(0, len(person_ids), 5000)
            for row in session.execute(
                select(Enrolment.id, Enrolment.person_id, Enrolment.category).where(
                    Enrolment.scheme == scheme, Enrolment.person_id.in_(person_ids[chunk : chunk + 5000])
                )
            )
        ]
        receivables = []
        if kind == rm.SCHEME:
            for eid, pid, rm_category in enrolments:
                receivables.append(
                    {
                        "natural_key": f"rm:{pid}:{year}",
                        "insured_id": pid,
                        "enrolment_id": eid,
                        "scheme": rm.SCHEME,
                        "insurance": "rm_medical",
                        "fee_period_start": date(year, 1, 1),
                        "fee_period_end": date(year, 12, 1),
                        "amount_fen": yuan_to_fen(resident_medical_premium(region, year, str(rm_category))),
                        "charge_type": ChargeType.ANNUAL,
                        "si_serial": f"RM{year}{pid:010d}",
                        "tax_office": POPULATION_TAX_OFFICE,
                        "si_agency": POPULATION_SI_AGENCY,
                        "status": "due",
                        "provisional": False,
                    }
                )
        else:
            months = rules.window_periods(today)
            policies = {m: flex_policy(region, m) for m in months}
            cy = policies[months[0]].contribution_year
            session.execute(
                insert(BaseDeclaration.__table__),
                [
                    {"enrolment_id": eid, "contribution_year": cy, "base": 8000, "source": BaseSource.DECLARED}
                    for eid, _pid, _c in enrolments
                ],
            )
            for eid, pid, _c in enrolments:
                for m in months:
                    policy = policies[m]
                    base = rules.effective_base(8000, policy)
                    for ins in rules.FLEX_INSURANCES:
                        receivables.append(
                            {
                                "natural_key": f"flex:{eid}:{ins}:{m}",
                                "insured_id": pid,
                                "enrolment_id": eid,
                                "scheme": flexible.SCHEME,
                                "insurance": ins,
                                "fee_period_start": m.first_day,
                                "fee_period_end": m.first_day,
                                "base": None if ins == rules.MEDICAL else base,
                                "amount_fen": yuan_to_fen(rules.monthly_amount(base, policy, ins)),
                                "charge_type": ChargeType.NORMAL,
                                "si_serial": f"P{pid:08d}{m.year}{m.month:02d}{ins[0]}",
                                "tax_office": POPULATION_TAX_OFFICE,
                                "si_agency": POPULATION_SI_AGENCY,
                                "status": "due",
                                "provisional": policy.provisional,
                            }
                        )
        for chunk in range(0, len(receivables), 10000):
            session.execute(insert(Receivable.__table__), receivables[chunk : chunk + 10000])
    return out


# 2,000.00 and 10,000.00 in their accounts
POPULATION_BALANCE: dict[str, int] = {SchemeCode.RESIDENT_MEDICAL: 200_000, SchemeCode.FLEXIBLE: 1_000_000}


def population_card(kind: str, i: int) -> str:
    """The i-th synthetic person's 工商银行 card (Luhn-valid, no clash with the personas')."""
    return banks.card_number("ICBC", (20_000_000 if kind == rm.SCHEME else 30_000_000) + i)


def population_bank(
    session: Session, instance_path: str, people: list[dict[str, Any]], *, agreements: bool, today: date
) -> int:
    """The simulated bank's side of the population: an account for everyone; with ``agreements``, a
    batch-debit agreement in effect for each of them (signed at the counter). Returns agreements created."""
    from sqlalchemy import insert

    from .models import Agreement
    from .payments.sim import bank as sim_bank
    from .payments.sim.store import Store

    store = Store(instance_path)
    sim_bank.init(store)
    accounts = [
        (str(a["card_number"]), "ICBC", str(p["name"]), str(p["id_number"]), POPULATION_BALANCE[str(p["roles"][1])])
        for p in people
        for a in p["bank_accounts"]
    ]
    sim_bank.open_accounts(store, accounts)
    if not agreements:
        return 0
    ids = _ids_by_number(session, [str(p["id_number"]) for p in people])
    have = set(session.scalars(select(Agreement.payer_id).where(Agreement.agreement_no.like("AGPOP%"))))
    region = banks.regions("ICBC")[0]
    branch = banks.branches("ICBC", region)[0]
    rows, bank_rows = [], []
    for card, _bank, holder, number, _balance in accounts:
        pid = ids[number]
        if pid in have:
            continue
        no = f"AGPOP{pid:012d}"
        rows.append(
            {
                "agreement_no": no,
                "payer_id": pid,
                "tax_office": POPULATION_TAX_OFFICE,
                "si_agency": POPULATION_SI_AGENCY,
                "bank": "ICBC",
                "bank_region": region,
                "branch": branch,
                "holder": holder,
                "account_masked": banks.mask_card(card),
                "account_digest": hashlib.sha256(card.encode()).hexdigest(),
                "batch_debit": True,
                "status": "signed",
                "signed_at": datetime.combine(date(2026, 1, 1), time(9), BEIJING),
                "effective_on": date(2026, 1, 2),
            }
        )
        bank_rows.append((no, card, holder, number))
    for chunk in range(0, len(rows), 10000):
        session.execute(insert(Agreement.__table__), rows[chunk : chunk + 10000])
    sim_bank.register_agreements(store, bank_rows)
    return len(rows)


def _ids_by_number(session: Session, numbers: list[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for chunk in range(0, len(numbers), 5000):
        ids.update(
            (num, pid)
            for pid, num in session.execute(
                select(Person.id, Person.id_number).where(
                    Person.id_type == "resident_id", Person.id_number.in_(numbers[chunk : chunk + 5000])
                )
            )
        )
    return ids
