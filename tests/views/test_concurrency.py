"""Exactly once under concurrent taps (R-PA-1, R-PA-4), over real HTTP: the app and the simulated
providers on ports of their own. Ten concurrent 确认缴费 per declaration, from two sessions of one payer,
in a mix of methods, for many declarations at once; then the buyer pays at every cashier a tap was sent
to. Expected: no answer ≥ 500, one payment per declaration at the provider, one settlement in the app.

On PostgreSQL (CI) it runs 10 taps × 50 declarations; on SQLite, where every write waits for one lock,
10 × 8.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
from sqlalchemy import func, select

from tests.conftest import PG_URL
from tests.factories import make_family, make_resident
from tests.live import live_pair, stop
from webapp.models import Declaration, PaymentOrder, Receivable, Refund, SettledPayment
from webapp.payments.sim import PASSWORD
from webapp.services import declarations

TAPS = 10
DECLARATIONS = 50 if PG_URL else 8
METHODS = ("wechat", "alipay", "unionpay")  # what the e-Tax app offers (R-CH-1)


@pytest.fixture
def live(tmp_path: Path, template_dir: Path):
    pair, servers = live_pair(tmp_path, template_dir, DB_POOL_SIZE=30, DB_MAX_OVERFLOW=30)
    yield pair
    for server, thread in servers:
        stop(server, thread)
    pair.app.extensions["db_engine"].dispose()


def _login(base: str, name: str, id_number: str) -> tuple[requests.Session, str]:
    """A phone in the e-Tax app, logged in; returns it with its CSRF token."""
    s = requests.Session()
    s.headers["User-Agent"] = "Mozilla/5.0 (iPhone) etax"

    def token(html: str) -> str:
        m = re.search(r'name="csrf_token" value="([^"]+)"|"X-CSRFToken": "([^"]+)"', html)
        assert m, html[:500]
        return m.group(1) or m.group(2)

    s.get(f"{base}/?ch=etax-app")
    csrf = token(s.get(f"{base}/login").text)
    r = s.post(
        f"{base}/login",
        data={"name": name, "id_type": "resident_id", "id_number": id_number, "agree": "1", "csrf_token": csrf},
        allow_redirects=False,
    )
    assert r.status_code == 303, r.text[:500]
    csrf = token(s.get(f"{base}/login/face").text)  # the login form started a new session, with its own token
    r = s.post(f"{base}/login/face", data={"csrf_token": csrf}, allow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    return s, token(s.get(f"{base}/").text)


def test_R_PA_1_R_PA_4_ten_concurrent_confirms_per_declaration_pay_exactly_once(live):
    app, sessions_factory = live.app, live.app.extensions["db_sessionmaker"]
    with sessions_factory(expire_on_commit=False) as s:
        payer = make_resident(s, "钱多多")
        members = [make_resident(s, f"家人{i:02d}", category="student_child") for i in range(DECLARATIONS)]
        make_family(s, payer, [(m, "子女") for m in members])
        decl_ids = []
        for m in members:
            ids = list(s.scalars(select(Receivable.id).where(Receivable.insured_id == m.id)))
            decl = declarations.declare(
                s,
                payer_id=payer.id,
                insured_id=m.id,
                scheme="rm",
                receivable_ids=ids,
                channel="etax-app",
                now=app.extensions["clock"].now(),
            )
            decl_ids.append(decl.id)
        s.commit()
    phones = [_login(live.url, payer.name, payer.id_number) for _ in range(2)]  # two phones of one person
    rng = random.Random(20261122)
    plan = [(d, rng.choice(METHODS), phones[i % 2]) for d in decl_ids for i in range(TAPS)]
    barriers = {d: threading.Barrier(TAPS) for d in decl_ids}

    def tap(item: tuple[int, str, tuple[requests.Session, str]]) -> tuple[int, int, str]:
        decl_id, method, (phone, csrf) = item
        barriers[decl_id].wait(timeout=60)
        r = phone.post(
            f"{live.url}/pay/{decl_id}", data={"method": method, "csrf_token": csrf}, allow_redirects=False, timeout=60
        )
        return decl_id, r.status_code, r.headers.get("Location", "")

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=TAPS * min(DECLARATIONS, 5)) as pool:
        answers = list(pool.map(tap, plan))
    taps_seconds = time.monotonic() - started
    statuses = Counter(status for _, status, _ in answers)
    assert all(status < 500 for status in statuses), statuses

    # The buyer pays at every cashier a tap was sent to.
    cashiers = {(d, loc) for d, status, loc in answers if status == 303 and loc.startswith(live.providers_url)}
    buyer = requests.Session()
    paid_at_cashier: Counter[int] = Counter()
    refused = 0
    for decl_id, url in sorted(cashiers):
        page = buyer.get(url, timeout=30)
        if page.status_code != 200 or "确认支付" not in page.text:
            refused += 1
            continue
        r = buyer.post(page.url, data={"password": PASSWORD, "action": "pay"}, allow_redirects=False, timeout=30)
        if r.status_code == 303:
            paid_at_cashier[decl_id] += 1
        else:
            refused += 1
    assert sorted(paid_at_cashier.values()) == [1] * DECLARATIONS, paid_at_cashier  # one payment each

    # The notifications arrive (the providers' own thread); the app settles each declaration once.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with sessions_factory() as s:  # a short transaction each time: SQLite has one writer at a time
            if s.scalar(select(func.count()).select_from(SettledPayment)) >= DECLARATIONS:
                break
        time.sleep(0.2)
    with sessions_factory() as s:
        settled = s.scalar(select(func.count()).select_from(SettledPayment))
        paid_decls = s.scalar(select(func.count()).select_from(Declaration).where(Declaration.status == "paid"))
        open_orders = s.scalar(
            select(func.count()).select_from(PaymentOrder).where(PaymentOrder.state.in_(("created", "paying")))
        )
        refunds = s.scalar(select(func.count()).select_from(Refund))
        orders_made = s.scalar(select(func.count()).select_from(PaymentOrder))
    trades = live.sim_trades()
    paid_trades = Counter(t["out_trade_no"] for t in trades if t["state"] == "PAID")
    assert settled == DECLARATIONS and paid_decls == DECLARATIONS and open_orders == 0
    assert len(paid_trades) == DECLARATIONS and refunds == 0  # zero double charges, nothing to give back
    print(
        f"\n{TAPS}×{DECLARATIONS} confirms in {taps_seconds:.1f}s: {dict(statuses)}; {orders_made} orders, "
        f"{len(cashiers)} cashiers visited, {sum(paid_at_cashier.values())} paid, {refused} refused; "
        f"{settled} settled, 0 double charges"
    )


def test_cashier_links_are_absolute_urls_on_the_providers_host(live):
    """The providers are another party on another host: the app reaches them over HTTP."""
    assert live.providers_url != live.url
    health = requests.get(urljoin(live.providers_url, "/healthz"), timeout=10).json()
    assert health["providers"] == ["alipay", "bank", "unionpay", "wechat"]
