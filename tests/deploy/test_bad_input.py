"""Bad input to `make run` (issue 16): a wrong DATABASE_URL, an unreachable Redis or providers' URL, a missing font,
an instance folder that cannot be written, a port in use: `make run`'s first step stops within seconds with one
line naming the setting and what to do — never a healthy-looking app that cannot pay."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from webapp.instance import instance_lock, prepare

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def env(tmp_path):  # type: ignore[no-untyped-def]
    """A make run environment that works: a fresh instance folder, free ports."""
    port = _free_port()
    return {"INSTANCE_PATH": str(tmp_path / "instance"), "PORT": str(port), "SIM_PORT": str(_free_port())}


def _only(problems, setting: str) -> str:  # type: ignore[no-untyped-def]
    assert [p.setting for p in problems] == [setting], [p.line() for p in problems]
    line = problems[0].line()
    assert "\n" not in line and line.startswith(f"make run: {setting} ")
    return line


def test_a_working_environment_passes(env):
    assert prepare(env) == []


def test_a_wrong_database_url_is_named_within_seconds(env):
    started = time.monotonic()
    line = _only(prepare({**env, "DATABASE_URL": "postgresql://app:pw@127.0.0.1:1/shebao"}), "DATABASE_URL")
    assert time.monotonic() - started < 10
    assert "无法连接" in line and "请启动 PostgreSQL" in line and "pw@" not in line and "***" in line


def test_a_database_that_does_not_exist_says_how_to_create_it(env):
    url = (__import__("os").environ.get("TEST_DATABASE_URL") or "").rsplit("/", 1)[0]
    if not url.startswith("postgresql"):
        pytest.skip("needs a PostgreSQL server (TEST_DATABASE_URL)")
    line = _only(prepare({**env, "DATABASE_URL": f"{url}/no_such_db_deploy"}), "DATABASE_URL")
    assert "数据库不存在" in line and "createdb no_such_db_deploy" in line


def test_an_unreachable_redis_is_named(env):
    line = _only(prepare({**env, "REDIS_URL": "redis://127.0.0.1:1/0"}), "REDIS_URL")
    assert "无应答" in line and "redis-server" in line


def test_an_unreachable_job_queue_on_redis_is_named(env):
    _only(prepare({**env, "HUEY_URL": "redis://127.0.0.1:1/0"}), "HUEY_URL")


def test_an_unreachable_providers_url_is_named(env):
    line = _only(prepare({**env, "PROVIDERS_URL": "http://127.0.0.1:1"}), "PROVIDERS_URL")
    assert "http://127.0.0.1:1" in line


def test_a_missing_font_is_named_with_the_package_to_install(env, tmp_path):
    line = _only(prepare({**env, "CJK_FONT_PATH": str(tmp_path / "no.ttc")}), "CJK_FONT_PATH")
    assert "fonts-wqy-microhei" in line
    not_a_font = tmp_path / "x.ttc"
    not_a_font.write_text("hello")
    assert "不是 TrueType" in _only(prepare({**env, "CJK_FONT_PATH": str(not_a_font)}), "CJK_FONT_PATH")


def test_an_instance_folder_that_cannot_be_written_is_named(env, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    line = _only(prepare({**env, "INSTANCE_PATH": str(blocker / "instance")}), "INSTANCE_PATH")
    assert "无法创建或写入" in line and "mktemp" in line


def test_a_port_in_use_is_named(env):
    with socket.socket() as s:
        s.bind(("127.0.0.1", int(env["PORT"])))
        s.listen()
        line = _only(prepare(env), "PORT")
    assert "另一个 make run" in line


def test_a_port_that_is_not_a_number_is_named(env):
    assert "PORT must be a number" in _only(prepare({**env, "PORT": "50O0"}), "PORT")


def test_an_instance_folder_in_use_by_another_make_run_is_refused(env):
    assert prepare(dict(env)) == []
    with instance_lock(Path(env["INSTANCE_PATH"])) as holder:  # a make run holds it
        assert holder is None
        line = _only(prepare(dict(env)), "INSTANCE_PATH")
    assert "正被另一个 make run 使用" in line


def test_make_runs_first_step_prints_one_line_and_exits_1(env):
    """What the terminal shows: the line, exit status 1, within seconds (no traceback)."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "webapp.instance", "prepare"],
        cwd=ROOT,
        env={**env, "PATH": "/usr/bin:/bin", "REDIS_URL": "redis://127.0.0.1:1/0"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and time.monotonic() - started < 15
    assert done.stderr.strip().splitlines() == [done.stderr.strip()] and "REDIS_URL" in done.stderr
    assert "Traceback" not in done.stderr
