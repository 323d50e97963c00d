"""gunicorn settings for the app (``make run``: ``gunicorn -c python:webapp.gunicorn_conf …``).

- No server banner: gunicorn writes ``Server: gunicorn`` itself, after the app's headers, so the app
  cannot remove it (``views._web`` drops Werkzeug's). This file runs in the master before any worker
  starts and filters that line out of gunicorn's default response headers.
- Request lines: gunicorn's limit is raised to its maximum (8190 bytes) so that the app itself answers
  URLs longer than MAX_URL_LENGTH (4096) with its Chinese 414 page. A request line over 8190 bytes never
  reaches the app: gunicorn answers it with its own plain "414 URI Too Long" page and closes the
  connection (tests/test_gunicorn.py shows both).
- The app is built once in the master (``preload_app``) and the workers fork from it: a worker is up as
  soon as it forks, and the modules' pages are shared. No connection is opened before the fork; each
  worker starts with an empty pool all the same (``post_fork``).
- A control socket of its own in the instance folder (``run/gunicorn-<pid>.ctl``; `make run` names it
  ``run/web.ctl``): gunicorn's default, ``~/.gunicorn/gunicorn.ctl``, is one per user, so a second gunicorn (the
  providers', another checkout's) would take it over.
"""

from __future__ import annotations

import os
from typing import Any

from gunicorn.http import wsgi

preload_app = True
control_socket = os.path.join(
    os.path.abspath(os.environ.get("INSTANCE_PATH") or os.path.join(os.path.dirname(__file__), "..", "instance")),
    "run",
    f"gunicorn-{os.getpid()}.ctl",
)
limit_request_line = 8190
limit_request_field_size = 8190

_default_headers = wsgi.Response.default_headers


def _without_server_banner(self: wsgi.Response) -> list[str]:
    """gunicorn's default headers, less ``Server:``."""
    return [h for h in _default_headers(self) if not h.lower().startswith("server:")]


wsgi.Response.default_headers = _without_server_banner


def post_fork(_server: Any, worker: Any) -> None:
    """Each worker its own database connections (none is inherited from the master)."""
    app = worker.app.wsgi()  # built in the master (preload_app)
    engine = getattr(app, "extensions", {}).get("db_engine")
    if engine is not None:
        engine.dispose(close=False)
