"""The readiness probe, ``GET /readyz``: can this instance take payments now? ``/healthz`` (views.hall) stays the
cheap liveness probe (the process answers and its database does).

JSON ``{"status": "ready" | "not ready", "down": [...], "checks": {part: {"ok": …, …}}}``, 200 when every part
answers and 503 naming the parts that do not:

- ``database``: ``SELECT 1`` on the app's database;
- ``providers``: the simulated providers' server answers its ``/healthz`` (PROVIDERS_URL), and any provider
  pointed elsewhere (WECHAT_BASE_URL, …) answers HTTP at all;
- ``queue``: the job queue's storage answers and a job worker ran the periodic heartbeat within
  QUEUE_STALE_SECONDS (the consumer writes it when it starts and every minute): a consumer that is down or
  stuck shows here.

Each check has a short timeout, so the probe answers within a few seconds whatever is down. No session.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, current_app

QUEUE_STALE_SECONDS = 150  # the heartbeat runs every minute: two missed runs and a half
CHECK_TIMEOUT = 2.0
PROVIDER_SETTINGS = ("WECHAT_BASE_URL", "ALIPAY_GATEWAY_URL", "UNIONPAY_BASE_URL", "BANK_BASE_URL")


def _error(e: BaseException) -> str:
    return (" ".join(str(e).split()) or type(e).__name__)[:200]


def check_database(app: Flask) -> dict[str, Any]:
    """The database answers ``SELECT 1`` (on the reader engine: it waits for no writer)."""
    started = time.monotonic()
    try:
        with app.extensions["db_reader_engine"].connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as e:  # noqa: BLE001 - any failure is the answer
        return {"ok": False, "error": _error(e)}
    return {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}


def provider_targets(config: Any) -> list[tuple[str, bool]]:
    """What to ask: (url, must answer 200). The simulated providers' /healthz; for each provider configured
    elsewhere, its origin (any HTTP answer counts: a real provider has no health page of ours)."""
    base = str(config["PROVIDERS_URL"])
    targets: list[tuple[str, bool]] = []
    for setting in PROVIDER_SETTINGS:
        url = str(config[setting])
        if url.startswith(base):
            target = (f"{base}/healthz", True)
        else:
            parts = urlsplit(url)
            target = (f"{parts.scheme}://{parts.netloc}/", False)
        if target not in targets:
            targets.append(target)
    return targets


def check_providers(app: Flask) -> dict[str, Any]:
    """Every providers' server the adapters use answers."""
    from .payments.transport import RequestsTransport

    transport = app.extensions["payment_transport"]
    if isinstance(transport, RequestsTransport):
        transport = RequestsTransport(timeout=CHECK_TIMEOUT)
    for url, strict in provider_targets(app.config):
        try:
            status = transport.request("GET", url, headers={}).status
        except Exception as e:  # noqa: BLE001 - PaymentError and anything else: it did not answer
            return {"ok": False, "error": _error(e)}
        if status >= 500 or (strict and status != 200):
            return {"ok": False, "error": f"HTTP {status} from {urlsplit(url).netloc}"}
    return {"ok": True}


def check_queue(app: Flask) -> dict[str, Any]:
    """The queue's storage answers and a job worker left a recent heartbeat."""
    from .jobqueue import last_beat, make_huey

    queue = app.extensions.get("readiness_queue")
    if queue is None:
        queue = app.extensions["readiness_queue"] = make_huey(app.config.get("HUEY_URL"), app.instance_path)
    try:
        beat = last_beat(queue)
    except Exception as e:  # noqa: BLE001 - Redis down, a locked file: the queue does not answer
        return {"ok": False, "error": _error(e)}
    if beat is None:
        return {"ok": False, "error": "no job worker has run yet (is the consumer started?)"}
    age = time.time() - float(beat.get("at", 0))
    if age > QUEUE_STALE_SECONDS:
        return {"ok": False, "error": f"the last periodic job ran {age:.0f} s ago", "seconds_ago": round(age)}
    return {"ok": True, "seconds_ago": round(max(age, 0))}


def readyz() -> Response:
    """``GET /readyz``."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # LocalProxy's, not on Flask's type
    checks = {"database": check_database(app), "providers": check_providers(app), "queue": check_queue(app)}
    down = [part for part, result in checks.items() if not result["ok"]]
    body = {"status": "not ready" if down else "ready", "down": down, "checks": checks}
    return Response(
        json.dumps(body, ensure_ascii=False),
        status=503 if down else 200,
        mimetype="application/json",
        headers={"Cache-Control": "no-store"},
    )


def init_app(app: Flask) -> None:
    """Register ``/readyz``."""
    app.add_url_rule("/readyz", "readyz", readyz, methods=["GET"])
