"""``/readyz`` (issue 16 item 3): JSON saying whether the database, the providers and the job queue answer; 503
naming the part that is down. ``/healthz`` stays the cheap liveness probe."""

from __future__ import annotations

import json
import time

from webapp.jobqueue import HEARTBEAT, beat, make_huey


def _ready(app):  # type: ignore[no-untyped-def]
    r = app.test_client().get("/readyz")
    return r.status_code, json.loads(r.get_data(as_text=True)), r


def _beat(app) -> None:  # type: ignore[no-untyped-def]
    """A job worker of this instance's queue ran just now (what the consumer does at start and every minute)."""
    beat(make_huey(app.config.get("HUEY_URL"), app.instance_path))


def test_readyz_answers_200_when_the_database_the_providers_and_the_queue_answer(app):
    _beat(app)
    status, body, r = _ready(app)
    assert status == 200 and body["status"] == "ready" and body["down"] == []
    assert set(body["checks"]) == {"database", "providers", "queue"}
    assert r.headers["Cache-Control"] == "no-store" and "Set-Cookie" not in r.headers


def test_readyz_names_the_queue_when_no_job_worker_ran_lately(app):
    status, body, _ = _ready(app)
    assert status == 503 and body["down"] == ["queue"]
    assert "consumer" in body["checks"]["queue"]["error"]
    queue = make_huey(app.config.get("HUEY_URL"), app.instance_path)
    queue.put(HEARTBEAT, {"at": time.time() - 600, "pid": 1, "host": "h"})  # the consumer stopped 10 minutes ago
    status, body, _ = _ready(app)
    assert status == 503 and body["down"] == ["queue"] and body["checks"]["queue"]["seconds_ago"] >= 600


def test_readyz_names_the_providers_when_they_do_not_answer(app):
    _beat(app)
    app.extensions["payment_transport"].routes.clear()  # the providers' server is gone
    status, body, _ = _ready(app)
    assert status == 503 and body["down"] == ["providers"] and body["checks"]["database"]["ok"]


def test_readyz_names_the_database_when_it_does_not_answer(app):
    _beat(app)
    app.extensions["db_reader_engine"].dispose()
    app.extensions["db_reader_engine"] = __import__("sqlalchemy").create_engine("sqlite:////nonexistent/dir/x.db")
    status, body, _ = _ready(app)
    assert status == 503 and body["down"] == ["database"]


def test_healthz_stays_the_cheap_liveness_probe(app):
    r = app.test_client().get("/healthz")  # no queue, no providers asked
    assert r.status_code == 200
