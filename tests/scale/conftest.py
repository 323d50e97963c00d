"""The scale setup as `make run-scale` starts it (docs/deploy.md): nginx in front of two app instances, one
providers' server, PostgreSQL, Redis and two job consumers, on the batch day 2026-11-09 10:00.

Runs on PostgreSQL (TEST_DATABASE_URL names the server: the setup gets a database of its own beside it,
``<name>_scale``, made anew) and Redis (TEST_REDIS_URL, default db 4: only the app's own keys there are
cleared, never the whole database). Skipped without them or without nginx (``make nginx``, which `make test`
runs). Phones are requests sessions, each from a loopback address of its own (127.0.0.x), so the per-address
rate limits of one test do not touch another.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from requests.adapters import HTTPAdapter

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/4")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
AGREEMENTS = int(os.environ.get("SCALE_AGREEMENTS", "4000"))  # flexible workers with a batch-debit agreement
PAYERS = 12  # residents who pay by WeChat in the tests
BATCH_DAY = "2026-11-09"
START_SECONDS = 240  # make run-scale on a loaded two-core machine: migrations, demo data, six processes
# Settings `make test` exports (HOST, PORT, SIM_PORT, INSTANCE_PATH) or a shell may hold: the setup gets its own.
INHERITED = {"HOST", "PORT", "SIM_PORT", "INSTANCE_PATH", "HUEY_URL", "PUBLIC_BASE_URL", "PROVIDERS_URL", "SECRET_KEY"}
APP_KEY_PATTERNS = ("sess:*", "LIMIT*", "huey.*shebao*")  # the app's own keys in the Redis db


def _skip_reason() -> str | None:
    if not PG_URL.startswith(("postgresql://", "postgres://")):
        return "tests/scale runs on PostgreSQL: set TEST_DATABASE_URL (.ci/run does)"
    if not os.path.exists(NGINX):
        return "tests/scale needs nginx (make nginx; make test installs it when root)"
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError:
        return f"tests/scale needs Redis at {REDIS_URL} (TEST_REDIS_URL)"
    return None


def _fresh_database() -> str:
    """``<test database>_scale`` on the same server, dropped and made anew."""
    import psycopg
    from psycopg import sql

    parts = urlsplit("postgresql://" + PG_URL.split("://", 1)[1])
    name = parts.path.lstrip("/") + "_scale"
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as c:
        c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return urlunsplit(parts._replace(path=f"/{name}"))


def _clear_app_keys() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    for pattern in APP_KEY_PATTERNS:
        keys = list(client.scan_iter(pattern, count=1000))
        if keys:
            client.delete(*keys)


def _free_block(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports (5650… for a developer's range, else anywhere)."""
    starts = [*range(int(os.environ.get("SCALE_TEST_PORT", "5650")), 5700 - count), *range(20000, 30000, 7)]
    for start in starts:
        ok = True
        for port in range(start, start + count):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return start
    raise RuntimeError("no free ports")


class _From(HTTPAdapter):
    """Connections from one loopback address (a phone of its own)."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """Bind every connection to the phone's address."""
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def csrf(html: str) -> str:
    """The CSRF token a page carries."""
    m = re.search(r'name="csrf_token" value="([^"]+)"|"X-CSRFToken": "([^"]+)"', html)
    assert m, html[:500]
    return m.group(1) or m.group(2)


@dataclass
class Phone:
    """A phone's browser: its own address, its cookies, the site it believes it is on (Origin)."""

    address: str
    origin: str
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self.session.mount("http://", _From(self.address))

    def get(self, url: str, **kw: Any) -> requests.Response:
        """GET, as the browser would."""
        return self.session.get(url, timeout=30, **kw)

    def post(self, url: str, data: dict[str, Any], **kw: Any) -> requests.Response:
        """POST a form from a page of the site."""
        headers = {"Origin": self.origin, "Referer": f"{self.origin}/", **kw.pop("headers", {})}
        return self.session.post(url, data=data, headers=headers, timeout=30, allow_redirects=False, **kw)

    def login(self, base: str, name: str, id_number: str, channel: str = "wechat") -> str:
        """The code scanned in ``channel`` (WeChat: WeChat Pay), 姓名 + 证件号码, then the face check; returns the
        CSRF token of the hall."""
        token = csrf(self.get(f"{base}/login?ch={channel}").text)
        form = {"name": name, "id_type": "resident_id", "id_number": id_number, "agree": "1", "csrf_token": token}
        r = self.post(f"{base}/login", form)
        assert r.status_code == 303, (r.status_code, r.text[:300])
        token = csrf(self.get(f"{base}/login/face").text)
        r = self.post(f"{base}/login/face", {"csrf_token": token})
        assert r.status_code == 303, (r.status_code, r.text[:300])
        return csrf(self.get(f"{base}/").text)


@dataclass
class Cluster:
    """The running setup and what the tests read of it."""

    folder: Path
    base: str  # nginx
    instances: list[str]  # the app instances, directly
    providers: str
    database_url: str
    output: Path
    payers: list[tuple[str, str]]
    agreements: int
    used_addresses: list[int] = field(default_factory=lambda: [10])

    def phone(self) -> Phone:
        """A new phone with an address of its own."""
        self.used_addresses[0] += 1
        return Phone(f"127.0.0.{self.used_addresses[0]}", self.base)

    def log(self, name: str) -> str:
        """A process's log (``log/<name>.log``)."""
        path = self.folder / "log" / f"{name}.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def access(self) -> list[dict[str, str]]:
        """nginx's access log: time, client, request line, status, upstream (the instance that answered)."""
        rows = []
        for line in self.log("nginx-access").splitlines():
            m = re.match(r'(\S+) (\S+) "([^"]*)" (\d+) "([^"]*)" (\S+)', line)
            if m:
                fields = ("time", "client", "request", "status", "upstream", "seconds")
                row = dict(zip(fields, m.groups(), strict=True))
                row["upstream"] = row["upstream"].split(",")[-1].strip()
                rows.append(row)
        return rows

    def pids(self, name: str) -> list[int]:
        """Every live process serving an app instance's port (gunicorn's master and its workers)."""
        port = urlsplit({f"web{i}": u for i, u in enumerate(self.instances, 1)}[name]).port
        out = []
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                try:
                    cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
                except OSError:
                    continue
                if b"gunicorn" in cmd and f"127.0.0.1:{port} ".encode() in cmd:
                    out.append(int(proc.name))
        return out

    def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        """Rows from the setup's database."""
        import psycopg

        with psycopg.connect(self.database_url) as c:
            return list(c.execute(query, args).fetchall())

    def control(self, provider: str, **controls: Any) -> None:
        """Set a simulated provider's test controls (SIM_CONTROLS=1)."""
        r = requests.post(f"{self.providers}/sim/{provider}/_control", json=controls, timeout=10)
        assert r.status_code == 200, r.text

    def flask(self, *args: str) -> str:
        """A `flask --app webapp …` command beside the setup, with only INSTANCE_PATH set (as an operator would)."""
        env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}
        env["INSTANCE_PATH"] = str(self.folder)
        done = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "flask"), "--app", "webapp", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout


@pytest.fixture
def report(capsys: pytest.CaptureFixture[str]) -> Callable[[str], None]:
    """Print a test's figures on the terminal even when output is captured (CI's log keeps them)."""

    def show(text: str) -> None:
        with capsys.disabled():
            print(f"\n[scale] {text.strip()}", flush=True)

    return show


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """`make run-scale` with two instances, and the population the tests pay and debit."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    # Not under pytest's basetemp: another pytest run on the machine may prune that while this one runs.
    folder = Path(tempfile.mkdtemp(prefix="scale-", dir=os.environ.get("SCALE_TMP")))
    database = _fresh_database()
    _clear_app_keys()
    port = _free_block(4)  # nginx, the providers, two instances
    env = {
        **{k: v for k, v in os.environ.items() if k not in INHERITED and not k.startswith(("TEST_", "PYTEST"))},
        "INSTANCE_PATH": str(folder),
        "PORT": str(port),
        "SIM_PORT": str(port + 1),
        "INSTANCES": "2",
        "DATABASE_URL": database,
        "REDIS_URL": REDIS_URL,
        "APP_TODAY": BATCH_DAY,
        "SIM_CONTROLS": "1",  # the tests drop a notification
        "SIM_RETRY_SCALE": "0.02",
        "RECONCILE_AFTER_SECONDS": "5",
        "READY_SECONDS": "120",
    }
    output = folder / "make-run-scale.out"
    with open(output, "w") as out:
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "run-scale"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_SECONDS
        while not (folder / "run" / "ready").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"make run-scale did not get ready:\n{output.read_text()[-4000:]}")
            time.sleep(0.5)
        c = Cluster(
            folder=folder,
            base=f"http://127.0.0.1:{port}",
            instances=[f"http://127.0.0.1:{port + 2}", f"http://127.0.0.1:{port + 3}"],
            providers=f"http://127.0.0.1:{port + 1}",
            database_url=database,
            output=output,
            payers=[],
            agreements=AGREEMENTS,
        )
        people = json.loads(c.flask("demo", "population", "--residents", str(PAYERS), "--json"))
        c.payers = [(str(p["name"]), str(p["id_number"])) for p in people]
        c.flask("demo", "population", "--flex", str(AGREEMENTS), "--agreements")
        yield c
    finally:
        try:
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
            proc.wait(timeout=60)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if not os.environ.get("SCALE_KEEP"):
            shutil.rmtree(folder, ignore_errors=True)
