"""A scheme is a plugin (issue 18 item 1): a scheme registered through ``services.schemes.register`` — here a
dummy one, defined in this test only, with a blueprint of its own — shows in the hall (its tiles, its
缴费提醒), on the QR poster, in the reminders (.ics) and is accepted by the checkout, with no other file touched.

Storing its declarations would take the migration that widens the ``scheme`` CHECK constraint (the last step
of adding a scheme, README); the checkout's decisions are asked of a declaration not yet stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import icalendar
import pytest
from flask import Blueprint, Flask
from sqlalchemy.orm import Session

from tests.factories import TODAY, at, make_resident
from webapp.domain import reminders as reminder_rules
from webapp.domain.errors import RuleViolation
from webapp.domain.schemes import SCHEMES, Scheme
from webapp.models import Declaration, Enrolment, Person
from webapp.services import checkout, schemes

from ..conftest import text

DUMMY_DUE = date(2026, 12, 31)


class DummyFlow(schemes.BaseFlow):
    """测试险种: everyone is reminded of 31 December; it may not be paid on the 23rd (a window of its own)."""

    scheme = Scheme(
        "dummy",
        "测试险种",
        "测试保险",
        "测试保险费",
        entry="dummy.pay",
        declared="dummy.pay",
        records="dummy.pay",
        record="dummy.pay",
        pays_for_others=False,
        self_service_window=True,
        reminder_label="测试险种保险费",
    )
    tiles = (schemes.Tile("测试险种缴费", "本人缴费 · 测试", "dummy.pay"),)
    entry_points = (schemes.EntryPoint("/dummy/pay", "测试险种缴费"),)

    def enrolment(self, session: Session, person_id: int) -> Enrolment | None:
        """None: no enrolment row can name the scheme before its migration."""
        return None

    def reminds(self, session: Session, person: Person, enrolled: set[str]) -> bool:
        """Everyone (no enrolment yet, see ``enrolment``)."""
        return True

    def next_due(
        self, session: Session, person: Person, enrolment: Enrolment | None, region: str, today: date
    ) -> reminder_rules.Reminder:
        """The last day of the year."""
        return reminder_rules.Reminder(
            self.scheme.code, DUMMY_DUE, "测试险种缴费截止", "请于年底前缴纳测试险种保险费。"
        )

    def why_not_now(self, session: Session, decl: Declaration, now: datetime) -> str | None:
        """Closed on the 23rd."""
        return "测试险种23日不办理缴费" if now.day == 23 else None


@pytest.fixture
def dummy(app: Flask) -> Iterator[DummyFlow]:
    """The dummy scheme registered, with its blueprint on the app; taken out again after the test."""
    bp = Blueprint("dummy", __name__, url_prefix="/dummy")
    bp.add_url_rule("/pay", "pay", lambda: "测试险种缴费页")
    app.register_blueprint(bp)
    flow = DummyFlow()
    schemes.register(flow)
    try:
        yield flow
    finally:
        schemes.unregister(flow.scheme.code)
    assert "dummy" not in SCHEMES and "dummy" not in schemes.FLOWS


def test_a_registered_scheme_appears_in_the_hall_and_its_reminder(app, db, phone_user, dummy):
    person = make_resident(db, "张测")
    db.commit()
    b = phone_user(person)
    hall = text(b.get("/"))
    assert "测试险种缴费" in hall and 'href="/dummy/pay"' in hall  # its tile
    assert "测试险种保险费" in hall and 'href="/reminders/dummy.ics"' in hall  # its 缴费提醒
    assert "城乡居民医疗" in hall  # the shipped schemes stay
    r = b.get("/reminders/dummy.ics")
    assert r.status_code == 200 and r.mimetype == "text/calendar"
    (event,) = icalendar.Calendar.from_ical(r.get_data()).walk("VEVENT")
    assert event.decoded("DTSTART") == DUMMY_DUE
    assert str(event["URL"]).endswith("/dummy/pay")  # its entry, from the registry
    assert "/dummy/pay?ch=wechat" in text(b.get("/qr"))  # its entry point on the poster (R-CH-2)


def test_a_registered_scheme_is_accepted_by_the_checkout(app, db, dummy):
    person = make_resident(db, "张测")
    decl = Declaration(scheme="dummy", payer_id=person.id, insured_id=person.id)  # never stored (no migration)
    assert checkout.methods("wechat", "dummy") == checkout.methods("wechat", "rm")  # a resident-style scheme
    assert checkout.why_not_now(db, decl, at(TODAY)) is None  # the 22nd: its flow says yes
    with pytest.raises(RuleViolation, match="测试险种23日不办理缴费"):
        checkout.confirm(
            db,
            {},
            decl,
            "wechat",
            channel="wechat",
            now=at(TODAY.replace(day=23)),
            urls=None,  # type: ignore[arg-type]  # refused before any order is made
            expire_minutes=30,
        )


def test_an_unregistered_code_is_no_scheme(app, phone_user, db):
    """Without registration there is no reminder and no flow for the code."""
    person = make_resident(db, "张测")
    db.commit()
    assert "dummy" not in schemes.FLOWS
    assert phone_user(person).get("/reminders/dummy.ics").status_code == 404
