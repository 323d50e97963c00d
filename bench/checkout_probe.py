"""Probe a running `make run` (app and simulated providers in their own processes) the way a crowd of
phones would: the time from 提交 to 缴费成功 for one payer, then TAPS concurrent 确认缴费 for each of
DECLARATIONS declarations (two phones per payer, a mix of methods), paying at every cashier a tap was
sent to. Prints the answers by status, the orders made, the payments taken and the ledger check: one
settled payment per declaration, one paid trade at the provider per declaration, nothing refunded.

    DATABASE_URL=postgresql://… PORT=5000 make run &          # the server under test
    DATABASE_URL=postgresql://… .venv/bin/python bench/checkout_probe.py --declarations 50 --taps 10

It reads the app's database and the providers' store (same DATABASE_URL / INSTANCE_PATH as the server)
only to pick payers and to check the ledger, and sends traffic only to loopback.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import requests
from sqlalchemy import bindparam, create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from webapp.config import load_config  # noqa: E402
from webapp.payments.sim import PASSWORD  # noqa: E402

METHODS = ("wechat", "alipay", "unionpay")  # the e-Tax app offers all three (R-CH-1)


def token(html: str) -> str:
    """The CSRF token a page carries."""
    m = re.search(r'name="csrf_token" value="([^"]+)"|"X-CSRFToken": "([^"]+)"', html)
    if not m:
        raise SystemExit("no CSRF token on the page: is this the app?")
    return m.group(1) or m.group(2)


def login(base: str, name: str, id_number: str) -> tuple[requests.Session, str]:
    """A phone in the e-Tax app, logged in, with its CSRF token."""
    s = requests.Session()
    s.get(f"{base}/?ch=etax-app", timeout=30)
    csrf = token(s.get(f"{base}/login", timeout=30).text)
    face = s.post(
        f"{base}/login",
        data={"name": name, "id_type": "resident_id", "id_number": id_number, "agree": "1", "csrf_token": csrf},
        timeout=30,
    )
    csrf = token(face.text)  # the login form started a new session, with its own token
    r = s.post(f"{base}/login/face", data={"csrf_token": csrf}, allow_redirects=False, timeout=30)
    if r.status_code != 303:
        raise SystemExit(f"login failed for {name}: {r.status_code}")
    return s, token(s.get(f"{base}/", timeout=30).text)


def declare(base: str, phone: requests.Session, csrf: str) -> tuple[str, float]:
    """本人 → 参保信息选择 → 选择缴费信息 → 提交; returns the 选择支付方式 URL and when 提交 was tapped."""
    page = phone.post(f"{base}/rm/pay", data={"who": "self", "csrf_token": csrf}, timeout=30)
    insured = re.search(r'name="insured" value="(\d+)"', page.text)
    if insured:  # 参保信息选择 (seed 003 §2.1): the resident medical enrolment, 下一步
        page = phone.post(
            f"{base}/rm/pay/insurance",
            data={"insured": insured.group(1), "insurance": "rm_medical", "csrf_token": csrf},
            timeout=30,
        )
    ids = re.findall(r'name="receivable" value="(\d+)"', page.text)
    if not insured or not ids:
        raise SystemExit("nothing to declare: the payer has nothing due")
    submitted = time.monotonic()
    r = phone.post(
        f"{base}/rm/pay/select",
        data={"insured": insured.group(1), "receivable": ids, "csrf_token": csrf},
        allow_redirects=False,
        timeout=30,
    )
    if r.status_code != 303:
        raise SystemExit(f"提交 answered {r.status_code}")
    return f"{base}{r.headers['Location']}" if r.headers["Location"].startswith("/") else r.headers[
        "Location"
    ], submitted


def pay_at(cashier: requests.Session, url: str) -> requests.Response | None:
    """Open a cashier and pay there; None if the cashier refuses (closed or already paid)."""
    page = cashier.get(url, timeout=30)
    if page.status_code != 200 or "确认支付" not in page.text:
        return None
    r = cashier.post(page.url, data={"password": PASSWORD, "action": "pay"}, allow_redirects=False, timeout=30)
    return r if r.status_code == 303 else None


def payers(cfg: dict[str, object], count: int) -> list[tuple[str, str]]:
    """Population residents who still owe their year (created on demand)."""
    subprocess.run(
        [
            str(ROOT / ".venv/bin/flask"),
            "--app",
            "webapp",
            "demo",
            "population",
            "--residents",
            str(max(count * 4, 200)),
        ],
        check=True,
        capture_output=True,
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
        raise SystemExit(f"only {len(rows)} payers owe anything; raise --residents")
    return [(r[0], r[1]) for r in rows]


def ledger(cfg: dict[str, object], decl_ids: list[int]) -> dict[str, int]:
    """What the app and the providers recorded for the probed declarations."""
    engine = create_engine(str(cfg["DATABASE_URL"]).replace("postgresql://", "postgresql+psycopg://", 1))
    ids = bindparam("ids", expanding=True)
    with engine.connect() as c:
        mine = dict(
            c.execute(
                text("SELECT out_trade_no, declaration_id FROM payment_order WHERE declaration_id IN :ids").bindparams(
                    ids
                ),
                {"ids": decl_ids},
            ).all()
        )
        settled = c.execute(
            text(
                "SELECT count(*) FROM settled_payment s JOIN payment_order o ON o.id = s.order_id "
                "WHERE o.declaration_id IN :ids"
            ).bindparams(ids),
            {"ids": decl_ids},
        ).scalar()
        refunds = c.execute(
            text(
                "SELECT count(*) FROM refund r JOIN payment_order o ON o.id = r.order_id WHERE o.declaration_id IN :ids"
            ).bindparams(ids),
            {"ids": decl_ids},
        ).scalar()
    engine.dispose()
    sim = sqlite3.connect(Path(str(cfg["INSTANCE_PATH"])) / "sim" / "sim.sqlite3")
    per_decl = Counter(
        mine[no] for (no,) in sim.execute("SELECT out_trade_no FROM trade WHERE state = 'PAID'") if no in mine
    )
    sim.close()
    return {
        "orders": len(mine),
        "settled": int(settled or 0),
        "refunds": int(refunds or 0),
        "declarations_paid_once": sum(1 for d in decl_ids if per_decl[d] == 1),
        "declarations_paid_twice": sum(1 for d in decl_ids if per_decl[d] > 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--declarations", type=int, default=50)
    parser.add_argument("--taps", type=int, default=10)
    args = parser.parse_args()
    cfg = load_config()
    base, providers = str(cfg["PUBLIC_BASE_URL"]), str(cfg["PROVIDERS_URL"])
    for url in (base, providers):
        if urlsplit(url).hostname not in ("127.0.0.1", "localhost"):
            raise SystemExit(f"refusing to send load to {url}: loopback only")
        requests.get(f"{url}/healthz", timeout=10).raise_for_status()

    people = payers(cfg, args.declarations + 1)
    # One payer, alone: 提交 → 确认缴费 → the cashier → back → 缴费成功.
    phone, csrf = login(base, *people[0])
    method_url, submitted = declare(base, phone, csrf)
    r = phone.post(method_url, data={"method": "wechat", "csrf_token": csrf}, allow_redirects=False, timeout=30)
    back = pay_at(phone, r.headers["Location"])
    result = phone.get(back.headers["Location"], timeout=30) if back is not None else None
    while result is not None and "缴费成功" not in result.text and time.monotonic() - submitted < 30:
        time.sleep(0.1)
        result = phone.get(result.url, headers={"HX-Request": "true"}, timeout=30)
    one_payment = time.monotonic() - submitted
    if result is None or "缴费成功" not in result.text:
        raise SystemExit("the single payment did not reach 缴费成功")

    # The crowd: two phones per payer, TAPS concurrent confirms per declaration, a mix of methods.
    rng = random.Random(20261122)
    plan, decl_ids = [], []
    for person in people[1:]:
        phones = [login(base, *person) for _ in range(2)]
        url, _ = declare(base, *phones[0])
        decl_ids.append(int(url.rstrip("/").rsplit("/", 1)[1]))
        plan += [(url, rng.choice(METHODS), phones[i % 2]) for i in range(args.taps)]
    barriers = {url: threading.Barrier(args.taps) for url, _, _ in plan}

    def tap(item: tuple[str, str, tuple[requests.Session, str]]) -> tuple[int, str, float]:
        url, method, (ph, tok) = item
        barriers[url].wait(timeout=120)
        t0 = time.monotonic()
        resp = ph.post(url, data={"method": method, "csrf_token": tok}, allow_redirects=False, timeout=120)
        return resp.status_code, resp.headers.get("Location", ""), time.monotonic() - t0

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.taps * 5) as pool:
        answers = list(pool.map(tap, plan))
    crowd = time.monotonic() - started
    statuses = Counter(s for s, _, _ in answers)
    latencies = sorted(t for _, _, t in answers)
    cashiers = {loc for s, loc, _ in answers if s == 303 and loc.startswith(providers)}
    buyer = requests.Session()
    taken = sum(1 for url in sorted(cashiers) if pay_at(buyer, url) is not None)
    time.sleep(3)  # the providers' notifications
    book = ledger(cfg, decl_ids)
    report = {
        "confirms": len(answers),
        "declarations": len(decl_ids),
        "answers_by_status": dict(statuses),
        "answers_5xx": sum(n for s, n in statuses.items() if s >= 500),
        "confirm_p50_ms": round(latencies[len(latencies) // 2] * 1000),
        "confirm_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000),
        "crowd_seconds": round(crowd, 1),
        "cashiers_sent_to": len(cashiers),
        "payments_taken": taken,
        **book,
        "submit_to_success_seconds": round(one_payment, 3),
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))
    ok = (
        report["answers_5xx"] == 0
        and book["declarations_paid_once"] == len(decl_ids)
        and book["declarations_paid_twice"] == 0
        and book["settled"] == len(decl_ids)
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
