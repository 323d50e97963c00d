"""Resident medical is paid before its year (R-RM-2, R-UX-3; docs/policy.md §1): year N is collected from
1 September to 31 December of N−1 (seed 004: 申报时间 2022-12-26 for 费款所属期 2023-01 至 2023-12), and a
year still owed after that is taken until its own 31 December. The pages, the receivable generation, the
demo and the reminders follow the same table."""

from __future__ import annotations

import re
from datetime import date

import icalendar
import pytest
from sqlalchemy import select

from tests.factories import at, make_family, make_resident
from webapp.domain import policy
from webapp.domain.policy import PolicyTable
from webapp.models import Receivable
from webapp.services import resident_medical as rm

from ..conftest import text

TABLE_2027 = PolicyTable.load().with_resident_medical(
    *(
        {"region": "beijing", "year": "2027", "category": c, "premium": p, "source": "test"}
        for c, p in (("elderly", "480.00"), ("student_child", "455.00"), ("working_age", "815.00"))
    )
)


@pytest.fixture
def published_2027(monkeypatch):
    """The 2027 premiums are out (a test row: the real notice is not)."""
    monkeypatch.setattr(policy, "_packaged", lambda: TABLE_2027)


@pytest.fixture
def household(app):
    """A payer who paid 2026 for himself and for his father, each owing nothing yet for 2027."""
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        payer = make_resident(s, "郑国庆", paid=True)
        father = make_resident(s, "郑老汉", category="elderly", birth=date(1950, 4, 5), paid=True)
        make_family(s, payer, [(father, "父亲")])
        s.commit()
    return payer, father


def _generate(app, year, today=None):
    with app.extensions["db_sessionmaker"]() as s:
        n = rm.generate_year(s, year, "beijing", today)
        s.commit()
    return n


def test_R_RM_2_in_november_next_year_is_on_sale_once_its_premiums_are_out(app, phone_user, household, published_2027):
    payer, father = household
    assert _generate(app, 2027, date(2026, 11, 22)) == 2
    b = phone_user(payer)
    page = text(b.get("/rm/pay"))
    assert "2027年度城乡居民医疗保险集中缴费期为2026年9月1日至2026年12月31日" in page
    # the year on sale, not the one paid: the father is offered 为TA缴费 again
    assert "2026年度已缴费" not in page and f'name="who" value="{father.id}"' in page
    r = b.post("/rm/pay", {"who": str(father.id)})
    assert "2027年度应缴费额：¥480.00" in text(b.get(r.location))
    page = text(b.get(f"/rm/pay/select?insured={father.id}"))
    assert "2027-01 至 2027-12" in page and "¥480.00" in page and "2027年度集中缴费期至2026-12-31" in page
    ev = icalendar.Calendar.from_ical(b.get("/reminders/rm.ics").get_data()).walk("VEVENT")[0]
    assert ev.decoded("DTSTART") == date(2026, 12, 31) and "2027年度" in str(ev["SUMMARY"])
    assert "郑老汉（父亲）" in str(ev["DESCRIPTION"])


def test_R_RM_2_before_next_years_premiums_are_out_the_page_says_so(app, phone_user, household):
    payer, _ = household
    page = text(phone_user(payer).get("/rm/pay"))
    assert "2027年度缴费标准公布后即可缴纳" in page and "2026年度已缴费" in page
    assert "本应用的假设" in page  # the dates are the table's assumptions, said where they are seen


def test_R_RM_2_a_year_whose_collection_has_not_opened_is_not_generated(app, published_2027):
    from webapp.domain.errors import RuleViolation

    with pytest.raises(RuleViolation, match="2027年度城乡居民医疗保险集中缴费期自2026年9月1日开始"):
        _generate(app, 2027, date(2026, 8, 31))
    assert _generate(app, 2027, date(2026, 9, 1)) == 0  # opened; nobody enrolled yet


def test_R_RM_2_generate_rm_command_follows_the_collection_period(app, published_2027):
    app.extensions["clock"].set(at(date(2026, 6, 1)))
    result = app.test_cli_runner().invoke(args=["receivables", "generate-rm", "--year", "2027"])
    assert result.exit_code != 0 and "集中缴费期自2026年9月1日开始" in result.output
    app.extensions["clock"].set(at(date(2026, 11, 22)))
    result = app.test_cli_runner().invoke(args=["receivables", "generate-rm", "--year", "2027"])
    assert result.exit_code == 0, result.output


def test_R_RM_2_a_year_past_its_end_is_not_offered_nor_declared(app, phone_user):
    """2026 still owed on 2027-01-05 is past 31 December 2026: the page says why, and a forged 提交 is refused."""
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        person = make_resident(s, "钱旧年")
        old = s.scalar(select(Receivable.id).where(Receivable.insured_id == person.id))
        s.commit()
    app.extensions["clock"].set(at(date(2027, 1, 5)))
    b = phone_user(person)
    page = text(b.get(f"/rm/pay/select?insured={person.id}"))
    assert 'name="receivable"' not in page and "已超过缴费期限" in page
    r = b.post("/rm/pay/select", {"insured": str(person.id), "receivable": [str(old)]})
    assert r.status_code == 422 and "不在缴费期内" in text(r)


def test_R_RM_2_the_current_year_is_still_taken_late_and_says_so(app, phone_user):
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        person = make_resident(s, "孙晚缴")
        s.commit()
    page = text(phone_user(person).get(f"/rm/pay/select?insured={person.id}"))
    assert re.search(r'name="receivable" value="\d+"', page)
    assert "2026年度集中缴费期已结束，可缴纳至2026-12-31" in page
