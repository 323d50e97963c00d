"""Re-run issue 17's D1 probe against a running app and providers (each in its own process, as `make run`
serves them): per provider, provider-signed notifications that cannot settle, and what the resident does next.
Prints what was tried, refused and answered 5xx, and the ledger per order: money taken at the provider =
settled + refunded.

    SIM_CONTROLS=1 DATABASE_URL=… INSTANCE_PATH=… make run &        # the server under test (controls on)
    SIM_CONTROLS=1 DATABASE_URL=… INSTANCE_PATH=… .venv/bin/python bench/money_probe.py --rounds 10

Cases, each ROUNDS times per provider (WeChat, Alipay, UnionPay; the e-Tax app offers all three):
- ``short_then_pay``: a signed notification says one fen less than the order while the resident has not paid;
  then the resident pays that same cashier, and pays again if it refuses (the probe's exact sequence);
- ``malformed``: signed notifications whose amount does not parse exactly (46000.0, "NaN", "460.009" …);
  then the resident pays;
- ``short_after_pay``: the resident pays, the genuine notification is lost, a signed one says one fen less;
- ``taken_differs``: the cashier takes one fen less than the order (a provider's own error).
Then `flask payments reconcile` runs once (as the minute job would). It signs with the simulated providers' keys
under INSTANCE_PATH (as the probe that found D1 did), and sends traffic only to loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import requests
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from checkout_probe import declare, login, pay_at  # noqa: E402

from tests import notes  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.config import load_config  # noqa: E402
from webapp.payments.crypto import APIV3_KEY, PLATFORM_KEYS, load_private, load_public  # noqa: E402

PROVIDERS = ("wechat", "alipay", "unionpay")
MALFORMED = {
    "wechat": ["46000.0", '"46000"', "4.6e4", "true"],
    "alipay": ["460.009", "NaN", "460.0", "4.6E+2"],
    "unionpay": ["46000.0", "-46000", " 46000", "4.6e4"],
}


def payers(cfg: dict[str, object], count: int, checkout: str) -> list[tuple[str, str]]:
    """Population residents who still owe their year (created on demand by the server's own checkout)."""
    subprocess.run(
        [str(ROOT / ".venv/bin/flask"), "--app", "webapp", "demo", "population", "--residents", str(count * 2)],
        check=True,
        capture_output=True,
        cwd=checkout,
    )
    engine = create_engine(str(cfg["DATABASE_URL"]).replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as c:
        rows = c.execute(
            text(
                "SELECT p.name, p.id_number FROM person p JOIN receivable r ON r.insured_id = p.id "
                "WHERE r.scheme = 'rm' AND r.status = 'due' AND p.id_number LIKE '110109%' ORDER BY p.id LIMIT :n"
            ),
            {"n": count},
        ).all()
    engine.dispose()
    if len(rows) < count:
        raise SystemExit(f"only {len(rows)} residents owe anything")
    return [(r[0], r[1]) for r in rows]


def short(provider: str, fen: int) -> str:
    """One fen less than ``fen``, as the provider writes amounts."""
    return f"{Decimal(fen - 1) / 100:.2f}" if provider == "alipay" else str(fen - 1)


class ProviderKeys:
    """The simulated providers' signing keys under INSTANCE_PATH, read from their files (the providers' store is
    left alone), shaped as ``tests.notes`` reads them from the providers' app."""

    def __init__(self, instance_path: str) -> None:
        self.root = Path(instance_path)
        self.extensions = {"sim": self}

    def platform_key(self, provider: str):  # type: ignore[no-untyped-def]
        """The provider's private signing key."""
        return load_private(self.root / f"{PLATFORM_KEYS[provider]}.pem")

    def platform_public(self, provider: str):  # type: ignore[no-untyped-def]
        """The provider's public key."""
        return load_public(self.root / f"{PLATFORM_KEYS[provider]}.pub.pem")

    def apiv3_key(self) -> bytes:
        """WeChat's APIv3 key, shared with the merchant."""
        return (self.root / APIV3_KEY).read_bytes().strip()


class Probe:
    """The app and providers under test, the keys to sign with, and the counts."""

    def __init__(self, cfg: dict[str, object]) -> None:
        self.cfg = cfg
        self.base, self.providers_url = str(cfg["PUBLIC_BASE_URL"]), str(cfg["PROVIDERS_URL"])
        self.app = create_app()  # the same settings as the server: its merchant ids, its clock
        self.sim = ProviderKeys(str(cfg["INSTANCE_PATH"]))
        self.tried: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.fivexx = 0
        self.same_cashier_refused = 0
        self.orders: list[str] = []

    def control(self, provider: str, **controls: object) -> None:
        """Set the simulated provider's test controls (the server runs with SIM_CONTROLS=1)."""
        r = requests.post(f"{self.providers_url}/sim/{provider}/_control", json=controls, timeout=10)
        if r.status_code != 200:
            raise SystemExit("the providers' server needs SIM_CONTROLS=1")

    def notify(self, case: str, provider: str, no: str, amount: str) -> bool:
        """Send a provider-signed notification; True when the app acknowledged it."""
        headers, body = notes.SIGNED[provider](self.app, self.sim, no, amount)
        r = requests.post(f"{self.base}/pay/notify/{provider}", data=body, headers=headers, timeout=30)
        self.tried[case] += 1
        self.fivexx += r.status_code >= 500
        ok = r.status_code in (200, 204) and (provider != "alipay" or r.content == b"success")
        self.refused[case] += not ok
        return ok

    def order(self, phone: requests.Session, csrf: str, method_url: str, provider: str) -> tuple[str, str, int]:
        """确认缴费 with ``provider``: (cashier URL, order number, amount in fen)."""
        r = phone.post(method_url, data={"method": provider, "csrf_token": csrf}, allow_redirects=False, timeout=30)
        self.fivexx += r.status_code >= 500
        if r.status_code != 303 or not r.headers["Location"].startswith(self.providers_url):
            raise SystemExit(f"确认缴费 answered {r.status_code} {r.headers.get('Location')}")
        with self.engine().connect() as c:
            no, fen = c.execute(
                text("SELECT out_trade_no, amount_fen FROM payment_order ORDER BY id DESC LIMIT 1")
            ).one()
        self.orders.append(no)
        return r.headers["Location"], no, int(fen)

    def engine(self):  # type: ignore[no-untyped-def]
        """The app's database."""
        return create_engine(str(self.cfg["DATABASE_URL"]).replace("postgresql://", "postgresql+psycopg://", 1))

    def pay(self, case: str, cashier: str) -> bool:
        """The resident pays at a cashier; False when it refuses."""
        self.tried[case] += 1
        return pay_at(requests.Session(), cashier) is not None

    def run_case(self, case: str, provider: str, person: tuple[str, str]) -> None:
        """One round of one case for one resident."""
        phone, csrf = login(self.base, *person)
        method_url, _ = declare(self.base, phone, csrf)
        cashier, no, fen = self.order(phone, csrf, method_url, provider)
        requests.get(cashier, timeout=30)  # the resident opens the cashier (Alipay's trade exists from then)
        if case == "short_then_pay":
            self.notify(case, provider, no, short(provider, fen))
            if not self.pay(case, cashier):  # refused: the order was closed at the provider
                self.same_cashier_refused += 1
                cashier, no, fen = self.order(phone, csrf, method_url, provider)
                self.pay(case, cashier)
        elif case == "malformed":
            for amount in MALFORMED[provider]:
                self.notify(case, provider, no, amount)
            self.pay(case, cashier)
        elif case == "short_after_pay":
            self.control(provider, notify="drop")
            self.pay(case, cashier)
            self.control(provider)
            self.notify(case, provider, no, short(provider, fen))
        elif case == "taken_differs":
            self.control(provider, amount_delta=-1)
            self.pay(case, cashier)
            self.control(provider)

    def ledger(self) -> dict[str, object]:
        """Per probed order: taken at the provider, settled by the app, refunded at the provider."""
        db = sqlite3.connect(Path(str(self.cfg["INSTANCE_PATH"])) / "sim" / "sim.sqlite3")
        taken, refunded = {}, Counter()
        probed = set(self.orders)
        for no, paid_fen, amount_fen, txn in db.execute("SELECT out_trade_no, paid_fen, amount_fen, txn_id FROM trade"):
            if no in probed:
                taken[no] = (paid_fen if paid_fen is not None else amount_fen) if txn else 0
        for no, fen in db.execute("SELECT out_trade_no, amount_fen FROM refund"):
            refunded[no] += fen
        db.close()
        with self.engine().connect() as c:
            settled = Counter(
                dict(
                    c.execute(
                        text(
                            "SELECT o.out_trade_no, sum(s.amount_fen) FROM settled_payment s "
                            "JOIN payment_order o ON o.id = s.order_id GROUP BY o.out_trade_no"
                        )
                    ).all()
                )
            )
            states = Counter(
                r[0]
                for r in c.execute(
                    text("SELECT r.state, o.out_trade_no FROM refund r JOIN payment_order o ON o.id = r.order_id")
                ).all()
                if r[1] in probed
            )
            orders = Counter(
                r[0]
                for r in c.execute(text("SELECT state, out_trade_no FROM payment_order")).all()
                if r[1] in self.orders
            )
        unbalanced = [no for no in self.orders if taken.get(no, 0) != settled[no] + refunded[no]]
        return {
            "orders": len(self.orders),
            "orders_by_state": dict(orders),
            "money_taken_fen": sum(taken.values()),
            "settled_fen": sum(settled[no] for no in self.orders),
            "refunded_fen": sum(refunded[no] for no in self.orders),
            "refunds_by_state": dict(states),
            "orders_unbalanced": len(unbalanced),
            "fen_kept_without_a_fee": sum(taken.get(no, 0) - settled[no] - refunded[no] for no in unbalanced),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each case per provider")
    parser.add_argument(
        "--checkout", default=str(ROOT), help="the checkout the server runs (its `payments reconcile` runs there)"
    )
    args = parser.parse_args()
    cfg = load_config()
    probe = Probe(cfg)
    for url in (probe.base, probe.providers_url):
        if urlsplit(url).hostname not in ("127.0.0.1", "localhost"):
            raise SystemExit(f"refusing to probe {url}: loopback only")
        requests.get(f"{url}/healthz", timeout=10).raise_for_status()
    cases = ("short_then_pay", "malformed", "short_after_pay", "taken_differs")
    people = iter(payers(cfg, args.rounds * len(cases) * len(PROVIDERS), args.checkout))
    started = time.monotonic()
    for provider in PROVIDERS:
        for case in cases:
            for _ in range(args.rounds):
                probe.run_case(case, provider, next(people))
    time.sleep(3)  # the providers' notifications
    subprocess.run(
        [str(ROOT / ".venv/bin/flask"), "--app", "webapp", "payments", "reconcile"],
        check=True,
        capture_output=True,
        cwd=args.checkout,
        env={**os.environ, "RECONCILE_AFTER_SECONDS": "0"},  # every order left unfinished, however recent
    )
    report = {
        "tried": dict(probe.tried),
        "refused": dict(probe.refused),
        "answers_5xx": probe.fivexx,
        "same_cashier_refused_after_the_close": probe.same_cashier_refused,
        **probe.ledger(),
        "seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0 if report["answers_5xx"] == 0 and not report["orders_unbalanced"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
