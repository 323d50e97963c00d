"""`make bench` (issue 12): how near the pages are to Flask's own ceiling, and how many payments go through.

1. Pages: the app and a bare Flask hello-world (``bench/hello.py``) under the same gunicorn settings as
   `make run` (``-c python:webapp.gunicorn_conf``, WORKERS workers × THREADS threads), the server pinned with
   taskset to core 0 and wrk to core 1, A B A B (hello, page, hello, page …) ROUNDS times, at 10 and 50
   connections, on SQLite and on PostgreSQL (database ``bench_pages``). Prints req/s, the median ratio to
   hello-world and p99, plus worker boot (fork to healthy), RSS per worker and the app's time to healthy.
2. Payments over HTTP on PostgreSQL (``bench_pay``): a population (`demo population`), the providers in
   their own gunicorn, complete flows (login → 提交 → 确认缴费 → cashier → 缴费成功) at concurrency 1/4/16
   for PAY_SECONDS each; then the ledger: settled rows = paid receivables, nothing paid twice.
3. The core alone through the Python API (declare + start + settle, providers in-process) in two processes
   for CORE_SECONDS (``bench_core``).

It sends traffic only to 127.0.0.1, creates and drops only its own databases, and every run is bounded.

    make bench                                          # quick: 6–10 minutes on 2 cores (longer under load)
    SECONDS_PER_RUN=10 ROUNDS=3 PAY_SECONDS=60 make bench   # the issue's durations
    PARTS="pages" BACKENDS="sqlite" make bench          # a part, a backend
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import requests
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
# The code measured: this checkout, or APP_ROOT (another checkout of the app, e.g. before a change; its
# static/vendor must be installed), run with this checkout's virtualenv.
APP_ROOT = Path(os.environ.get("APP_ROOT") or ROOT).resolve()
LOOPBACK = "127.0.0.1"
#: A suffix for the bench's own databases (BENCH_DB_SUFFIX=_speed), so two checkouts can run it at once.
DB_SUFFIX = os.environ.get("BENCH_DB_SUFFIX", "")
OWN_DATABASES = tuple(f"{n}{DB_SUFFIX}" for n in ("bench_pages", "bench_pay", "bench_core"))
#: Where the bench's servers listen: BENCH_PORTS=6100-6199, or any free port.
PORT_RANGE = os.environ.get("BENCH_PORTS", "")
PG_ADMIN_URL = os.environ.get("PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SECONDS_PER_RUN = int(os.environ.get("SECONDS_PER_RUN", "2"))  # one wrk run
ROUNDS = int(os.environ.get("ROUNDS", "2"))  # A B pairs per page and connection count
CONNECTIONS = [int(c) for c in os.environ.get("CONNECTIONS", "10 50").split()]
WORKERS, THREADS = os.environ.get("WORKERS", "2"), os.environ.get("THREADS", "4")
PAY_SECONDS = int(os.environ.get("PAY_SECONDS", "10"))
PAY_CONCURRENCY = [int(c) for c in os.environ.get("PAY_CONCURRENCY", "1 4 16").split()]
PAY_RESIDENTS = int(os.environ.get("PAY_RESIDENTS", "1000"))
CORE_SECONDS = int(os.environ.get("CORE_SECONDS", "8"))
BACKENDS = os.environ.get("BACKENDS", "sqlite postgresql").split()
PARTS = os.environ.get("PARTS", "pages pay core").split()
TODAY = "2026-11-22T10:00:00+08:00"  # the demo's day: self-service payment is open
PUBLIC_PAGES = ["/healthz", "/", "/login", "/verify"]
SERVICE_PAGES = {"/rm/pay": ("王建国", "110105198003120032"), "/flex/pay/select": ("刘鹏", "110108198704150030")}
#: Only these pages (PAGES="/ /login"), or all of them.
ONLY_PAGES = os.environ.get("PAGES", "").split()
# Issue 21's goals, printed beside each figure.
GOAL_PUBLIC_RATIO = 0.7  # of hello-world, SQLite and PostgreSQL
GOAL_SERVICE_RATIO = 0.25
GOAL_SERVICE_P99_MS = 50.0  # at 50 connections
GOAL_RSS_RATIO = 1.3  # a worker's RSS against hello-world's
GOAL_HTTP_PAYMENTS_S = 40.0  # complete flows at concurrency 16
GOAL_FLOW_P99_S = 1.0
GOAL_CORE_PAYMENTS_S = 200.0  # two processes, PostgreSQL
GOAL_CORE_STATEMENTS = 10  # per payment


def goal(met: bool, text: str) -> str:
    """``goal ≥ 0.7: met`` beside a figure."""
    return f"[goal {text}: {'met' if met else 'NOT met'}]"


# ------------------------------------------------------------------------------------------------ guards


def loopback(url: str) -> str:
    """The URL, if it points at this machine; refuse anything else."""
    if urlsplit(url).hostname not in (LOOPBACK, "localhost"):
        raise SystemExit(f"refusing to send traffic to {url}: loopback only")
    return url


def own_database(url: str) -> str:
    """The URL, if it names one of the bench's own databases (which it drops); refuse anything else."""
    name = url.rsplit("/", 1)[-1].split("?")[0]
    if name not in OWN_DATABASES:
        raise SystemExit(f"refusing to use database {name!r}: the bench only drops and creates {OWN_DATABASES}")
    return url


def fresh_pg(name: str) -> str:
    """Drop and create one of the bench's own databases; its URL."""
    url = own_database(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    engine = create_engine(
        PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with engine.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        c.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return url


def drop_pg(name: str) -> None:
    """Drop one of the bench's own databases."""
    own_database(f"x/{name}")
    engine = create_engine(
        PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with engine.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    engine.dispose()


_ports_given: set[int] = set()


def free_port() -> int:
    """A loopback port nobody uses (in BENCH_PORTS when it is set)."""
    if PORT_RANGE:
        low, high = (int(x) for x in PORT_RANGE.split("-"))
        for port in range(low, high + 1):
            if port in _ports_given:
                continue
            with socket.socket() as s:
                try:
                    s.bind((LOOPBACK, port))
                except OSError:
                    continue
            _ports_given.add(port)
            return port
        raise SystemExit(f"no free port in {PORT_RANGE}")
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------------------------------------ servers


def environment(instance: Path, url: str, port: int, sim_port: int) -> dict[str, str]:
    """The app's environment for one bench setup."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "HUEY_URL")}
    env.update(
        DATABASE_URL=url,
        INSTANCE_PATH=str(instance),
        SECRET_KEY="bench",
        APP_TODAY=TODAY,
        APP_TODAY_ANCHOR=str(int(time.time())),
        PORT=str(port),
        SIM_PORT=str(sim_port),
        HOST=LOOPBACK,
        PUBLIC_BASE_URL=f"http://{LOOPBACK}:{port}",
        PROVIDERS_URL=f"http://{LOOPBACK}:{sim_port}",
        RATELIMIT_ENABLED="0",
        CERTIFICATE_MAKING="later",
    )
    return env


def flask(env: dict[str, str], *args: str) -> str:
    """A `flask --app webapp` command; its output."""
    return subprocess.run(
        [str(BIN / "flask"), "--app", "webapp", *args],
        env={**env, "PYTHONPATH": str(APP_ROOT)},
        capture_output=True,
        text=True,
        check=True,
        cwd=APP_ROOT,
    ).stdout


@contextmanager
def gunicorn(
    env: dict[str, str],
    spec: str,
    port: int,
    *,
    cpu: str | None = "0",
    chdir: Path = APP_ROOT,
    conf: bool = True,
    log: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """A gunicorn serving ``spec`` on the loopback port (pinned to ``cpu``), stopped on exit."""
    cmd = [
        str(BIN / "gunicorn"),
        *(["-c", "python:webapp.gunicorn_conf"] if conf else []),
        "--workers",
        WORKERS,
        "--threads",
        THREADS,
        "--bind",
        f"{LOOPBACK}:{port}",
        "--no-control-socket",  # gunicorn's default socket is one per user: the bench's servers would share it
        "--chdir",
        str(chdir),
        spec,
    ]
    if cpu is not None:
        cmd = ["taskset", "-c", cpu, *cmd]
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(cmd, env={**env, "PYTHONPATH": str(APP_ROOT)}, stdout=out, stderr=out, cwd=APP_ROOT)
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_healthy(url: str, proc: subprocess.Popen[bytes], limit: float = 60) -> float:
    """Seconds until ``url`` answers 200."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if proc.poll() is not None:
            raise SystemExit(f"the server for {url} exited ({proc.returncode})")
        try:
            if requests.get(loopback(url), timeout=2).status_code == 200:
                return time.monotonic() - started
        except requests.RequestException:
            pass
        time.sleep(0.02)
    raise SystemExit(f"{url} not healthy after {limit} s")


def workers_rss_mb(master: int) -> list[float]:
    """RSS of each worker forked by a gunicorn master (the process under taskset execs gunicorn)."""
    out = subprocess.run(["ps", "--ppid", str(master), "-o", "rss="], capture_output=True, text=True).stdout
    return [int(x) / 1024 for x in out.split()]


def worker_boot_seconds(proc: subprocess.Popen[bytes], url: str) -> float:
    """Kill one worker and time until a new one answers (gunicorn forks a replacement)."""
    out = subprocess.run(["ps", "--ppid", str(proc.pid), "-o", "pid="], capture_output=True, text=True).stdout
    pids = [int(p) for p in out.split()]
    if not pids:
        return float("nan")
    for pid in pids:  # all of them, so the next answer comes from a new worker
        os.kill(pid, signal.SIGKILL)
    started = time.monotonic()
    while time.monotonic() - started < 30:
        new = subprocess.run(["ps", "--ppid", str(proc.pid), "-o", "pid="], capture_output=True, text=True).stdout
        if new.split() and not set(map(int, new.split())) & set(pids):
            try:
                if requests.get(url, timeout=2).status_code == 200:
                    return time.monotonic() - started
            except requests.RequestException:
                pass
        time.sleep(0.01)
    return float("nan")


def wrk(url: str, connections: int, cookie: str | None = None) -> tuple[float, float]:
    """req/s and p99 (ms) of one wrk run pinned to core 1."""
    cmd = [
        "taskset",
        "-c",
        "1",
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{SECONDS_PER_RUN}s",
        "--latency",
        "--timeout",
        "10s",
        loopback(url),
    ]
    if cookie:
        cmd[-1:-1] = ["-H", f"Cookie: session={cookie}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=SECONDS_PER_RUN + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)] if m else float("nan")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        print(f"    ! {url}: {non2xx.group(1)} answers not 2xx/3xx", flush=True)
    return rps, p99


# ------------------------------------------------------------------------------------------------ phones


def csrf(html: str) -> str:
    """The CSRF token a page carries."""
    m = re.search(r'name="csrf_token" value="([^"]+)"|"X-CSRFToken": "([^"]+)"', html)
    if not m:
        raise RuntimeError("no CSRF token on the page")
    return m.group(1) or m.group(2)


def login(base: str, name: str, id_number: str) -> tuple[requests.Session, str]:
    """A phone in the e-Tax app, logged in (face check passed), and its CSRF token."""
    s = requests.Session()
    token = csrf(s.get(f"{base}/login?ch=etax-app", timeout=10).text)
    r = s.post(
        f"{base}/login",
        data={"name": name, "id_type": "resident_id", "id_number": id_number, "agree": "1", "csrf_token": token},
        allow_redirects=False,
        timeout=10,
    )
    if r.status_code != 303:
        raise RuntimeError(f"login refused for {name}: {r.status_code}")
    token = csrf(s.get(f"{base}/login/face", timeout=10).text)
    r = s.post(f"{base}/login/face", data={"csrf_token": token}, allow_redirects=False, timeout=10)
    if r.status_code != 303:
        raise RuntimeError(f"face check refused for {name}: {r.status_code}")
    return s, csrf(s.get(f"{base}/", timeout=10).text)


# ------------------------------------------------------------------------------------------------ 1. pages


def page_table(backend: str) -> list[dict[str, object]]:
    """The page table on one backend."""
    work = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    url = f"sqlite:///{work}/app.sqlite3" if backend == "sqlite" else fresh_pg("bench_pages" + DB_SUFFIX)
    port, hello_port, sim_port = free_port(), free_port(), free_port()
    env = environment(work, url, port, sim_port)
    rows: list[dict[str, object]] = []
    try:
        flask(env, "db", "upgrade")
        flask(env, "demo", "seed")
        base, hello = f"http://{LOOPBACK}:{port}", f"http://{LOOPBACK}:{hello_port}"
        with gunicorn(env, "hello:app", hello_port, chdir=ROOT / "bench") as hp:
            hello_boot = wait_healthy(f"{hello}/", hp)
            started = time.monotonic()
            with gunicorn(env, "webapp:create_app()", port, log=work / "app.log") as ap:
                healthy = wait_healthy(f"{base}/healthz", ap)
                print(
                    f"  [{backend}] app healthy after {healthy:.2f} s (gunicorn start included; "
                    f"hello-world {hello_boot:.2f} s)",
                    flush=True,
                )
                cookies = {page: login(base, *who)[0].cookies.get("session") for page, who in SERVICE_PAGES.items()}
                for page in [*PUBLIC_PAGES, *SERVICE_PAGES]:
                    if ONLY_PAGES and page not in ONLY_PAGES:
                        continue
                    for conns in CONNECTIONS:
                        ratios, p99s, rpss, hello_rps = [], [], [], []
                        for _ in range(ROUNDS):
                            h, _ = wrk(f"{hello}/", conns)
                            r, p99 = wrk(f"{base}{page}", conns, cookies.get(page))
                            ratios.append(r / h)
                            p99s.append(p99)
                            rpss.append(r)
                            hello_rps.append(h)
                        med = statistics.median
                        row = {
                            "backend": backend,
                            "page": page,
                            "connections": conns,
                            "req_s": round(med(rpss)),
                            "hello_req_s": round(med(hello_rps)),
                            "ratio": round(med(ratios), 3),
                            "p99_ms": round(med(p99s), 1),
                        }
                        rows.append(row)
                        if page in PUBLIC_PAGES:
                            aim = goal(med(ratios) >= GOAL_PUBLIC_RATIO, f"ratio ≥ {GOAL_PUBLIC_RATIO}")
                        else:
                            aim = goal(med(ratios) >= GOAL_SERVICE_RATIO, f"ratio ≥ {GOAL_SERVICE_RATIO}")
                            if conns >= 50:
                                aim += " " + goal(
                                    med(p99s) <= GOAL_SERVICE_P99_MS, f"p99 ≤ {GOAL_SERVICE_P99_MS:.0f} ms"
                                )
                        row["goal"] = aim
                        print(
                            f"  {backend:10} {page:18} c={conns:<3} {row['req_s']:>6} req/s  hello "
                            f"{row['hello_req_s']:>6}  ratio {row['ratio']:.3f}  p99 {row['p99_ms']:>7.1f} ms  {aim}",
                            flush=True,
                        )
                app_rss, hello_rss = workers_rss_mb(ap.pid), workers_rss_mb(hp.pid)
                boot = worker_boot_seconds(ap, f"{base}/healthz")
                hello_boot_w = worker_boot_seconds(hp, f"{hello}/")
            rows.append(
                {
                    "backend": backend,
                    "app_healthy_s": round(healthy, 2),
                    "since_start_s": round(time.monotonic() - started, 1),
                    "worker_boot_s": round(boot, 3),
                    "hello_worker_boot_s": round(hello_boot_w, 3),
                    "worker_rss_mb": [round(x) for x in app_rss],
                    "hello_rss_mb": [round(x) for x in hello_rss],
                }
            )
            rss_ratio = max(app_rss, default=0) / max(min(hello_rss, default=1), 1)
            print(
                f"  [{backend}] worker boot {boot:.3f} s (hello {hello_boot_w:.3f} s); worker RSS "
                f"{[round(x) for x in app_rss]} MB (hello {[round(x) for x in hello_rss]} MB), "
                f"{rss_ratio:.2f}× {goal(rss_ratio <= GOAL_RSS_RATIO, f'≤ {GOAL_RSS_RATIO}×')}",
                flush=True,
            )
    finally:
        if backend != "sqlite":
            drop_pg("bench_pages" + DB_SUFFIX)
        shutil.rmtree(work, ignore_errors=True)
    return rows


# ------------------------------------------------------------------------------------------------ 2. payments


def ledger(url: str) -> dict[str, int]:
    """Settled rows against paid receivables, and anything paid twice."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as c:
        out = {
            "settled_rows": int(c.execute(text("SELECT count(*) FROM settled_payment")).scalar() or 0),
            "paid_receivables": int(
                c.execute(text("SELECT count(*) FROM receivable WHERE status = 'paid'")).scalar() or 0
            ),
            "paid_twice": int(
                c.execute(
                    text(
                        "SELECT count(*) FROM (SELECT receivable_id FROM settled_payment "
                        "GROUP BY receivable_id HAVING count(*) > 1) t"
                    )
                ).scalar()
                or 0
            ),
            "declarations_with_two_paid_orders": int(
                c.execute(
                    text(
                        "SELECT count(*) FROM (SELECT declaration_id FROM payment_order WHERE state = 'paid' "
                        "GROUP BY declaration_id HAVING count(*) > 1) t"
                    )
                ).scalar()
                or 0
            ),
        }
    engine.dispose()
    return out


def one_payment(base: str, person: tuple[str, str], method: str, deadline: float) -> bool:
    """One complete payment over HTTP: login → 本人 → 提交 → 确认缴费 → the cashier → 缴费成功."""
    from webapp.payments.sim import PASSWORD

    phone, token = login(base, *person)
    page = phone.post(f"{base}/rm/pay", data={"who": "self", "csrf_token": token}, timeout=10)
    insured = re.search(r"insured=(\d+)", page.url) or re.search(r'name="insured" value="(\d+)"', page.text)
    if insured and "/rm/pay/select" not in page.url:  # 参保信息选择 (issue 20.8): 勾选 → 下一步
        page = phone.get(f"{base}/rm/pay/select?insured={insured.group(1)}", timeout=10)
    ids = re.findall(r'name="receivable" value="(\d+)"', page.text)
    if not insured or not ids:
        return False
    r = phone.post(
        f"{base}/rm/pay/select",
        data={"insured": insured.group(1), "receivable": ids, "csrf_token": token},
        allow_redirects=False,
        timeout=10,
    )
    if r.status_code != 303:
        return False
    method_url = r.headers["Location"]
    method_url = f"{base}{method_url}" if method_url.startswith("/") else method_url
    r = phone.post(method_url, data={"method": method, "csrf_token": token}, allow_redirects=False, timeout=10)
    if r.status_code != 303:
        return False
    cashier = phone.get(loopback(r.headers["Location"]), timeout=10)
    if cashier.status_code != 200 or "确认支付" not in cashier.text:
        return False
    back = phone.post(cashier.url, data={"password": PASSWORD, "action": "pay"}, allow_redirects=False, timeout=10)
    if back.status_code != 303:
        return False
    result = phone.get(loopback(back.headers["Location"]), timeout=10)
    while "缴费成功" not in result.text and time.monotonic() < deadline:
        time.sleep(0.05)
        result = phone.get(result.url, headers={"HX-Request": "true"}, timeout=10)
    return "缴费成功" in result.text


def payments_http() -> list[dict[str, object]]:
    """Complete payments over HTTP at each concurrency, on PostgreSQL, then the ledger."""
    work = Path(tempfile.mkdtemp(prefix="bench-pay-"))
    url = fresh_pg("bench_pay" + DB_SUFFIX)
    port, sim_port = free_port(), free_port()
    env = environment(work, url, port, sim_port)
    rows: list[dict[str, object]] = []
    try:
        flask(env, "db", "upgrade")
        people = json.loads(
            flask(env, "demo", "population", "--residents", str(PAY_RESIDENTS), "--flex", "0", "--json")
        )
        payers = [(str(p["name"]), str(p["id_number"])) for p in people if p.get("role", "rm") != "flex"]
        base = f"http://{LOOPBACK}:{port}"
        with (
            gunicorn(
                env, "webapp.payments.sim:create_app()", sim_port, cpu=None, conf=False, log=work / "providers.log"
            ) as sp,
            gunicorn(env, "webapp:create_app()", port, cpu="0", log=work / "app.log") as ap,
        ):
            wait_healthy(f"http://{LOOPBACK}:{sim_port}/healthz", sp)
            wait_healthy(f"{base}/healthz", ap)
            lock, queue = threading.Lock(), iter(payers)
            for i in range(int(WORKERS) * 2):  # warm-up, not counted: each worker's first payment per provider
                one_payment(base, next(queue), ("wechat", "alipay", "unionpay")[i % 3], time.monotonic() + 10)
            for conc in PAY_CONCURRENCY:
                done, failed, times = [0], [0], []
                stop = time.monotonic() + PAY_SECONDS

                def phone(
                    n: int,
                    stop: float = stop,
                    done: list[int] = done,
                    failed: list[int] = failed,
                    times: list[float] = times,
                ) -> None:
                    methods = ("wechat", "alipay", "unionpay")
                    i = n
                    while time.monotonic() < stop:
                        with lock:
                            person = next(queue, None)
                        if person is None:
                            return
                        t0 = time.monotonic()
                        try:
                            ok = one_payment(base, person, methods[i % 3], t0 + 10)
                        except (requests.RequestException, RuntimeError):
                            ok = False
                        i += 1
                        with lock:
                            (done if ok else failed)[0] += 1
                            if ok:
                                times.append(time.monotonic() - t0)

                started = time.monotonic()
                threads = [threading.Thread(target=phone, args=(n,)) for n in range(conc)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(timeout=PAY_SECONDS + 60)
                took = time.monotonic() - started
                row = {
                    "concurrency": conc,
                    "seconds": round(took, 1),
                    "complete": done[0],
                    "failed": failed[0],
                    "payments_s": round(done[0] / took, 2),
                    "flow_median_s": round(statistics.median(times), 3) if times else None,
                    "flow_p99_s": round(sorted(times)[int(len(times) * 0.99)], 3) if times else None,
                }
                rows.append(row)
                aim = ""
                if conc >= 16:
                    aim = goal(done[0] / took >= GOAL_HTTP_PAYMENTS_S, f"≥ {GOAL_HTTP_PAYMENTS_S:.0f}/s") + " "
                    aim += goal(bool(times) and row["flow_p99_s"] <= GOAL_FLOW_P99_S, f"p99 ≤ {GOAL_FLOW_P99_S:.0f} s")
                print(
                    f"  HTTP payments c={conc:<3} {row['payments_s']:>6} /s  complete {done[0]}, failed {failed[0]}, "
                    f"median flow {row['flow_median_s']} s, p99 {row['flow_p99_s']} s  {aim}",
                    flush=True,
                )
            time.sleep(2)  # late notifications
        book = ledger(url)
        ok = (
            book["settled_rows"] == book["paid_receivables"]
            and book["paid_twice"] == 0
            and book["declarations_with_two_paid_orders"] == 0
        )
        rows.append({"ledger": book, "ledger_ok": ok})
        print(f"  ledger {'OK' if ok else 'FAILED'}: {book}", flush=True)
    finally:
        drop_pg("bench_pay" + DB_SUFFIX)
        shutil.rmtree(work, ignore_errors=True)
    return rows


# ------------------------------------------------------------------------------------------------ 3. the core


CORE_WORKER = r"""
import sys, time
from sqlalchemy import event, select
from webapp import create_app
from webapp.payments import sim
from webapp.payments.base import ProviderStatus
from webapp.payments.orders import Urls, apply, start
from webapp.models import Receivable
from webapp.services.declarations import declare

part, parts, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
app = create_app({"PAYMENT_TRANSPORT": "wsgi", "PROVIDERS_URL": "http://providers.bench",
                  "PUBLIC_BASE_URL": "http://app.bench"})
providers = sim.create_app({"PAYMENT_TRANSPORT": "wsgi", "SIM_NOTIFY_MODE": "manual"}, clock=app.extensions["clock"])
app.extensions["payment_transport"].mount("providers.bench", providers)
adapters, clock = app.extensions["payment_adapters"], app.extensions["clock"]
Session = app.extensions["db_sessionmaker"]
with Session() as s:
    due = s.execute(select(Receivable.id, Receivable.insured_id).where(Receivable.scheme == "rm",
                    Receivable.status == "due").order_by(Receivable.id)).all()
mine = [r for i, r in enumerate(due) if i % parts == part]
statements = [0]
CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA")


@event.listens_for(app.extensions["db_engine"], "before_cursor_execute")
def count(_conn, _cursor, statement, _params, _context, _many):
    if not statement.lstrip().upper().startswith(CONTROL):
        statements[0] += 1


urls = Urls(notify_url="http://app.bench/pay/notify/wechat", return_url="http://app.bench/pay/return/wechat/{out_trade_no}")
done, took, stop = 0, [], time.monotonic() + seconds
counted = 0
for rid, pid in mine:
    if time.monotonic() >= stop:
        break
    t0 = time.monotonic()
    before = statements[0]
    with Session() as s:
        now = clock.now()
        d = declare(s, payer_id=pid, insured_id=pid, scheme="rm", receivable_ids=[rid], channel="etax-app", now=now)
        o = start(s, adapters, "wechat", declaration_id=d.id, channel="etax-app", now=now, urls=urls,
                  expire_minutes=30)
        s.commit()
    with Session() as s:
        apply(s, adapters["wechat"], o.id, ProviderStatus.PAID, amount_fen=d.total_fen, txn_id=f"T{o.id}",
              paid_at=clock.now(), now=clock.now())
        s.commit()
    counted += statements[0] - before
    took.append(time.monotonic() - t0)
    done += 1
print(done, sorted(took)[len(took) // 2] if took else 0, counted / done if done else 0)
"""


def core_alone() -> list[dict[str, object]]:
    """declare + start + settle through the Python API in two processes (providers in-process)."""
    work = Path(tempfile.mkdtemp(prefix="bench-core-"))
    url = fresh_pg("bench_core" + DB_SUFFIX)
    env = environment(work, url, free_port(), free_port())
    rows: list[dict[str, object]] = []
    try:
        flask(env, "db", "upgrade")
        flask(env, "demo", "population", "--residents", str(PAY_RESIDENTS * 2), "--flex", "0")
        procs = [
            subprocess.Popen(
                [str(BIN / "python"), "-c", CORE_WORKER, str(i), "2", str(CORE_SECONDS)],
                env={**env, "PYTHONPATH": str(APP_ROOT)},
                cwd=APP_ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )
            for i in range(2)
        ]
        started = time.monotonic()
        outs = [p.communicate(timeout=CORE_SECONDS + 120)[0].split() for p in procs]
        took = time.monotonic() - started
        done = sum(int(o[0]) for o in outs if o)
        per_payment = [float(o[1]) * 1000 for o in outs if o]
        per_statement = [float(o[2]) for o in outs if len(o) > 2]
        statements = max(per_statement, default=float("nan"))
        book = ledger(url)
        ok = book["settled_rows"] == book["paid_receivables"] and book["paid_twice"] == 0
        row = {
            "processes": 2,
            "payments": done,
            "payments_s": round(done / CORE_SECONDS, 1),
            "median_ms_per_payment": [round(x, 1) for x in per_payment],
            "statements_per_payment": round(statements, 1),
            "wall_s": round(took, 1),
            "ledger": book,
            "ledger_ok": ok,
        }
        rows.append(row)
        print(
            f"  core alone, 2 processes: {row['payments_s']} payments/s ({done} in {CORE_SECONDS} s) "
            f"{goal(done / CORE_SECONDS >= GOAL_CORE_PAYMENTS_S, f'≥ {GOAL_CORE_PAYMENTS_S:.0f}/s')}, "
            f"median {row['median_ms_per_payment']} ms each; {statements:.1f} statements a payment (declare, start, "
            f"settle) {goal(statements <= GOAL_CORE_STATEMENTS, f'≤ {GOAL_CORE_STATEMENTS}')}; "
            f"ledger {'OK' if ok else 'FAILED'} {book}",
            flush=True,
        )
    finally:
        drop_pg("bench_core" + DB_SUFFIX)
        shutil.rmtree(work, ignore_errors=True)
    return rows


def main() -> int:
    """Run the parts asked for; print the tables; exit 1 if a ledger check failed."""
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            raise SystemExit(f"`make bench` needs {tool} (apt-get install -y wrk util-linux)")
    cores = os.cpu_count()
    print(
        f"cores: {cores} (server on core 0, wrk on core 1); other load: {os.getloadavg()[0]:.2f} "
        f"(1-minute load average: other processes on this machine skew the absolute figures, the ratios less)"
    )
    print(f"code measured: {APP_ROOT}")
    print(
        f"settings: WORKERS={WORKERS} THREADS={THREADS} SECONDS_PER_RUN={SECONDS_PER_RUN} ROUNDS={ROUNDS} "
        f"CONNECTIONS={CONNECTIONS} PAY_SECONDS={PAY_SECONDS} PAY_CONCURRENCY={PAY_CONCURRENCY} "
        f"CORE_SECONDS={CORE_SECONDS}",
        flush=True,
    )
    results: dict[str, object] = {"cores": cores}
    began = time.monotonic()
    ok = True
    if "pages" in PARTS:
        print("\n1. pages: req/s, median ratio to hello-world (A B A B), p99", flush=True)
        results["pages"] = [row for b in BACKENDS for row in page_table(b)]
    if "pay" in PARTS:
        print("\n2. complete payments over HTTP (PostgreSQL, providers in their own gunicorn)", flush=True)
        results["pay"] = pay = payments_http()
        ok = ok and bool(pay[-1].get("ledger_ok"))
    if "core" in PARTS:
        print("\n3. the payment core alone (Python API, PostgreSQL)", flush=True)
        results["core"] = core = core_alone()
        ok = ok and bool(core[-1].get("ledger_ok"))
    print(f"\nmake bench took {time.monotonic() - began:.0f} s; load average now {os.getloadavg()[0]:.2f}")
    out = os.environ.get("BENCH_JSON")
    if out:
        Path(out).write_text(json.dumps(results, ensure_ascii=False, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
