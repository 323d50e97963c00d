"""Rate limits (Flask-Limiter), shared by every blueprint: counted in Redis when REDIS_URL is set, so the
count holds across workers and processes, in memory otherwise. Use ``limiter.limit("10/minute")`` on a
view, with ``key_func`` for a key other than the client address (a document number, say), or one of the
helpers below, which read the limit from the configuration (RATELIMIT_* in config.py).

The 429 page says when to try again (and the Retry-After header says it to machines).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, session
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address

from ._web import error_page

limiter = Limiter(key_func=get_remote_address, headers_enabled=True, strategy="moving-window")


def configured(setting: str) -> Callable[[], str]:
    """The limit named by a config key (e.g. ``RATELIMIT_LOGIN`` = ``10 per minute``), read per request."""
    return lambda: str(current_app.config[setting])


def digest(text: str) -> str:
    """A keyed digest of an identifying value (a document number), so no counter key carries it (R-ID-3)."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()[:32]


def per_address(setting: str, **options: Any) -> Any:
    """Limit a view's POSTs per client address."""
    return limiter.limit(configured(setting), methods=["POST"], **options)


def per_payer() -> str:
    """The counter key of the logged-in payer (their session's person), else the address."""
    pid = session.get("person_id")
    return f"payer:{pid}" if isinstance(pid, int) else f"addr:{get_remote_address()}"


def retry_after_seconds() -> int:
    """How long until the limit this request broke lets a request through again."""
    current = limiter.current_limit
    if current is None:
        return 60
    return max(1, int(current.reset_at - time.time()))


def wait_text(seconds: int) -> str:
    """``30秒`` or ``2分钟`` (rounded up), for the 429 page."""
    return f"{seconds}秒" if seconds < 90 else f"{-(-seconds // 60)}分钟"


def _counted(setting: str, key: str) -> tuple[Any, tuple[str, ...]]:
    from limits import parse

    prefix = str(current_app.config.get("RATELIMIT_KEY_PREFIX") or "")
    return parse(str(current_app.config[setting])), (prefix, "refused", setting, key)


def used_up(setting: str, key: str) -> bool:
    """Whether ``key`` has used up the limit named by ``setting`` on what ``count_one`` counted (only what a view
    chose to count: refusals, say, so what it did not count is never held back)."""
    if not limiter.enabled:
        return False
    item, ids = _counted(setting, key)
    return not limiter.limiter.test(item, *ids)


def count_one(setting: str, key: str) -> None:
    """Count one event for ``key`` against the limit named by ``setting``."""
    if limiter.enabled:
        item, ids = _counted(setting, key)
        limiter.limiter.hit(item, *ids)


def too_many(setting: str, key: str) -> Any:
    """The 429 answer for a limit counted with ``count_one``, saying (and Retry-After saying) when to try again."""
    item, ids = _counted(setting, key)
    wait = max(1, int(limiter.limiter.get_window_stats(item, *ids).reset_time - time.time()))
    body, status = error_page(429, message=f"您的操作过于频繁，请{wait_text(wait)}后再试。")
    return body, status, {"Retry-After": str(wait)}


def _too_many(_e: RateLimitExceeded) -> Any:
    wait = retry_after_seconds()
    return error_page(429, message=f"您的操作过于频繁，为保护您的信息安全，请{wait_text(wait)}后再试。")


def init_app(app: Flask) -> None:
    """Bind the limiter to the app with the storage configuration chose (RATELIMIT_STORAGE_URI)."""
    limiter.init_app(app)
    app.register_error_handler(RateLimitExceeded, _too_many)
