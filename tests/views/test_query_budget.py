"""Statement budget per page (issue 12): how many SQL statements one GET runs, counted on the engine.

Session-store statements (``web_session``) are left out: in production sessions live in Redis (REDIS_URL),
so they are not the page's. Transaction control (BEGIN, COMMIT, SAVEPOINT …) is left out too.
A page that runs more than its budget fails: a regression (a lazy load in a loop, a query repeated per
row) shows here before it shows in production.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import pytest
import sqlalchemy as sa
from flask import Flask

from tests import factories as f
from tests.conftest import Browser
from webapp.models import Enrolment

CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA")


@contextmanager
def counted(app: Flask) -> Iterator[list[str]]:
    """The page's statements run on the app's engine while inside."""
    seen: list[str] = []
    engine = app.extensions["db_engine"]

    def on_execute(_conn, _cursor, statement, _params, _context, _many):  # type: ignore[no-untyped-def]
        text = statement.lstrip()
        if text.upper().startswith(CONTROL) or "web_session" in text:
            return
        seen.append(" ".join(text.split())[:200])

    sa.event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", on_execute)


def statements(b: Browser, url: str) -> list[str]:
    """The statements one GET of ``url`` runs (after a warm-up GET, so caches are as in production)."""
    b.get(url)
    with counted(b.app) as seen:
        r = b.get(url)
    assert r.status_code == 200, (url, r.status_code)
    print(f"\n{url}: {len(seen)} statements")
    return seen


SERVICE_BUDGET = 4
SERVICE_PAGES = {
    "/rm/pay": SERVICE_BUDGET,
    "/rp/pay": SERVICE_BUDGET,
    "/rp/pay/insurance": SERVICE_BUDGET,
    "/rp/amount": SERVICE_BUDGET,
    "/flex/pay": SERVICE_BUDGET,
    # Issue 21: one read of the enrolment (with its base rows and batch-agreement flag), one of the open
    # receivables (with their declarations), cut per rule in Python (services.flexible.open_items), the batch
    # failures: with the login, 4.
    "/flex/pay/select": SERVICE_BUDGET,
    "/flex/pay/select?tab=special": SERVICE_BUDGET,
    "/flex/due": SERVICE_BUDGET,
    "/agreements": SERVICE_BUDGET,
    "/certificates": SERVICE_BUDGET,
    "/me": SERVICE_BUDGET,
    "/?logged-in": SERVICE_BUDGET,  # the hall, logged in
    # Issue 21: the other service pages of resident medical and pension, agreements, records and certificates.
    "/rm/pay/insurance?insured={father}": SERVICE_BUDGET,
    "/rm/pay/select?insured={father}": SERVICE_BUDGET,
    "/rm/family": SERVICE_BUDGET,
    "/rm/declared": SERVICE_BUDGET,
    "/rm/records": SERVICE_BUDGET,
    "/rp/pay/select": SERVICE_BUDGET,
    "/rp/declared": SERVICE_BUDGET,
    "/rp/records": SERVICE_BUDGET,
    "/agreements/new": SERVICE_BUDGET,
    "/certificates/downloads": SERVICE_BUDGET,
}
PUBLIC_PAGES = {"/": 0, "/login": 0, "/healthz": 1, "/verify": 0}  # /healthz: its SELECT 1 is the check


@pytest.fixture
def everything(app: Flask, db, phone_user, providers) -> Browser:  # type: ignore[no-untyped-def]
    """One person who has every page's data: resident medical with family, flexible months, resident
    pension, an agreement and a certificate."""
    payer = f.make_flex_worker(db, "刘一")
    father = f.make_resident(db, "刘父", birth=date(1950, 1, 1))
    mother = f.make_resident(db, "李母", birth=date(1952, 2, 2), category="elderly")
    child = f.make_resident(db, "刘小", birth=date(2015, 3, 3), category="student_child")
    f.make_family(db, payer, [(father, "父亲"), (mother, "母亲"), (child, "子女")])  # a page must not read per member
    db.add(
        Enrolment(
            person_id=payer.id,
            scheme="rp",
            region="beijing",
            tax_office=f.TAX_OFFICE,
            si_agency=f.SI_AGENCY,
            enrolled_on=date(2015, 3, 1),
            insurances="rp_pension",
        )
    )
    f.make_agreement(db, payer, providers)
    f.make_certificate(db, payer)
    db.commit()
    b = phone_user(payer, "wechat")
    b.ids = {"payer": payer.id, "father": father.id, "mother": mother.id, "child": child.id}  # type: ignore[attr-defined]
    return b


@pytest.mark.parametrize("url", list(SERVICE_PAGES))
def test_service_page_statement_budget(everything: Browser, url: str) -> None:
    """A logged-in service page runs at most its budget of SQL statements (issue 12)."""
    seen = statements(everything, url.format(**everything.ids))  # type: ignore[attr-defined]
    assert len(seen) <= SERVICE_PAGES[url], "\n".join(seen)


@pytest.mark.parametrize("url", list(PUBLIC_PAGES))
def test_public_page_statement_budget(browser: Browser, url: str) -> None:
    """A public page runs no SQL for an anonymous visitor (issue 12)."""
    seen = statements(browser, url)
    assert len(seen) <= PUBLIC_PAGES[url], "\n".join(seen)


@pytest.mark.parametrize("url", ["/flex/pay/select", "/flex/pay/select?tab=special", "/flex/due"])
def test_flexible_pages_hold_the_budget_with_declarations_and_special_items(
    app: Flask, db, phone_user, url: str
) -> None:  # type: ignore[no-untyped-def]
    """Issue 21: ≤ 4 statements however many declarations (已申报待缴款) and special items the worker has: nothing
    is read per declaration, per month or per rule."""
    from webapp.services import flexible

    worker = f.make_flex_worker(db, "刘二", unpaid_months=3)
    f.add_special_items(
        db,
        worker,
        [
            ("pension", "110.00", "missed_enrolment", "20261012044739"),
            ("medical", "50.00", "missed_enrolment", "20261012044740"),
        ],
    )
    db.commit()
    b = phone_user(worker, "wechat")
    found = flexible.open_items(db, worker, date(2026, 11, 22))
    special = [str(r.id) for r in found.items_of_tab("special") if r.notice_no == "20261012044739"]
    normal = [str(r.id) for r in found.items_of_tab("normal")]
    db.rollback()  # the app writes next
    for tab, ids in (("normal", normal), ("special", special)):  # two left declared
        r = b.post("/flex/pay/select", {"tab": tab, "receivable": ids})
        assert r.status_code == 303, (tab, r.status_code)
    assert len(flexible.open_items(db, worker, date(2026, 11, 22)).open_declarations()) == 2
    db.rollback()
    seen = statements(b, url)
    assert len(seen) <= SERVICE_BUDGET, "\n".join(seen)
