"""`make run`'s first step, before any process starts (``python -m webapp.instance prepare [--scale N]``).

1. The instance folder (INSTANCE_PATH, ./instance by default) is created and must be writable; no other
   `make run` may be using it (``run/supervisor.lock``).
2. ``settings.env`` is written into it from this environment (``config.settings_for_file``), with APP_TODAY's
   anchor, so every process of the instance and every ``flask …`` command beside it reads the same settings.
3. What the processes will need is checked now, so a wrong setting stops `make run` within seconds with one
   line naming it and what to do, instead of a healthy-looking app that cannot pay: the database, Redis, the
   certificate font, the ports, and a providers' server that `make run` does not start itself.

``--scale N`` (``make run-scale``) also asks for PostgreSQL and Redis (defaults: the local servers, the database
created when missing), puts the job queue on Redis and trusts one proxy (nginx) in front of the N instances.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import socket
import sys
import time
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .config import ROOT, load_config, make_instance_dir, settings_for_file, write_settings_file

LOCK = "run/supervisor.lock"
FONT_MAGIC = (b"ttcf", b"\x00\x01\x00\x00", b"OTTO", b"true")  # TrueType collection, TrueType, OpenType
SCALE_DATABASE = "postgresql://postgres@127.0.0.1:5432/shebao"
SCALE_REDIS = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class Problem:
    """A setting that stops the start, and what to do about it (one line)."""

    setting: str
    message: str

    def line(self) -> str:
        """The line printed."""
        return f"make run: {self.setting} {self.message}"


def instance_path(env: Mapping[str, str]) -> Path:
    """The instance folder the environment names (absolute)."""
    return Path(os.path.abspath(env.get("INSTANCE_PATH") or ROOT / "instance"))


def hide_password(url: str) -> str:
    """A URL fit to print: its password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _reason(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text[:160]


# ------------------------------------------------------------------------------------------------ the folder


def check_instance(folder: Path) -> Problem | None:
    """The instance folder exists (created when missing) and can be written."""
    try:
        make_instance_dir(folder)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
        (folder / "run").mkdir(mode=0o700, exist_ok=True)
        (folder / "log").mkdir(mode=0o700, exist_ok=True)
    except OSError as e:
        return Problem(
            "INSTANCE_PATH",
            f"{folder} 无法创建或写入（{e.strerror or _reason(e)}）：请换一个可写的文件夹（例如 "
            "INSTANCE_PATH=$(mktemp -d)），或修改它的权限。",
        )
    return None


@contextmanager
def instance_lock(folder: Path) -> Iterator[int | None]:
    """Hold the instance's lock while the block runs; yields None, or the pid of the `make run` that holds it."""
    path = folder / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            yield int(holder) if holder.isdigit() else -1
            return
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield None
    finally:
        os.close(fd)  # closing releases the lock


def busy(folder: Path, holder: int) -> Problem:
    """Another `make run` holds the instance."""
    who = f"（pid {holder}）" if holder > 0 else ""
    return Problem(
        "INSTANCE_PATH",
        f"{folder} 正被另一个 make run 使用{who}：请先停止它（Ctrl-C），或换一个 INSTANCE_PATH（同时换 PORT）。",
    )


# ------------------------------------------------------------------------------------------------ services


def check_database(url: str, *, create: bool = False) -> Problem | None:
    """The database answers within a few seconds (a PostgreSQL database is created when ``create``)."""
    shown = hide_password(url)
    if url.startswith("sqlite"):
        import sqlite3

        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            folder = Path(path).parent
            if not folder.is_dir() or not os.access(folder, os.W_OK):
                return Problem("DATABASE_URL", f"{shown}：文件夹 {folder} 不存在或不可写。请改正 DATABASE_URL。")
            try:
                sqlite3.connect(path, timeout=3).execute("SELECT 1").fetchone()
            except sqlite3.Error as e:
                return Problem("DATABASE_URL", f"{shown} 无法打开（{_reason(e)}）：请改正 DATABASE_URL。")
        return None
    if not url.startswith(("postgresql", "postgres://")):
        return Problem("DATABASE_URL", f"{shown} 不受支持：请用 sqlite:///… 或 postgresql://…。")
    import psycopg

    conninfo = "postgresql://" + url.split("://", 1)[1]
    try:
        psycopg.connect(conninfo, connect_timeout=3).close()
    except psycopg.OperationalError as e:
        reason = _reason(e)
        if "does not exist" in reason and create:
            return _create_database(conninfo, shown)
        if "does not exist" in reason:
            name = urlsplit(conninfo).path.lstrip("/")
            return Problem("DATABASE_URL", f"{shown}：数据库不存在。请先建库（createdb {name}），或改正 DATABASE_URL。")
        return Problem(
            "DATABASE_URL",
            f"{shown} 无法连接（{reason}）：请启动 PostgreSQL，或把 DATABASE_URL 改为可连接的数据库。",
        )
    except psycopg.Error as e:
        return Problem("DATABASE_URL", f"{shown} 无法使用（{_reason(e)}）：请改正 DATABASE_URL。")
    return None


def _create_database(conninfo: str, shown: str) -> Problem | None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(conninfo)
    name = parts.path.lstrip("/")
    try:
        with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), connect_timeout=3, autocommit=True) as c:
            c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as e:
        return Problem(
            "DATABASE_URL", f"{shown}：数据库不存在，也无法创建（{_reason(e)}）。请先建库（createdb {name}）。"
        )
    print(f"make run: created the database {name}", flush=True)
    return None


def check_redis(setting: str, url: str) -> Problem | None:
    """Redis answers a PING within two seconds."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except (redis.RedisError, ValueError, OSError) as e:
        return Problem(
            setting,
            f"{hide_password(url)} 无应答（{_reason(e)}）：请启动 Redis（redis-server），或改正 {setting}"
            + ("，或不设它（单机运行不需要 Redis）。" if setting == "REDIS_URL" else "。"),
        )
    return None


def check_font(path: str) -> Problem | None:
    """The certificate font is a readable TrueType/OpenType file."""
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        return Problem(
            "CJK_FONT_PATH",
            f"{path} 无法读取（{e.strerror or _reason(e)}）：缴费证明需要中文字体。请安装 fonts-wqy-microhei"
            "（apt-get install fonts-wqy-microhei），或把 CJK_FONT_PATH 设为一个 TrueType 字体文件。",
        )
    if magic not in FONT_MAGIC:
        return Problem("CJK_FONT_PATH", f"{path} 不是 TrueType/OpenType 字体：请把 CJK_FONT_PATH 设为 .ttf/.ttc 文件。")
    return None


def check_port(setting: str, host: str, port: int) -> Problem | None:
    """Nothing listens on host:port yet."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host.strip("[]"), port))
        except OSError as e:
            return Problem(
                setting,
                f"{port}（{host}）无法使用（{e.strerror or _reason(e)}）：可能另一个 make run 正在用它。请换一个 "
                f"{setting}（例如 PORT=5100，SIM_PORT 默认为 PORT+1），或先停止占用它的程序。",
            )
    return None


def external_providers(cfg: Mapping[str, object]) -> bool:
    """PROVIDERS_URL names a providers' server that this `make run` does not start (another port or host)."""
    parts = urlsplit(str(cfg["PROVIDERS_URL"]))
    return parts.port not in (None, cfg["SIM_PORT"]) or (
        parts.hostname not in ("127.0.0.1", "localhost", "::1")
        and str(cfg["HOST"]) not in ("0.0.0.0", "::", "[::]", parts.hostname)
    )


def check_providers(url: str) -> Problem | None:
    """The providers' server at ``url`` answers its /healthz."""
    import requests

    try:
        status = requests.get(f"{url}/healthz", timeout=3).status_code
    except requests.RequestException as e:
        status, reason = 0, _reason(e)
    else:
        reason = f"HTTP {status}"
    if status != 200:
        return Problem(
            "PROVIDERS_URL",
            f"{url} 无应答（{reason}）：请启动支付渠道（模拟）服务，或改正 PROVIDERS_URL，"
            "或不设它（make run 会自己启动）。",
        )
    return None


# ------------------------------------------------------------------------------------------------ prepare


def scale_environment(env: MutableMapping[str, str], instances: int) -> list[Problem]:
    """The settings `make run-scale` adds: PostgreSQL and Redis (local defaults), the queue on Redis, one proxy."""
    env.setdefault("DATABASE_URL", SCALE_DATABASE)
    env.setdefault("REDIS_URL", SCALE_REDIS)
    if not env["DATABASE_URL"].startswith(("postgresql", "postgres://")):
        return [Problem("DATABASE_URL", "：make run-scale 的多个实例共用一个 PostgreSQL 数据库，请设 postgresql://…。")]
    # The instances serve on ports of their own, but the public address (notifications, return URLs, QR codes)
    # is nginx's: HOST:PORT, unless set.
    host = env.get("HOST") or "127.0.0.1"
    reachable = "127.0.0.1" if host in ("0.0.0.0", "::", "[::]") else host
    env.setdefault("PUBLIC_BASE_URL", f"http://{reachable}:{env.get('PORT') or 5000}")
    env.setdefault("HUEY_URL", env["REDIS_URL"])
    env.setdefault("TRUSTED_PROXIES", "1")
    env.setdefault("CERTIFICATE_MAKING", "queue")
    env.setdefault("BATCH_DEBIT_SHARES", str(2 * int(env.get("JOB_WORKERS") or 2)))
    env["SCALE_INSTANCES"] = str(instances)
    return []


def instance_ports(cfg: Mapping[str, object], instances: int) -> list[int]:
    """The ports of the app instances behind nginx: right after the providers' port."""
    base = max(int(str(cfg["PORT"])), int(str(cfg["SIM_PORT"])))
    return [base + i for i in range(1, instances + 1)]


def prepare(env: MutableMapping[str, str], *, scale: int = 0) -> list[Problem]:
    """Everything before the processes start; returns the problems (empty: go on)."""
    folder = instance_path(env)
    env["INSTANCE_PATH"] = str(folder)
    problem = check_instance(folder)
    if problem:
        return [problem]
    with instance_lock(folder) as holder:
        if holder is not None:
            return [busy(folder, holder)]
        problems = scale_environment(env, scale) if scale else []
        if problems:
            return problems
        try:
            values = settings_for_file(str(folder), env, time.time())
        except ValueError as e:
            text = str(e)
            setting = text.split()[0] if text.split()[0].isupper() else "settings"
            return [Problem(setting, f"设置有误：{text}")]
        write_settings_file(str(folder), values, "make run-scale" if scale else "make run")
        cfg = load_config(str(folder), env={})  # exactly what the processes will read: the file alone
    problems = []
    if p := check_database(str(cfg["DATABASE_URL"]), create=bool(scale)):
        problems.append(p)
    for setting in ("REDIS_URL", "HUEY_URL"):
        url = str(cfg.get(setting) or "")
        if url.startswith("redis") and (setting == "REDIS_URL" or url != cfg.get("REDIS_URL")):
            if p := check_redis(setting, url):
                problems.append(p)
    if p := check_font(str(cfg["CJK_FONT_PATH"])):
        problems.append(p)
    host = str(cfg["HOST"])
    ports = [("PORT", int(str(cfg["PORT"]))), ("SIM_PORT", int(str(cfg["SIM_PORT"])))]
    if scale:
        ports += [("PORT", p) for p in instance_ports(cfg, scale)]
    for setting, port in ports:
        if p := check_port(setting, "127.0.0.1" if setting == "PORT" and port != cfg["PORT"] else host, port):
            problems.append(p)
            break
    if external_providers(cfg) and (p := check_providers(str(cfg["PROVIDERS_URL"]))):
        problems.append(p)
    return problems


def main(argv: list[str] | None = None) -> int:
    """``prepare [--scale N]``: print one line per problem and exit 1, or a summary and exit 0."""
    parser = argparse.ArgumentParser(prog="python -m webapp.instance")
    parser.add_argument("command", choices=["prepare"])
    parser.add_argument("--scale", type=int, default=0, help="app instances behind nginx (make run-scale)")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    problems = prepare(env, scale=args.scale)
    for p in problems:
        print(p.line(), file=sys.stderr, flush=True)
    if problems:
        return 1
    folder = instance_path(env)
    cfg = load_config(str(folder), env={})
    clock = cfg["CLOCK"].now().strftime("%Y-%m-%d %H:%M")  # type: ignore[attr-defined]  # load_config's values are object; CLOCK is a Clock
    print(
        f"make run: settings in {folder}/settings.env (database {hide_password(str(cfg['DATABASE_URL']))}, "
        f"providers {cfg['PROVIDERS_URL']}, clock {clock}{' from APP_TODAY' if cfg['APP_TODAY'] else ''})",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
