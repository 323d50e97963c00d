"""`make run` as a newcomer and an operator use it (issue 16 items 1–3): started with INSTANCE_PATH anywhere it
writes there and nowhere in the checkout; a `flask` command beside it reaches the same bank and clock; a second
`make run` with another PORT and INSTANCE_PATH works beside it; if a process dies, `make run` stops within 10 s
naming it and its log."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
START_SECONDS = 180
# Settings `make test` exports to the tests (the Makefile's HOST, PORT, SIM_PORT, INSTANCE_PATH) or a developer's
# shell may hold: the make runs here get their own.
INHERITED = {
    "HOST",
    "PORT",
    "SIM_PORT",
    "INSTANCE_PATH",
    "DATABASE_URL",
    "REDIS_URL",
    "HUEY_URL",
    "PUBLIC_BASE_URL",
    "PROVIDERS_URL",
    "APP_TODAY",
    "APP_TODAY_ANCHOR",
    "SECRET_KEY",
}


def _free_pair() -> int:
    """A port whose next one is free too (PORT, SIM_PORT = PORT + 1)."""
    for port in [*range(5620, 5640, 2), *range(21000, 22000, 2)]:
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no free ports")


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return False
    return True


def _checkout_files() -> set[str]:
    """Every file git sees in the checkout, ignored ones included (bytecode caches aside)."""
    out = subprocess.run(
        ["git", "status", "--porcelain", "--ignored", "--untracked-files=all"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {line for line in out.splitlines() if "__pycache__" not in line and ".pytest_cache" not in line}


@dataclass
class Run:
    """A `make run` in the background."""

    proc: subprocess.Popen[bytes]
    folder: Path
    port: int
    output: Path

    def text(self) -> str:
        """What it printed so far."""
        return self.output.read_text(encoding="utf-8", errors="replace")

    def pid_of(self, name: str) -> int:
        """The pid honcho started a process with."""
        m = re.search(rf"{name} started \(pid=(\d+)\)", self.text())
        assert m, self.text()[-2000:]
        return int(m.group(1))

    def wait(self, seconds: float) -> int:
        """Its exit status (fails after ``seconds``)."""
        return self.proc.wait(timeout=seconds)

    def stop(self) -> None:
        """Ctrl-C, as at the terminal."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


def start(folder: Path, **env: str) -> Run:
    """`make run` with INSTANCE_PATH and PORT, waiting until it says it is ready."""
    port = _free_pair()
    base = {k: v for k, v in os.environ.items() if k not in INHERITED and not k.startswith(("TEST_", "PYTEST"))}
    output = folder.parent / f"{folder.name}.out"
    with open(output, "w") as out:
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "run"],
            cwd=ROOT,
            env={**base, "INSTANCE_PATH": str(folder), "PORT": str(port), "APP_TODAY": "2026-11-22", **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    run = Run(proc, folder, port, output)
    deadline = time.monotonic() + START_SECONDS
    while not (folder / "run" / "ready").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            run.stop()
            pytest.fail(f"make run did not get ready:\n{run.text()[-4000:]}")
        time.sleep(0.5)
    return run


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Run, set[str], set[str]]]:
    """`make run` with a fresh INSTANCE_PATH, and the checkout's files before and after it started."""
    before = _checkout_files()
    folder = tmp_path_factory.mktemp("makerun") / "fresh"  # does not exist yet: make run creates it
    run = start(folder)
    after = _checkout_files()
    yield run, before, after
    run.stop()


def test_make_run_with_INSTANCE_PATH_anywhere_writes_there_and_nothing_into_the_checkout(first):
    run, before, after = first
    assert after - before == set(), after - before
    names = {p.relative_to(run.folder).as_posix() for p in run.folder.rglob("*")}
    assert {"settings.env", "app.sqlite3", "huey.sqlite3", "sim/sim.sqlite3", "secret_key"} <= names
    assert {"log/web.log", "log/providers.log", "log/worker.log", "run/web.ctl", "run/providers.ctl"} <= names
    ready = requests.get(f"http://127.0.0.1:{run.port}/readyz", timeout=10)
    assert ready.status_code == 200 and ready.json()["down"] == []
    assert requests.get(f"http://127.0.0.1:{run.port + 1}/healthz", timeout=10).status_code == 200


def test_each_gunicorn_has_its_own_control_socket_in_the_instance(first):
    run, _, _ = first
    home = Path.home() / ".gunicorn" / "gunicorn.ctl"
    sockets = {p.name for p in (run.folder / "run").glob("*.ctl")}
    assert sockets == {"web.ctl", "providers.ctl"}
    assert all((run.folder / "run" / s).is_socket() for s in sockets)
    assert f"Control socket listening at {home}" not in run.text()


def test_a_flask_command_beside_make_run_reaches_its_bank_and_reads_its_clock(first):
    """Issue 16: `flask batch-debit run` looked for the bank on 5001 and started its own clock at 10:00. With only
    INSTANCE_PATH set it now debits the agreement personas at make run's bank, on make run's clock."""
    run, _, _ = first
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/root"),
        "INSTANCE_PATH": str(run.folder),
    }

    def batch() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(ROOT / ".venv" / "bin" / "flask"), "--app", "webapp", "batch-debit", "run", "--date", "2026-11-09"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    done = batch()
    assert done.returncode == 0, done.stdout + done.stderr
    debits = int(re.search(r"(\d+) debits", done.stdout).group(1))  # type: ignore[union-attr]
    assert debits > 0, done.stdout
    again = batch()
    assert again.returncode == 0 and re.search(r"\b0 debits", again.stdout), again.stdout + again.stderr
    with sqlite3.connect(run.folder / "app.sqlite3") as db:
        started = db.execute("SELECT started_at FROM batch_run").fetchone()[0]
        bank = sqlite3.connect(run.folder / "sim" / "sim.sqlite3").execute("SELECT count(*) FROM bank_debit")
        assert bank.fetchone()[0] == debits  # the bank make run started took them
    assert str(started).startswith("2026-11-22"), started  # make run's clock (APP_TODAY), not today's date


def test_two_make_runs_side_by_side_with_another_PORT_and_INSTANCE_PATH(first, tmp_path):
    run, _, _ = first
    second = start(tmp_path / "second")
    try:
        assert second.port != run.port
        for r in (run, second):
            assert requests.get(f"http://127.0.0.1:{r.port}/readyz", timeout=10).status_code == 200
    finally:
        second.stop()
    assert second.proc.returncode != 0  # Ctrl-C: every process stopped
    assert "已停止" not in second.text().splitlines()[-1]  # not reported as a death
    assert not _listening(second.port) and not _listening(second.port + 1)  # nothing of it left running
    assert requests.get(f"http://127.0.0.1:{run.port}/readyz", timeout=10).status_code == 200


def test_killing_the_providers_stops_make_run_within_10_seconds_naming_it(first):
    """Last: it ends the module's make run."""
    run, _, _ = first
    os.kill(run.pid_of("providers"), signal.SIGKILL)
    started = time.monotonic()
    status = run.wait(10)
    assert time.monotonic() - started < 10
    assert status != 0
    last = [line for line in run.text().splitlines() if line.startswith("make run:")][-1]
    assert "providers 已停止" in last and str(run.folder / "log" / "providers.log") in last, last
    assert not _listening(run.port)  # the app stopped too
