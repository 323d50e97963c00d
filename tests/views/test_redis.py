"""With REDIS_URL set, sessions and rate-limit counts live in Redis (shared by every worker): logout and
"log out everywhere" still end sessions for good, and the login limit still holds (R-ID-5).

Runs against TEST_REDIS_URL (default redis://127.0.0.1:6379/3) under a key prefix of its own, which it
deletes afterwards; skipped when no Redis answers there.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
import redis
from flask import Flask

from tests.conftest import APP_HOST, PROVIDERS_HOST, Browser, make_providers, make_test_app, text
from tests.factories import make_resident

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/3")
PREFIX = f"test-{secrets.token_hex(4)}:"  # one per run: the shared limiter keeps the first key prefix it is given


@pytest.fixture
def redis_app(tmp_path, template_dir) -> Iterator[Flask]:
    """The app with REDIS_URL set, its keys under a prefix of this test's own."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"no Redis at {REDIS_URL}")
    prefix = PREFIX
    app = make_test_app(
        tmp_path,
        template_dir,
        REDIS_URL=REDIS_URL,
        RATELIMIT_STORAGE_URI=REDIS_URL,
        SESSION_REDIS_PREFIX=prefix + "sess:",
        RATELIMIT_KEY_PREFIX=prefix + "limits",
        PUBLIC_BASE_URL=f"http://{APP_HOST}",
        PROVIDERS_URL=f"http://{PROVIDERS_HOST}",
        PAYMENT_TRANSPORT="wsgi",
    )
    app.extensions["test_providers"] = make_providers(app, SIM_NOTIFY_MODE="manual")
    try:
        yield app
    finally:
        app.extensions["db_engine"].dispose()
        keys = list(client.scan_iter(match=f"*{prefix}*"))
        if keys:
            client.delete(*keys)


def _person(app: Flask):  # type: ignore[no-untyped-def]
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        p = make_resident(s, "王建国")
        s.commit()
    return p


def test_R_ID_5_in_redis_a_cookie_copied_before_logout_is_refused_after_it(redis_app):
    person = _person(redis_app)
    b = Browser(redis_app)
    b.login(person.name, person.id_number)
    copied = b.client.get_cookie("session").value
    thief = redis_app.test_client()
    thief.set_cookie("session", copied, domain="localhost")
    assert thief.get("/rm/pay").status_code == 200
    b.get("/me/settings")
    b.post("/logout")
    assert thief.get("/rm/pay").status_code == 302 and b.get("/rm/pay").status_code == 302


def test_R_ID_5_in_redis_log_out_everywhere_ends_every_phone(redis_app):
    person = _person(redis_app)
    phones = [Browser(redis_app) for _ in range(3)]
    for b in phones:
        b.login(person.name, person.id_number)
    phones[0].get("/me/settings")
    phones[0].post("/logout/everywhere")
    assert [b.get("/rm/pay").status_code for b in phones] == [302, 302, 302]


def test_in_redis_the_11th_login_attempt_within_a_minute_gets_429(redis_app):
    b = Browser(redis_app)
    statuses = [b.post("/login", {"name": "x"}).status_code for _ in range(11)]
    assert statuses == [422] * 10 + [429]
    assert "秒后再试" in text(b.post("/login", {"name": "x"}))
