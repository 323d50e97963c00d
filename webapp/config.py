"""Configuration: every setting comes from an environment variable, read here and only here.

| variable | default | meaning |
| --- | --- | --- |
| INSTANCE_PATH | ./instance | SQLite file, generated keys and secrets, the providers' state |
| DATABASE_URL | sqlite:///<instance>/app.sqlite3 | SQLAlchemy URL; postgresql://… for PostgreSQL |
| DB_POOL_SIZE / DB_MAX_OVERFLOW | 10 / 20 | connections per process (PostgreSQL) |
| SECRET_KEY | generated once into instance/secret_key | signs sessions and CSRF tokens |
| APP_TODAY | (real date) | YYYY-MM-DD (10:00 that day) or an ISO datetime: the app's time starts there and runs on |
| APP_TODAY_ANCHOR | when APP_TODAY was read | epoch seconds when the clock read APP_TODAY (`make run` sets it) |
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
| RATELIMIT_LOOKUP | 10 per minute | 他人 look-ups (/rm/pay) per logged-in payer |
| RATELIMIT_NOTIFY | 60 per minute | refused provider notifications per address (valid ones are not counted) |
| SESSION_COOKIE_SECURE | 1 if PUBLIC_BASE_URL is https, else 0 | 1 sends the cookies over HTTPS only |
| HSTS_SECONDS | 31536000 if PUBLIC_BASE_URL is https, else 0 | > 0 sends Strict-Transport-Security with this max-age |
| MAX_URL_LENGTH | 4096 | longer request URLs are answered 414 (gunicorn's own limit is 8190) |
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from .domain.calendar import BEIJING, Clock, parse_app_today

ROOT = Path(__file__).resolve().parent.parent


def _secret_key(instance_path: str) -> str:
    """Read the generated secret key from instance/, creating it on first run."""
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(secrets.token_hex(32))
        os.replace(tmp, path)
    return path.read_text().strip()


def load_config(
    instance_path: str | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """The Flask config mapping, from the environment; ``overrides`` (tests) win over it."""
    env = os.environ if env is None else env
    over = dict(overrides or {})

    def raw(key: str, default: str = "") -> str:
        value = over[key] if key in over else env.get(key)
        return default if value is None or value == "" else str(value)

    instance = instance_path or raw("INSTANCE_PATH", str(ROOT / "instance"))
    host, port = raw("HOST", "127.0.0.1"), raw("PORT", "5000")
    sim_port = raw("SIM_PORT", str(int(port) + 1))
    # Serving on every interface (HOST=0.0.0.0) names no address a browser can open: the defaults use loopback.
    reachable = "127.0.0.1" if host in ("0.0.0.0", "::", "[::]") else host
    public = raw("PUBLIC_BASE_URL", f"http://{reachable}:{port}").rstrip("/")
    providers = raw("PROVIDERS_URL", f"http://{reachable}:{sim_port}").rstrip("/")
    https = public.lower().startswith("https://")
    anchor_text = raw("APP_TODAY_ANCHOR")
    anchor = datetime.fromtimestamp(float(anchor_text), BEIJING) if anchor_text else None
    app_today = parse_app_today(raw("APP_TODAY") or None)
    cfg: dict[str, object] = {
        "INSTANCE_PATH": instance,
        "SECRET_KEY": raw("SECRET_KEY") or _secret_key(instance),
        "DATABASE_URL": raw("DATABASE_URL", f"sqlite:///{os.path.join(instance, 'app.sqlite3')}"),
        "DB_POOL_SIZE": int(raw("DB_POOL_SIZE", "10")),
        "DB_MAX_OVERFLOW": int(raw("DB_MAX_OVERFLOW", "20")),
        "APP_TODAY": app_today,
        "CLOCK": Clock.starting_at(app_today, anchor),
        "REGION": raw("REGION", "beijing"),
        "HOST": host,
        "PORT": int(port),
        "SIM_PORT": int(sim_port),
        "PUBLIC_BASE_URL": public,
        "PUBLIC_BASE_URL_SET": bool(raw("PUBLIC_BASE_URL")),
        "PROVIDERS_URL": providers,
        "WECHAT_BASE_URL": raw("WECHAT_BASE_URL", f"{providers}/sim/wechat"),
        "ALIPAY_GATEWAY_URL": raw("ALIPAY_GATEWAY_URL", f"{providers}/sim/alipay/gateway.do"),
        "UNIONPAY_BASE_URL": raw("UNIONPAY_BASE_URL", f"{providers}/sim/unionpay"),
        "BANK_BASE_URL": raw("BANK_BASE_URL", f"{providers}/sim/bank"),
        "PAYMENT_TRANSPORT": raw("PAYMENT_TRANSPORT", "http"),
        "SIM_NOTIFY_MODE": raw("SIM_NOTIFY_MODE", "thread"),
        "SIM_RETRY_SCALE": float(raw("SIM_RETRY_SCALE", "1.0")),
        "SIM_CONTROLS": raw("SIM_CONTROLS", "0") in ("1", "True", "true"),
        "ORDER_EXPIRE_MINUTES": int(raw("ORDER_EXPIRE_MINUTES", "30")),
        "RECONCILE_AFTER_SECONDS": int(raw("RECONCILE_AFTER_SECONDS", "60")),
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
        "RATELIMIT_NOTIFY": raw("RATELIMIT_NOTIFY", "60 per minute"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Behind TLS (an https PUBLIC_BASE_URL) cookies are Secure and HSTS is on unless said otherwise (D11).
        "SESSION_COOKIE_SECURE": raw("SESSION_COOKIE_SECURE", "1" if https else "0") in ("1", "True", "true"),
        "HSTS_SECONDS": int(raw("HSTS_SECONDS", "31536000" if https else "0")),
        "MAX_URL_LENGTH": int(raw("MAX_URL_LENGTH", "4096")),
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
