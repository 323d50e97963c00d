"""The people the page tests stand on, built with the factories."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from flask import Flask

from tests.factories import make_family, make_person, make_resident
from webapp.models import Person


@dataclass
class Family:
    """王建国 pays resident medical for 父亲 王福生, 母亲 李秀英 (老年人) and 子女 王小雨 (学生儿童)."""

    payer: Person
    father: Person
    mother: Person
    child: Person


@pytest.fixture
def family(app: Flask) -> Family:
    """A payer with three saved family members who owe this year's premium."""
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        payer = make_resident(s, "王建国", number="110105198003120032", birth=date(1980, 3, 12))
        father = make_resident(s, "王福生", category="elderly", number="110102195004050010", birth=date(1950, 4, 5))
        mother = make_resident(s, "李秀英", category="elderly", number="11010219520918002X", birth=date(1952, 9, 18))
        child = make_resident(
            s, "王小雨", category="student_child", number="110105201506010040", birth=date(2015, 6, 1)
        )
        make_family(s, payer, [(father, "父亲"), (mother, "母亲"), (child, "子女")])
        s.commit()
    return Family(payer, father, mother, child)


@pytest.fixture
def stranger(app: Flask) -> Person:
    """Someone the tax system knows, enrolled in nothing (未查询到参保信息)."""
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        p = make_person(s, "孙强", "110101199003070054")
        s.commit()
    return p


@pytest.fixture
def flex(app: Flask) -> dict[str, Person]:
    """The flexible workers of the guide's cases, by role (R-FB-*, R-FP-*)."""
    from tests.factories import TODAY, add_special_items, make_flex_worker
    from webapp.domain.calendar import Month

    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        people = {
            "flex": make_flex_worker(s, "刘鹏", base=8000, unpaid_months=3),
            "subsidized": make_flex_worker(
                s, "陈静", base=None, subsidized=True, enrolled_on=date(2023, 1, 9), unpaid_months=1
            ),
            "new": make_flex_worker(s, "黄磊", base=None, enrolled_on=(Month.of(TODAY) + -1).day(15)),
            "special": make_flex_worker(s, "吴芳", base=7500, unpaid_months=0, enrolled_on=date(2022, 6, 1)),
            "lapse": make_flex_worker(
                s, "郑伟", base=10000, unpaid={"medical": (-2, -1)}, enrolled_on=date(2021, 9, 1)
            ),
        }
        add_special_items(
            s,
            people["special"],
            [
                ("pension", "110.00", "missed_enrolment", "20261012044739"),
                ("unemployment", "210.00", "missed_enrolment", "20261012044739"),
                ("medical", "310.00", "policy_backpay", "20261012044809"),
            ],
        )
        s.commit()
    return people


@pytest.fixture
def wechat_user(phone_user, family):  # type: ignore[no-untyped-def]
    """王建国 (who pays for his family) logged in inside WeChat."""
    return phone_user(family.payer, "wechat")


@pytest.fixture
def pension(app: Flask) -> dict[str, Person]:
    """Resident pension payers by role (R-RP-*): ``set`` (2000 set for 2026, unpaid), ``unset`` (enrolled,
    nothing set), ``paid`` (2026 paid at 3000), ``special`` (2000 set, and 人社核定 items under two
    征集通知流水号)."""
    from tests.factories import add_pension_special_items, make_pension_payer

    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        people = {
            "set": make_pension_payer(s, "马兰", amount=2000),
            "unset": make_pension_payer(s, "牛芳", amount=None),
            "paid": make_pension_payer(s, "杨梅", amount=3000, paid=True, set_on=date(2026, 3, 2)),
            "special": make_pension_payer(s, "朱红", amount=2000),
        }
        add_pension_special_items(
            s,
            people["special"],
            [
                ("1000.00", "missed_enrolment", "20261015093021"),
                ("500.00", "policy_backpay", "20261015093021"),
                ("800.00", "other", "20261015093055"),
            ],
            year=2024,
        )
        s.commit()
    return people
