"""The app and the simulated providers, each served over real HTTP on a free port of its own, as
`make run` serves them: for the browser tests and the concurrency tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from tests.conftest import make_providers, make_test_app


class _Deferred:
    """A WSGI app whose real app is attached once the server knows its port."""

    def __init__(self) -> None:
        self.app: Flask | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        assert self.app is not None, "the live server answered before the app was built"
        return self.app(environ, start_response)


@dataclass
class LiveServer:
    """The app on http://127.0.0.1:<port>, the providers on another port."""

    app: Flask
    url: str
    providers: Flask
    providers_url: str

    def sim_trades(self) -> list[dict[str, Any]]:
        """What the simulated providers hold: every trade with its state."""
        return [dict(r) for r in self.providers.extensions["sim"].store.all("SELECT * FROM trade ORDER BY created")]


def serve(wsgi: Any) -> tuple[BaseWSGIServer, threading.Thread]:
    """A threaded server on a free port (port 0: the kernel picks, no race), started."""
    server: BaseWSGIServer = make_server("127.0.0.1", 0, wsgi, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    return server, thread


def stop(server: BaseWSGIServer, thread: threading.Thread) -> None:
    """Shut a ``serve`` server down."""
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def live_pair(tmp_path: Path, template_dir: Path, **overrides: Any) -> tuple[LiveServer, list[Any]]:
    """The app and the providers, each on its own port, over real HTTP; returns them and what to stop."""
    app_wsgi, sim_wsgi = _Deferred(), _Deferred()
    app_server, app_thread = serve(app_wsgi)
    sim_server, sim_thread = serve(sim_wsgi)
    base, providers_url = (f"http://127.0.0.1:{app_server.server_port}", f"http://127.0.0.1:{sim_server.server_port}")
    app = make_test_app(
        tmp_path, template_dir, PUBLIC_BASE_URL=base, PROVIDERS_URL=providers_url, PAYMENT_TRANSPORT="http", **overrides
    )
    providers = make_providers(app, PAYMENT_TRANSPORT="http", SIM_NOTIFY_MODE="thread", SIM_RETRY_SCALE=0.01)
    app_wsgi.app, sim_wsgi.app = app, providers
    return LiveServer(app, base, providers, providers_url), [(app_server, app_thread), (sim_server, sim_thread)]
