"""The payment core driven directly: declarations made through the services, orders started and
closed through ``payments.orders``, the buyer at the providers' cashier through their own app."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import select

from tests.conftest import APP_HOST
from tests.factories import make_resident
from webapp.models import PaymentOrder, Person
from webapp.payments import orders
from webapp.services import declarations


def urls(provider: str) -> orders.Urls:
    """What the app's checkout gives a provider."""
    return orders.Urls(
        notify_url=f"http://{APP_HOST}/pay/notify/{provider}",
        return_url=f"http://{APP_HOST}/pay/return/{provider}/" + "{out_trade_no}",
    )


@pytest.fixture
def resident(app: Flask) -> Person:
    """A working-age resident owing 795.00 for 2026."""
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        p = make_resident(s, "周一")
        s.commit()
    return p


@pytest.fixture
def declare(app: Flask, resident: Person) -> Callable[..., int]:
    """``declare()``: the resident declares their year (提交); returns the declaration id."""

    def make(person: Person | None = None) -> int:
        person = person or resident
        with app.extensions["db_sessionmaker"]() as s:
            from webapp.models import Receivable

            ids = list(
                s.scalars(select(Receivable.id).where(Receivable.insured_id == person.id, Receivable.status == "due"))
            )
            decl = declarations.declare(
                s,
                payer_id=person.id,
                insured_id=person.id,
                scheme="rm",
                receivable_ids=ids,
                channel="etax-app",
                now=app.extensions["clock"].now(),
            )
            s.commit()
            return decl.id

    return make


def start(app: Flask, declaration_id: int, provider: str = "wechat", *, visit: bool = True) -> PaymentOrder:
    """确认缴费 through the core; with ``visit`` the buyer's browser then opens the cashier."""
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        order = orders.start(
            s,
            app.extensions["payment_adapters"],
            provider,
            declaration_id=declaration_id,
            channel="etax-app",
            now=app.extensions["clock"].now(),
            urls=urls(provider),
            expire_minutes=30,
        )
        s.commit()
    if visit and order.cashier_url:
        visit_cashier(app, order.cashier_url)
    return order


def visit_cashier(app: Flask, url: str) -> str:
    """The buyer's browser follows the cashier URL to the page; returns the page."""
    client = app.extensions["test_providers"].test_client()
    parts = urlsplit(url)
    r = client.get(parts.path + (f"?{parts.query}" if parts.query else ""), follow_redirects=True)
    return r.get_data(as_text=True)


def state(app: Flask, out_trade_no: str) -> str:
    """The order's state in the app's database."""
    with app.extensions["db_sessionmaker"]() as s:
        return s.scalar(select(PaymentOrder.state).where(PaymentOrder.out_trade_no == out_trade_no))
