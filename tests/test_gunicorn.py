"""The app under gunicorn as `make run` starts it (webapp/gunicorn_conf.py): no server banner, the app's
own Chinese 414 page for URLs over MAX_URL_LENGTH, and gunicorn's plain 414 (an answer, not a reset) for
request lines over its 8190-byte maximum."""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PG_URL
from webapp.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def gunicorn(tmp_path: Path, template_dir: Path) -> Iterator[int]:
    """gunicorn serving the app on a free port, with the repo's gunicorn settings."""
    shutil.copytree(template_dir / "keys", tmp_path / "keys")
    shutil.copytree(template_dir / "sim" / "keys", tmp_path / "sim" / "keys")
    if PG_URL:  # a SQLite file of its own: the PostgreSQL test database belongs to the in-process tests
        upgrade(f"sqlite:///{tmp_path}/app.sqlite3")
    else:
        shutil.copy(template_dir / "app.sqlite3", tmp_path / "app.sqlite3")
    port = _free_port()
    env = {
        **os.environ,
        "INSTANCE_PATH": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path}/app.sqlite3",
        "SECRET_KEY": "test",
        "APP_TODAY": "2026-11-22",
    }
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "-c",
            "python:webapp.gunicorn_conf",
            "--workers",
            "1",
            "--threads",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "webapp:create_app()",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _get(port: int, path: str) -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read().decode("utf-8", "replace")
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def test_no_server_banner_and_the_security_headers_under_gunicorn(gunicorn):
    status, headers, _ = _get(gunicorn, "/healthz")
    assert status == 200 and "server" not in headers
    status, headers, body = _get(gunicorn, "/login")
    assert status == 200 and "server" not in headers and "frame-ancestors 'none'" in headers["content-security-policy"]


def test_a_long_url_gets_the_apps_414_page_under_gunicorn(gunicorn):
    status, headers, body = _get(gunicorn, "/?q=" + "x" * 6000)
    assert status == 414 and "网址过长" in body and "server" not in headers


def test_a_request_line_over_gunicorns_maximum_is_answered_not_reset(gunicorn):
    with socket.create_connection(("127.0.0.1", gunicorn), timeout=10) as s:
        s.sendall(b"GET /?q=" + b"x" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 414 ") and b"<html>" in answer
