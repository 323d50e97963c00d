"""Rate limits (Flask-Limiter), shared by every blueprint: counted in Redis when REDIS_URL is set, so the
count holds across workers and processes, in memory otherwise. Use ``limiter.limit("10/minute")`` on a
view, with ``key_func`` for a key other than the client address (a document number, say).
"""

from __future__ import annotations

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address, headers_enabled=True, strategy="moving-window")


def init_app(app: Flask) -> None:
    """Bind the limiter to the app with the storage configuration chose (RATELIMIT_STORAGE_URI)."""
    limiter.init_app(app)
