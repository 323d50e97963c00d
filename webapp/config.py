"""Configuration: every setting comes from an environment variable, read here and only here.

| variable | default | meaning |
| --- | --- | --- |
| DATABASE_URL | sqlite:///<instance>/app.sqlite3 | SQLAlchemy URL; postgresql://… for PostgreSQL |
| SECRET_KEY | generated once into instance/secret_key | signs sessions and CSRF tokens |
| APP_TODAY | (real date) | YYYY-MM-DD or ISO datetime: run the app as if it were that day |
| REGION | beijing | policy region (beijing, qingdao) |
| HOST / PORT | 127.0.0.1 / 5000 | where `make run` serves |
| PUBLIC_BASE_URL | http://HOST:PORT | absolute base the payment providers call back |
| PAYMENT_TRANSPORT | http | http (real HTTP) or wsgi (in-process, tests) |
| SIM_NOTIFY_MODE | thread | the simulated providers' notification sender: thread or manual |
| SIM_RETRY_SCALE | 1.0 | multiplies the providers' retry delays (tests compress them) |
| SIM_CONTROLS | 0 | 1 exposes /sim/<provider>/_control for tests |
| ORDER_EXPIRE_MINUTES | 30 | how long a provider cashier accepts an order |
| RECONCILE_AFTER_SECONDS | 60 | the periodic job queries orders left unfinished this long |
| HUEY_URL | sqlite under instance/ | redis://… to run the periodic jobs on Redis at scale |
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path


def _secret_key(instance_path: str) -> str:
    """Read the generated secret key from instance/, creating it on first run."""
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_hex(32))
        os.replace(tmp, path)
    return path.read_text().strip()


def load_config(instance_path: str, env: Mapping[str, str] | None = None) -> dict[str, object]:
    """Build the Flask config mapping from the environment."""
    env = os.environ if env is None else env
    host = env.get("HOST", "127.0.0.1")
    port = env.get("PORT", "5000")
    return {
        "SECRET_KEY": env.get("SECRET_KEY") or _secret_key(instance_path),
        "DATABASE_URL": env.get("DATABASE_URL")
        or f"sqlite:///{os.path.join(instance_path, 'app.sqlite3')}",
        "APP_TODAY": env.get("APP_TODAY") or None,
        "REGION": env.get("REGION", "beijing"),
        "PUBLIC_BASE_URL": (env.get("PUBLIC_BASE_URL") or f"http://{host}:{port}").rstrip("/"),
        "PAYMENT_TRANSPORT": env.get("PAYMENT_TRANSPORT", "http"),
        "SIM_NOTIFY_MODE": env.get("SIM_NOTIFY_MODE", "thread"),
        "SIM_RETRY_SCALE": float(env.get("SIM_RETRY_SCALE", "1.0")),
        "SIM_CONTROLS": env.get("SIM_CONTROLS", "0") == "1",
        "ORDER_EXPIRE_MINUTES": int(env.get("ORDER_EXPIRE_MINUTES", "30")),
        "RECONCILE_AFTER_SECONDS": int(env.get("RECONCILE_AFTER_SECONDS", "60")),
        "HUEY_URL": env.get("HUEY_URL") or None,
        "INSTANCE_PATH": instance_path,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
    }
