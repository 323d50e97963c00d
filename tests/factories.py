"""Build the people a test needs, in the words of the guide: ``make_resident(s, category="elderly")``,
``make_family(s, payer, [...])``, ``make_flex_worker(s, base=8000, unpaid_months=3)``. Each writes
through the same services the bureau feed uses, so amounts come from the policy tables; each returns
the person (flushed, not committed: the caller commits).
"""

from __future__ import annotations

import hashlib
import itertools
from datetime import date, datetime, time

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum.cn import ric

from webapp import demo
from webapp.domain import banks
from webapp.domain.calendar import BEIJING, Month
from webapp.domain.identity import facts_from_id
from webapp.domain.policy import contribution_year
from webapp.domain.statuses import BaseSource, ChargeType
from webapp.models import Agreement, BaseDeclaration, Enrolment, FamilyPayee, Person, Receivable
from webapp.services import flexible, identity, resident_medical, resident_pension
from webapp.services.imports import run_import

TODAY = date(2026, 11, 22)
TAX_OFFICE = "国家税务总局北京市朝阳区税务局第一税务所"
SI_AGENCY = "北京市朝阳区社会保险基金管理中心"
_seq = itertools.count(1)


def id_number(birth: date = date(1980, 1, 1), *, male: bool = True, area: str = "110105") -> str:
    """A fresh resident ID number with a valid GB 11643 check digit."""
    n = next(_seq)
    order = 2 * (n % 499) + (1 if male else 2)  # odd for men, even for women; 499 in a row never repeat
    body = f"{area}{birth:%Y%m%d}{order:03d}"
    number = body + ric.calc_check_digit(body + "0")  # it reads the first 17 of 18
    return number


def make_person(
    s: Session,
    name: str = "张三",
    number: str | None = None,
    *,
    birth: date = date(1980, 1, 1),
    male: bool = True,
    face_fail_reason: str | None = None,
) -> Person:
    """Someone the tax system knows (no enrolment), listed as the holder of their ID in the simulated
    identity register so they can log in (``face_fail_reason``: their face check fails with it)."""
    number = number or id_number(birth, male=male)
    facts = facts_from_id("resident_id", number)
    identity.register(s, "resident_id", number, name, face_fail_reason)
    p = Person(
        name=name,
        id_type="resident_id",
        id_number=number,
        sex=facts.sex,
        birth_date=facts.birth_date,
        person_no=identity.next_person_no(s),
    )
    s.add(p)
    s.flush()
    return p


def make_resident(
    s: Session,
    name: str = "李四",
    *,
    category: str | None = "working_age",
    year: int = TODAY.year,
    birth: date = date(1980, 1, 1),
    number: str | None = None,
    paid: bool = False,
    region: str = "beijing",
    face_fail_reason: str | None = None,
) -> Person:
    """A resident enrolled in resident medical, owing the year's premium (or having paid it, ``paid``)."""
    p = make_person(s, name, number, birth=birth, face_fail_reason=face_fail_reason)
    s.add(
        Enrolment(
            person_id=p.id,
            scheme=resident_medical.SCHEME,
            region=region,
            category=category,
            tax_office=TAX_OFFICE,
            si_agency=SI_AGENCY,
            enrolled_on=date(2020, 1, 1),
        )
    )
    s.flush()
    resident_medical.generate_year(s, year, region)
    if paid:
        r = s.scalar(select(Receivable).where(Receivable.natural_key == f"rm:{p.id}:{year}"))
        demo.settle_past(s, p, [r], TODAY.replace(day=1), "wechat")
    s.flush()
    return p


def make_family(s: Session, payer: Person, members: list[tuple[Person, str]]) -> Person:
    """Save family members for a payer (R-RM-1): ``[(person, "父亲"), …]``."""
    for person, relation in members:
        s.add(FamilyPayee(payer_id=payer.id, insured_id=person.id, relation=relation))
    s.flush()
    return payer


def make_flex_worker(
    s: Session,
    name: str = "刘一",
    *,
    base: int | None = 8000,
    unpaid_months: int = 3,
    unpaid: dict[str, tuple[int, ...]] | None = None,
    subsidized: bool = False,
    enrolled_on: date = date(2024, 3, 5),
    today: date = TODAY,
    birth: date = date(1987, 4, 15),
    number: str | None = None,
) -> Person:
    """A flexible worker with six months of receivables before ``today``: the last ``unpaid_months`` of
    them unpaid (or ``unpaid``: by insurance, offsets from this month, ``"*"`` for all three), the rest
    paid. ``base=None`` for a new enrollee who has not declared yet."""
    p = make_person(s, name, number, birth=birth)
    e = Enrolment(
        person_id=p.id,
        scheme=flexible.SCHEME,
        region="beijing",
        tax_office=TAX_OFFICE,
        si_agency=SI_AGENCY,
        enrolled_on=enrolled_on,
        subsidized=subsidized,
        insurances="pension,unemployment,medical",
        special_category="享受补贴人员" if subsidized else None,
    )
    s.add(e)
    s.flush()
    if base is not None and not subsidized:
        s.add(
            BaseDeclaration(
                enrolment_id=e.id,
                contribution_year=contribution_year(enrolled_on),
                base=base,
                source=BaseSource.DECLARED,
            )
        )
        s.flush()
    this = Month.of(today)
    for offset in range(-6, 0):
        if this + offset >= Month.of(enrolled_on):
            flexible.generate_month(s, this + offset, "beijing")
    owed = unpaid if unpaid is not None else {"*": tuple(range(-unpaid_months, 0))}
    for offset in range(-6, 0):
        month = this + offset
        rows = s.scalars(
            select(Receivable).where(
                Receivable.insured_id == p.id,
                Receivable.scheme == flexible.SCHEME,
                Receivable.charge_type == ChargeType.NORMAL,
                Receivable.fee_period_start == month.first_day,
            )
        ).all()
        paid = [r for r in rows if offset not in owed.get("*", ()) + owed.get(r.insurance, ())]
        demo.settle_past(s, p, paid, (month + 1).day(12), "alipay")
    s.flush()
    return p


def add_special_items(
    s: Session, person: Person, items: list[tuple[str, str, str, str]], month: Month | None = None
) -> None:
    """特殊核定 items from the bureau: ``[(insurance, amount, charge_type, notice_no), …]``."""
    month = month or Month(2026, 3)
    csv_text = "id_type,id_number,insurance,fee_period,amount,charge_type,notice_no\n" + "".join(
        f"resident_id,{person.id_number},{ins},{month},{amount},{kind},{notice}\n"
        for ins, amount, kind, notice in items
    )
    run_import(s, flexible.SPECIAL_ITEMS, csv_text).raise_for_errors()


def at(day: date, hour: int = 10) -> datetime:
    """A Beijing time on a day (for ``clock.set``)."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=BEIJING)


def make_agreement(
    s: Session,
    person: Person,
    providers: Flask | None = None,
    *,
    batch_debit: bool = True,
    bank: str = "ICBC",
    balance_fen: int = 1_000_000,
    effective_on: date = date(2026, 11, 1),
    tax_office: str = TAX_OFFICE,
    holder: str | None = None,
) -> Agreement:
    """A debit agreement in effect (signed at the counter), with the account open and funded at the simulated
    bank when ``providers`` is given."""
    card = banks.card_number(bank, next(_seq))
    a = Agreement(
        agreement_no=f"AGTEST{next(_seq):010d}",
        payer_id=person.id,
        tax_office=tax_office,
        si_agency=SI_AGENCY,
        bank=bank,
        bank_region=banks.regions(bank)[0],
        branch=banks.branches(bank, banks.regions(bank)[0])[0],
        holder=holder or person.name,
        account_masked=banks.mask_card(card),
        account_digest=hashlib.sha256(card.encode()).hexdigest(),
        batch_debit=batch_debit,
        effective_on=effective_on,
        signed_at=datetime.combine(effective_on, datetime.min.time(), BEIJING),
    )
    s.add(a)
    s.flush()
    if providers is not None:
        from webapp.payments.sim import bank as sim_bank

        store = providers.extensions["sim"].store
        sim_bank.open_account(store, card, bank, holder or person.name, person.id_number, balance_fen)
        sim_bank.register_agreement(store, a.agreement_no, card, holder or person.name, person.id_number)
    a.card_number = card  # type: ignore[attr-defined]  # for tests that drain or fund the account
    return a


def make_pension_payer(
    s: Session,
    name: str = "马兰",
    *,
    amount: int | None = 2000,
    year: int = TODAY.year,
    paid: bool = False,
    set_on: date = TODAY,
    birth: date = date(1968, 5, 12),
    number: str | None = None,
    region: str = "beijing",
) -> Person:
    """A resident enrolled in resident pension (城乡居民养老) who set ``amount`` for ``year`` (R-RP-1) on
    ``set_on``, so the year's receivable exists at it (or has been paid, ``paid``); ``amount=None``: nothing
    set yet."""
    p = make_person(s, name, number, birth=birth, male=False)
    s.add(
        Enrolment(
            person_id=p.id,
            scheme=resident_pension.SCHEME,
            region=region,
            tax_office=TAX_OFFICE,
            si_agency=SI_AGENCY,
            enrolled_on=date(2015, 3, 1),
            insurances="rp_pension",
        )
    )
    s.flush()
    if amount is not None:
        resident_pension.set_amount(
            s,
            p.id,
            insurance="rp_pension",
            year=year,
            amount_text=str(amount),
            now=datetime.combine(set_on, time(9, 0), BEIJING),
        )
        if paid:
            r = resident_pension.year_receivable(s, p.id, "rp_pension", year)
            demo.settle_past(s, p, [r], set_on, "alipay")
    s.flush()
    return p


def add_pension_special_items(s: Session, person: Person, items: list[tuple[str, str, str]], year: int = 2024) -> None:
    """人社核定 special items of resident pension: ``[(amount, charge_type, notice_no), …]`` for ``year``."""
    csv_text = "id_type,id_number,insurance,fee_period,amount,charge_type,notice_no\n" + "".join(
        f"resident_id,{person.id_number},rp_pension,{year},{amount},{kind},{notice}\n" for amount, kind, notice in items
    )
    run_import(s, resident_pension.SPECIAL_ITEMS, csv_text).raise_for_errors()


def make_certificate(
    s: Session,
    person: Person,
    *,
    today: date = TODAY,
    start: Month | None = None,
    end: Month | None = None,
    make: bool = True,
    tax_office: str = TAX_OFFICE,
    base_url: str = "http://localhost",
    secret: str = "test",
):  # type: ignore[no-untyped-def]
    """Post what the person has paid by ``today`` (入库), apply for a certificate of one 税务机关 over
    ``start``..``end`` (default: last year to this month) and, unless ``make=False``, make it."""
    from webapp.services import certificates

    certificates.post_due(s, today)
    this = Month.of(today)
    cert = certificates.apply(
        s,
        person,
        tax_office,
        start or Month(this.year - 1, 1),
        end or this,
        datetime(today.year, today.month, today.day, 10, tzinfo=BEIJING),
    )
    if make:
        certificates.make(
            s,
            cert.id,
            certificates.MakeSettings(base_url=base_url, secret=secret),
            datetime(today.year, today.month, today.day, 10, 1, tzinfo=BEIJING),
        )
    s.flush()
    return cert
