"""Configuration: every setting comes from an environment variable or the instance's settings file, read here
and only here.

The instance settings file (``<INSTANCE_PATH>/settings.env``, ``KEY=value`` lines, mode 0600) is written by
``make run`` (``python -m webapp.instance prepare``) at each start from the environment it was started with, so
that every process of that instance — the app, the providers, the job consumers and any ``flask …`` command run
beside them with at most INSTANCE_PATH set — reads the same database, providers, Redis and clock. An environment
variable wins over the file; the file wins over the defaults below. ``APP_TODAY`` is stored with the moment it
was read (``APP_TODAY_ANCHOR``), so every process agrees on the time however late it starts.

| variable | default | meaning |
| --- | --- | --- |
| INSTANCE_PATH | ./instance | settings.env, SQLite files, generated keys and secrets, the providers' state, log/ and
  run/ (logs and control sockets of `make run`); created (mode 0700) when missing |
| DATABASE_URL | sqlite:///<instance>/app.sqlite3 | SQLAlchemy URL; postgresql://… for PostgreSQL |
| DB_POOL_SIZE / DB_MAX_OVERFLOW | 10 / 20 | connections per process (PostgreSQL) |
| SECRET_KEY | generated once into instance/secret_key | signs sessions and CSRF tokens |
| APP_TODAY | (real date) | YYYY-MM-DD (10:00 that day) or an ISO datetime: the app's time starts there and runs on |
| APP_TODAY_ANCHOR | when APP_TODAY was read | epoch seconds when the clock read APP_TODAY (`make run` writes it
  into settings.env beside APP_TODAY; a process given another APP_TODAY starts that clock when it reads it) |
| REGION | beijing | policy region (beijing, qingdao) |
| HOST / PORT | 127.0.0.1 / 5000 | where `make run` serves the app |
| SIM_PORT | PORT + 1 | where `make run` serves the simulated providers |
| PUBLIC_BASE_URL | http://HOST:PORT (127.0.0.1 for HOST=0.0.0.0) | the app's absolute base (notify and return
  URLs, certificate QR codes); the `/qr` poster encodes it when set, else the address the poster was opened
  at (so a phone on the LAN can scan it) |
| PROVIDERS_URL | http://HOST:SIM_PORT | the simulated providers' server |
| WECHAT_BASE_URL | PROVIDERS_URL/sim/wechat | WeChat Pay API base (https://api.mch.weixin.qq.com for the real one) |
| ALIPAY_GATEWAY_URL | PROVIDERS_URL/sim/alipay/gateway.do | Alipay gateway |
| UNIONPAY_BASE_URL | PROVIDERS_URL/sim/unionpay | UnionPay gateway |
| BANK_BASE_URL | PROVIDERS_URL/sim/bank | the bank behind 缴费协议, 协议支付 and 批量扣款 |
| BANK_MERCHANT_KEY, BANK_PUBLIC_KEY | the simulation's | our signing key and the bank's public key |
| WECHAT_MCHID, _APPID, _SERIAL_NO, _MERCHANT_KEY, _PLATFORM_PUBLIC_KEY, _PLATFORM_KEY_ID, _APIV3_KEY_FILE | sim | ids |
| ALIPAY_APP_ID, ALIPAY_APP_PRIVATE_KEY, ALIPAY_PUBLIC_KEY | the simulation's | Alipay app and keys |
| UNIONPAY_MER_ID, _SIGN_KEY, _SIGN_PUBLIC_KEY, _VERIFY_KEY | the simulation's | UnionPay merchant and keys |
| PAYMENT_TRANSPORT | http | http (real HTTP) or wsgi (in-process, tests) |
| SIM_NOTIFY_MODE | thread | the simulated providers' notification sender: thread or manual |
| SIM_RETRY_SCALE | 1.0 | multiplies the providers' retry delays (tests compress them) |
| SIM_CONTROLS | 0 | 1 lets tests inject faults into the simulated providers |
| ORDER_EXPIRE_MINUTES | 30 | how long a provider cashier accepts an order |
| RECONCILE_AFTER_SECONDS | 60 | the periodic job queries orders left unfinished this long |
| HUEY_URL | sqlite under instance/ | redis://… to run the periodic jobs on Redis at scale |
| REDIS_URL | (none) | redis://…: rate-limit counts shared by every worker (memory per process otherwise) |
| RATELIMIT_ENABLED | 1 | 0 turns every rate limit off (never in production) |
| CERTIFICATE_MAKING | queue (inline if TESTING) | who makes a 缴费证明: queue (a huey task), inline (after the request
  commits), later (the periodic job) |
| CJK_FONT_PATH | …/wqy/wqy-microhei.ttc | the CJK font of certificates (Debian's fonts-wqy-microhei) |
| CAPTCHA_TEST_ANSWER | (none) | tests only: the answer to every 记录查验 captcha; honoured ONLY with APP_TODAY,
  ignored with a warning otherwise |
| RATELIMIT_LOGIN | 10 per minute | login form submissions per client address |
| RATELIMIT_FACE | 10 per minute | face checks per client address |
| RATELIMIT_FACE_PER_ID | 5 per 10 minutes | failed face checks per address and document (the pair is locked) |
| RATELIMIT_FACE_FAILED | 20 per 10 minutes | failed face checks per address, whatever the document |
| RATELIMIT_NEW_SESSION | 20 per minute | server-side sessions started per address (a login form accepted) |
| RATELIMIT_VERIFY_PER_DOC | 10 per minute | wrong 记录查验 attempts per address and document |
| RATELIMIT_VERIFY | 20 per minute | wrong 记录查验 attempts per address |
| RATELIMIT_QD_PER_ID | 30 per 10 minutes | failed Qingdao name + ID look-ups per document, from any address (R-QD-2) |
| RATELIMIT_LOOKUP | 10 per minute | 他人 look-ups (/rm/pay) per logged-in payer |
| RATELIMIT_NOTIFY | 60 per minute | refused provider notifications per address (valid ones are not counted) |
| SESSION_COOKIE_SECURE | 1 if PUBLIC_BASE_URL is https, else 0 | 1 sends the cookies over HTTPS only |
| HSTS_SECONDS | 31536000 if PUBLIC_BASE_URL is https, else 0 | > 0 sends Strict-Transport-Security with this max-age |
| MAX_URL_LENGTH | 4096 | longer request URLs are answered 414 (gunicorn's own limit is 8190) |
| PUBLIC_PAGE_CACHE | 1 | 0 renders `/`, `/login`, `/verify`, `/healthz` anew per anonymous visit (`public_pages`) |
| HEALTHZ_CHECK_SECONDS | 1.0 | how long a worker's `/healthz` reuses its last database check |
| TRUSTED_PROXIES | 0 | how many proxies (nginx in `make run-scale`) stand in front of the app: their
  X-Forwarded-For/-Proto give the client's address (rate limits) and scheme; 0 when clients reach the app directly |
| BATCH_DEBIT_SHARES | 2 | how many job workers share the batch debit of a batch day (one share per worker) |
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from .domain.calendar import BEIJING, Clock, parse_app_today

ROOT = Path(__file__).resolve().parent.parent


SETTINGS_FILE = "settings.env"
_PRIVATE = 0o600  # secrets, private keys and the settings file: readable by the instance's owner only


def make_instance_dir(path: str | Path) -> Path:
    """The instance folder, created (mode 0700: it holds secrets and personal data) when missing."""
    folder = Path(path)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def write_private(path: Path, text: str) -> None:
    """Write a secret file atomically, mode 0600 from its first byte (never readable by others meanwhile)."""
    make_instance_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def restrict(path: Path) -> None:
    """Make an existing secret file 0600 (one written by an older version was 0644)."""
    try:
        if path.stat().st_mode & 0o077:
            path.chmod(_PRIVATE)
    except FileNotFoundError:
        pass


def _secret_key(instance_path: str) -> str:
    """Read the generated secret key from instance/, creating it (mode 0600) on first run."""
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        write_private(path, secrets.token_hex(32))
    else:
        restrict(path)
    return path.read_text().strip()


def read_settings_file(instance_path: str | Path) -> dict[str, str]:
    """The instance's settings file as a mapping (empty when there is none): ``KEY=value`` lines, ``#`` comments."""
    try:
        text = (Path(instance_path) / SETTINGS_FILE).read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return {}
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


class _Sources:
    """Where a setting's value comes from, in order: overrides (tests), the environment, the settings file. Records
    every name asked for, so the settings file can be written with exactly the settings the app reads."""

    def __init__(self, over: Mapping[str, object], env: Mapping[str, str], file: Mapping[str, str]) -> None:
        self.over, self.env, self.file = over, env, file
        self.asked: list[str] = []

    def origin(self, key: str) -> str:
        """``override``, ``env``, ``file`` or ``""`` (the default applies)."""
        if key in self.over and self.over[key] not in (None, ""):
            return "override"
        if self.env.get(key):
            return "env"
        return "file" if self.file.get(key) else ""

    def get(self, key: str, default: str = "") -> str:
        """The setting's text, or ``default``."""
        if key not in self.asked:
            self.asked.append(key)
        where = self.origin(key)
        if where == "override":
            return str(self.over[key])
        if where == "env":
            return str(self.env[key])
        return self.file[key] if where == "file" else default


def load_config(
    instance_path: str | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """The Flask config mapping, from the environment and the instance's settings file; ``overrides`` (tests) win
    over both."""
    env = os.environ if env is None else env
    over = dict(overrides or {})
    instance = instance_path or str(over.get("INSTANCE_PATH") or "") or env.get("INSTANCE_PATH") or ""
    # Absolute, so every process names the same place whatever its working folder.
    instance = os.path.abspath(instance or ROOT / "instance")
    return _load(instance, _Sources(over, env, read_settings_file(instance)))


def _load(instance: str, sources: _Sources) -> dict[str, object]:
    raw, over = sources.get, sources.over

    def number(key: str, default: str, kind: type = int) -> Any:
        text = raw(key, default)
        try:
            return kind(text)
        except ValueError:
            raise ValueError(f"{key} must be a number, got {text!r}") from None

    host, port = raw("HOST", "127.0.0.1"), number("PORT", "5000")
    sim_port = number("SIM_PORT", str(port + 1))
    # Serving on every interface (HOST=0.0.0.0) names no address a browser can open: the defaults use loopback.
    reachable = "127.0.0.1" if host in ("0.0.0.0", "::", "[::]") else host
    public = raw("PUBLIC_BASE_URL", f"http://{reachable}:{port}").rstrip("/")
    providers = raw("PROVIDERS_URL", f"http://{reachable}:{sim_port}").rstrip("/")
    https = public.lower().startswith("https://")
    app_today_text = raw("APP_TODAY")
    anchor_text = raw("APP_TODAY_ANCHOR")
    if sources.origin("APP_TODAY_ANCHOR") == "file" and sources.file.get("APP_TODAY") != app_today_text:
        anchor_text = ""  # the file's anchor belongs to the file's APP_TODAY: another day starts when it is read
    try:
        anchor = datetime.fromtimestamp(float(anchor_text), BEIJING) if anchor_text else None
    except ValueError:
        raise ValueError(f"APP_TODAY_ANCHOR must be epoch seconds, got {anchor_text!r}") from None
    app_today = parse_app_today(app_today_text or None)
    cfg: dict[str, object] = {
        "INSTANCE_PATH": instance,
        "SECRET_KEY": raw("SECRET_KEY") or _secret_key(instance),
        "DATABASE_URL": raw("DATABASE_URL", f"sqlite:///{os.path.join(instance, 'app.sqlite3')}"),
        "DB_POOL_SIZE": number("DB_POOL_SIZE", "10"),
        "DB_MAX_OVERFLOW": number("DB_MAX_OVERFLOW", "20"),
        "APP_TODAY": app_today,
        "CLOCK": Clock.starting_at(app_today, anchor),
        "REGION": raw("REGION", "beijing"),
        "HOST": host,
        "PORT": port,
        "SIM_PORT": sim_port,
        "PUBLIC_BASE_URL": public,
        "PUBLIC_BASE_URL_SET": bool(raw("PUBLIC_BASE_URL")),
        "PROVIDERS_URL": providers,
        "WECHAT_BASE_URL": raw("WECHAT_BASE_URL", f"{providers}/sim/wechat"),
        "ALIPAY_GATEWAY_URL": raw("ALIPAY_GATEWAY_URL", f"{providers}/sim/alipay/gateway.do"),
        "UNIONPAY_BASE_URL": raw("UNIONPAY_BASE_URL", f"{providers}/sim/unionpay"),
        "BANK_BASE_URL": raw("BANK_BASE_URL", f"{providers}/sim/bank"),
        "PAYMENT_TRANSPORT": raw("PAYMENT_TRANSPORT", "http"),
        "SIM_NOTIFY_MODE": raw("SIM_NOTIFY_MODE", "thread"),
        "SIM_RETRY_SCALE": number("SIM_RETRY_SCALE", "1.0", float),
        "SIM_CONTROLS": raw("SIM_CONTROLS", "0") in ("1", "True", "true"),
        "ORDER_EXPIRE_MINUTES": number("ORDER_EXPIRE_MINUTES", "30"),
        "RECONCILE_AFTER_SECONDS": number("RECONCILE_AFTER_SECONDS", "60"),
        "HUEY_URL": raw("HUEY_URL") or None,
        "REDIS_URL": raw("REDIS_URL") or None,
        "RATELIMIT_STORAGE_URI": raw("REDIS_URL") or "memory://",
        "RATELIMIT_ENABLED": raw("RATELIMIT_ENABLED", "1") not in ("0", "False", "false"),
        "RATELIMIT_LOGIN": raw("RATELIMIT_LOGIN", "10 per minute"),
        "RATELIMIT_FACE": raw("RATELIMIT_FACE", "10 per minute"),
        "RATELIMIT_FACE_PER_ID": raw("RATELIMIT_FACE_PER_ID", "5 per 10 minutes"),
        "RATELIMIT_FACE_FAILED": raw("RATELIMIT_FACE_FAILED", "20 per 10 minutes"),
        "RATELIMIT_NEW_SESSION": raw("RATELIMIT_NEW_SESSION", "20 per minute"),
        "RATELIMIT_VERIFY_PER_DOC": raw("RATELIMIT_VERIFY_PER_DOC", "10 per minute"),
        "RATELIMIT_VERIFY": raw("RATELIMIT_VERIFY", "20 per minute"),
        "RATELIMIT_LOOKUP": raw("RATELIMIT_LOOKUP", "10 per minute"),
        "RATELIMIT_QD_PER_ID": raw("RATELIMIT_QD_PER_ID", "30 per 10 minutes"),
        "RATELIMIT_NOTIFY": raw("RATELIMIT_NOTIFY", "60 per minute"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Behind TLS (an https PUBLIC_BASE_URL) cookies are Secure and HSTS is on unless said otherwise (D11).
        "SESSION_COOKIE_SECURE": raw("SESSION_COOKIE_SECURE", "1" if https else "0") in ("1", "True", "true"),
        "HSTS_SECONDS": number("HSTS_SECONDS", "31536000" if https else "0"),
        "MAX_URL_LENGTH": number("MAX_URL_LENGTH", "4096"),
        "PUBLIC_PAGE_CACHE": raw("PUBLIC_PAGE_CACHE", "1") not in ("0", "False", "false"),
        "HEALTHZ_CHECK_SECONDS": number("HEALTHZ_CHECK_SECONDS", "1.0", float),
        "TRUSTED_PROXIES": number("TRUSTED_PROXIES", "0"),
        "BATCH_DEBIT_SHARES": number("BATCH_DEBIT_SHARES", "2"),
        "MAX_CONTENT_LENGTH": 1024 * 1024,  # no form or notification comes near; bigger bodies get 413
        "WTF_CSRF_TIME_LIMIT": None,
    }
    for key in (
        "WECHAT_MCHID",
        "WECHAT_APPID",
        "WECHAT_SERIAL_NO",
        "WECHAT_MERCHANT_KEY",
        "WECHAT_PLATFORM_PUBLIC_KEY",
        "WECHAT_PLATFORM_KEY_ID",
        "WECHAT_APIV3_KEY_FILE",
        "ALIPAY_APP_ID",
        "ALIPAY_APP_PRIVATE_KEY",
        "ALIPAY_PUBLIC_KEY",
        "UNIONPAY_MER_ID",
        "UNIONPAY_SIGN_KEY",
        "UNIONPAY_SIGN_PUBLIC_KEY",
        "UNIONPAY_VERIFY_KEY",
        "BANK_MERCHANT_KEY",
        "BANK_PUBLIC_KEY",
    ):
        if raw(key):
            cfg[key] = raw(key)
    captcha_answer = raw("CAPTCHA_TEST_ANSWER")
    if captcha_answer and app_today is None:
        logging.getLogger(__name__).warning(
            "CAPTCHA_TEST_ANSWER is ignored: it is honoured only with APP_TODAY (a demo or test run)"
        )
        captcha_answer = ""
    cfg["CAPTCHA_TEST_ANSWER"] = captcha_answer or None
    cfg["CERTIFICATE_MAKING"] = raw("CERTIFICATE_MAKING", "inline" if over.get("TESTING") else "queue")
    cfg["CJK_FONT_PATH"] = raw("CJK_FONT_PATH", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
    # Anything else a test passes (TESTING, …) goes through unchanged.
    for key, value in over.items():
        cfg.setdefault(key, value)
    return cfg


def settings_for_file(instance_path: str, env: Mapping[str, str], now: float) -> dict[str, str]:
    """What ``make run`` writes into the settings file: every setting the app reads that ``env`` sets, and the
    moment APP_TODAY was read (its anchor). Raises ValueError naming a setting whose value cannot be used."""
    sources = _Sources({}, env, {})
    _load(os.path.abspath(instance_path), sources)  # reads (and so checks) every setting the processes will read
    values = {key: str(env[key]) for key in sources.asked if env.get(key)}
    for key, value in values.items():
        if "\n" in value or "\r" in value:
            raise ValueError(f"{key} must be one line")
    if values.get("APP_TODAY") and not values.get("APP_TODAY_ANCHOR"):
        values["APP_TODAY_ANCHOR"] = f"{now:.3f}"
    return values


def write_settings_file(instance_path: str, values: Mapping[str, str], written_by: str = "make run") -> Path:
    """Write ``<instance>/settings.env`` (mode 0600: it may hold SECRET_KEY or a database password)."""
    path = Path(instance_path) / SETTINGS_FILE
    lines = [
        f"# Written by `{written_by}` at {datetime.now(BEIJING):%Y-%m-%d %H:%M:%S} from its environment; rewritten",
        "# at its next start. Every process of this instance reads it (the app, the providers, the job consumers,",
        "# any `flask --app webapp …` run with INSTANCE_PATH set to this folder); an environment variable wins.",
        *(f"{key}={value}" for key, value in values.items()),
    ]
    write_private(path, "\n".join(lines) + "\n")
    return path
