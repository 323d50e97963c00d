"""`make run`'s processes, supervised (``python -m webapp.supervisor [--scale N]``, after ``webapp.instance
prepare``): the ``Procfile`` run by honcho's process manager.

- Every process gets the instance's settings (``settings.env``; the environment wins), ``PROCESS_NAME`` and a
  log of its own, ``$INSTANCE_PATH/log/<name>.log``, besides the terminal (honcho's prefixed lines).
- If any process stops — crashed, killed, or even exiting cleanly — the others are stopped (SIGTERM, SIGKILL
  after honcho's 5 s) and this exits 1 with one line naming it and its log. Ctrl-C stops them all.
- Readiness: the app's ``/readyz`` (database, providers, job queue) must answer 200 within READY_SECONDS of the
  start, or everything is stopped with a line naming the part that is down and its setting.
- ``--scale N`` (``make run-scale``): nginx on HOST:PORT in front of N app instances (web1…webN on the ports
  after SIM_PORT, on 127.0.0.1, standing for N hosts; an instance that dies is started again while nginx sends
  its requests to the others), one providers' server, two job consumers (the second without the periodic
  scheduler: each periodic job is enqueued once, and the batch debit fans out in shares).

The instance's lock (``run/supervisor.lock``) is held while it runs, so a second `make run` on the same
INSTANCE_PATH is refused rather than sharing its files.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import sys
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from honcho.environ import parse_procfile
from honcho.manager import Manager
from honcho.printer import Message, Printer

from .config import ROOT, load_config, read_settings_file
from .instance import busy, hide_password, instance_lock, instance_path, instance_ports

READY_SECONDS = float(os.environ.get("READY_SECONDS") or 90)
SETTING_OF_PART = {"database": "DATABASE_URL", "providers": "PROVIDERS_URL", "queue": "HUEY_URL"}
_STOPPED = re.compile(r"^(\S+) stopped \(rc=(-?\d+)\)")


class LogPrinter(Printer):
    """honcho's terminal output, and each process's lines appended to its own log file."""

    def __init__(self, output: TextIO, log_dir: Path) -> None:
        super().__init__(output)
        self.log_dir = log_dir
        self.files: dict[str, TextIO] = {}
        self.lock = threading.Lock()  # the readiness thread prints too: whole lines, never interleaved
        self.stopped: list[tuple[str, int]] = []  # (name, returncode) in the order they stopped
        self.signalled = False  # Ctrl-C (or SIGTERM to make run) came before any process stopped

    def write(self, message: Message) -> None:
        """Print the line; append it to its process's log; note stops and signals."""
        with self.lock:
            self._write(message)

    def say(self, text: str) -> None:
        """A line of the supervisor's own, between the processes' lines."""
        with self.lock:
            print(text, file=self.output, flush=True)

    def _write(self, message: Message) -> None:
        super().write(message)
        name = message.name or "system"
        text = message.data.decode("utf-8", "replace") if isinstance(message.data, bytes) else str(message.data)
        if name == "system":
            if m := _STOPPED.match(text):
                self.stopped.append((m.group(1), int(m.group(2))))
            elif text.startswith(("SIGINT received", "SIGTERM received")) and not self.stopped:
                self.signalled = True
        log = self.files.get(name)
        if log is None:
            log = self.files[name] = open(self.log_dir / f"{name}.log", "a", encoding="utf-8")  # noqa: SIM115
        stamp = message.time.strftime("%Y-%m-%d %H:%M:%S")
        log.write("".join(f"{stamp} {line}\n" for line in text.splitlines()))
        log.flush()

    def close(self) -> None:
        """Close the log files."""
        for f in self.files.values():
            f.close()


def process_environment(folder: Path, base: Mapping[str, str]) -> dict[str, str]:
    """The environment of every process: the settings file under the environment, the venv's commands first."""
    env = {**read_settings_file(folder), **base}
    env["INSTANCE_PATH"] = str(folder)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"  # lines reach the log as they are written
    cfg = load_config(str(folder), env=env)
    env.setdefault("HOST", str(cfg["HOST"]))
    env.setdefault("PORT", str(cfg["PORT"]))
    env.setdefault("SIM_PORT", str(cfg["SIM_PORT"]))
    return env


def nginx_conf(folder: Path, listen: str, port: int, upstreams: list[int]) -> Path:
    """nginx's configuration for the scale setup, under the instance: logs, pid and temp files stay there."""
    ngx = folder / "nginx"
    for sub in ("", "client_body", "proxy"):
        (ngx / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers as root here: they write temp files in ngx/
    servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in upstreams)
    conf = f"""# Written by `make run-scale` (webapp/supervisor.py): nginx in front of {len(upstreams)} app instances.
{user}worker_processes 2;
pid {ngx}/nginx.pid;
error_log {folder}/log/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {ngx}/client_body;
  proxy_temp_path {ngx}/proxy;
  # Which instance served each request (tests/scale and the capacity figures count these); a request retried on
  # another instance lists both ("a:1, b:2"), the last one answered.
  log_format upstream '$time_iso8601 $remote_addr "$request" $status "$upstream_addr" $request_time';
  upstream app {{
{servers}
    keepalive 32;
  }}
  server {{
    listen {listen}:{port};
    client_max_body_size 1m;
    access_log {folder}/log/nginx-access.log upstream;
    location / {{
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      # An instance that refuses the connection or dies mid-request: the next one gets the request. POSTs too:
      # every POST of the app is safe to repeat (one declaration per receivable, one order per declaration and
      # method, a notification settles at most once).
      proxy_next_upstream error timeout http_502 non_idempotent;
      proxy_connect_timeout 2s;
      proxy_read_timeout 60s;
    }}
  }}
}}
"""
    path = ngx / "nginx.conf"
    path.write_text(conf, encoding="utf-8")
    return path


def processes(env: Mapping[str, str], folder: Path, scale: int) -> dict[str, tuple[str, dict[str, str]]]:
    """Name → (command, environment) of every process to start."""
    procfile = parse_procfile((ROOT / "Procfile").read_text(encoding="utf-8")).processes
    if not scale:
        return {name: (cmd, {**env, "PROCESS_NAME": name}) for name, cmd in procfile.items()}
    cfg = load_config(str(folder), env=env)
    ports = instance_ports(cfg, scale)
    out: dict[str, tuple[str, dict[str, str]]] = {}
    # An instance that dies is started again (as a host's service manager would) while nginx sends its requests to
    # the others: losing one instance must not stop the rest. The other processes stop everything, as in make run.
    web = procfile["web"].removeprefix("exec ")
    restarting = f'while :; do {web}; echo "$PROCESS_NAME exited ($?): starting it again in 2 s"; sleep 2; done'
    for i, port in enumerate(ports, 1):
        out[f"web{i}"] = (restarting, {**env, "PROCESS_NAME": f"web{i}", "HOST": "127.0.0.1", "PORT": str(port)})
    out["providers"] = (procfile["providers"], {**env, "PROCESS_NAME": "providers"})
    for i in (1, 2):
        extra = {"JOB_OPTIONS": "--no-periodic"} if i > 1 else {}
        out[f"worker{i}"] = (procfile["worker"], {**env, "PROCESS_NAME": f"worker{i}", **extra})
    conf = nginx_conf(folder, str(cfg["HOST"]), int(str(cfg["PORT"])), ports)
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    nginx = f"exec {binary} -p {folder}/nginx -c {conf} -e {folder}/log/nginx-error.log -g 'daemon off;'"
    out["nginx"] = (nginx, {**env, "PROCESS_NAME": "nginx"})
    return out


def readiness(urls: list[str], deadline: float) -> tuple[bool, dict[str, Any]]:
    """Poll each ``/readyz`` until all answer 200 or the deadline passes; returns (ready, the last answer)."""
    import requests

    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        pending = []
        for url in urls:
            try:
                r = requests.get(url, timeout=5)
                last = r.json() if r.headers.get("Content-Type", "").startswith("application/json") else {}
                ok = r.status_code == 200
            except (requests.RequestException, ValueError):
                ok = False
            if not ok:
                pending.append(url)
        if not pending:
            return True, last
        urls = pending
        time.sleep(0.5)
    return False, last


def not_ready_line(answer: Mapping[str, Any], cfg: Mapping[str, object]) -> str:
    """One line naming what /readyz found down, its setting and what to do."""
    down = answer.get("down") or []
    if not down:
        return f"make run: the app did not answer /readyz within {READY_SECONDS:.0f} s: see log/web*.log"
    part = down[0]
    detail = (answer.get("checks") or {}).get(part, {}).get("error", "")
    setting = SETTING_OF_PART.get(part, part)
    value = {"DATABASE_URL": hide_password(str(cfg["DATABASE_URL"])), "PROVIDERS_URL": cfg["PROVIDERS_URL"]}.get(
        setting, cfg.get(setting) or "the SQLite queue under INSTANCE_PATH"
    )
    todo = {
        "database": "请改正 DATABASE_URL 或启动数据库",
        "providers": "请改正 PROVIDERS_URL（手机与应用都要能访问它），或不设它",
        "queue": "作业进程（worker）没有运行周期作业：请看 log/worker*.log",
    }.get(part, "请看日志")
    return f"make run: {setting} {value} 未就绪（{part}: {detail}）：{todo}。"


def supervise(scale: int = 0, output: TextIO = sys.stdout) -> int:
    """Start the processes, watch them, stop them all when one stops; returns the exit status."""
    folder = instance_path(os.environ)
    with instance_lock(folder) as holder:
        if holder is not None:
            print(busy(folder, holder).line(), file=sys.stderr, flush=True)
            return 1
        env = process_environment(folder, os.environ)
        cfg = load_config(str(folder), env=env)
        log_dir = folder / "log"
        log_dir.mkdir(mode=0o700, exist_ok=True)
        printer = LogPrinter(output, log_dir)
        manager = Manager(printer)
        todo = processes(env, folder, scale)
        for name, (cmd, penv) in todo.items():
            manager.add_process(name, cmd, env=penv, cwd=str(ROOT))

        reachable = "127.0.0.1" if str(cfg["HOST"]) in ("0.0.0.0", "::", "[::]") else str(cfg["HOST"])
        urls = [f"http://{reachable}:{cfg['PORT']}/readyz"]
        if scale:
            urls += [f"http://127.0.0.1:{p}/readyz" for p in instance_ports(cfg, scale)]
        verdict: dict[str, str] = {}

        def watch() -> None:
            ready, answer = readiness(urls, time.monotonic() + READY_SECONDS)
            if printer.stopped or printer.signalled:
                return
            if ready:
                where = f"http://{reachable}:{cfg['PORT']}/"
                extra = f" (nginx in front of {scale} instances)" if scale else ""
                printer.say(
                    f"{datetime.now():%H:%M:%S} make run: ready at {where}{extra}; providers {cfg['PROVIDERS_URL']}; "
                    f"logs in {log_dir}; Ctrl-C stops everything"
                )
                (folder / "run" / "ready").write_text(json.dumps({"url": where, "pid": os.getpid()}))
                return
            verdict["line"] = not_ready_line(answer, cfg)
            manager.terminate()

        (folder / "run" / "ready").unlink(missing_ok=True)
        threading.Thread(target=watch, name="readiness", daemon=True).start()
        try:
            manager.loop()
        finally:
            printer.close()
            (folder / "run" / "ready").unlink(missing_ok=True)
            _reap(manager)
        if "line" in verdict:
            print(verdict["line"], file=sys.stderr, flush=True)
            return 1
        if printer.signalled:
            return 130  # Ctrl-C (or SIGTERM to make run): every process was asked to stop
        if not printer.stopped:
            return 1
        name, rc = printer.stopped[0]
        how = f"被信号 {signal.Signals(-rc).name} 结束" if rc < 0 else f"退出码 {rc}"
        others = ", ".join(n for n in todo if n != name)
        print(
            f"make run: {name} 已停止（{how}），其余进程（{others}）已随之停止。日志：{log_dir / (name + '.log')}",
            file=sys.stderr,
            flush=True,
        )
        return rc if rc > 0 else 1


def _reap(manager: Manager) -> None:
    """Kill what is left of every process group (a killed gunicorn master's workers, say)."""
    for p in manager._processes.values():  # noqa: SLF001 - honcho keeps the pids there
        pid = p.get("pid")
        if pid:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def main(argv: list[str] | None = None) -> int:
    """``python -m webapp.supervisor [--scale N]``."""
    parser = argparse.ArgumentParser(prog="python -m webapp.supervisor")
    parser.add_argument("--scale", type=int, default=0, help="app instances behind nginx (make run-scale)")
    args = parser.parse_args(argv)
    return supervise(args.scale)


if __name__ == "__main__":
    sys.exit(main())
