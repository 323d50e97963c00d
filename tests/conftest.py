"""Fixtures: an app per test on a fresh database (SQLite, or PostgreSQL when TEST_DATABASE_URL is set),
the simulated providers as a second app that the first reaches in-process (notifications sent only when
a test says so), a session for arranging and asserting, and phone users who keep their CSRF token.

People are built with ``tests/factories.py``; only the demo's own tests use the demo personas.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from webapp import create_app
from webapp.db import Base, make_engine
from webapp.migrate import upgrade
from webapp.payments import sim
from webapp.payments.crypto import ensure_keys

TODAY = "2026-11-22T10:00:00+08:00"
PG_URL = os.environ.get("TEST_DATABASE_URL")
APP_HOST, PROVIDERS_HOST = "localhost", "providers.test"


@pytest.fixture(scope="session")
def template_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keys generated once, and (on SQLite) a migrated database file to copy for each test."""
    d = tmp_path_factory.mktemp("template")
    ensure_keys(str(d))
    if PG_URL:
        engine = make_engine(PG_URL)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        engine.dispose()
        upgrade(PG_URL)
    else:
        upgrade(f"sqlite:///{d}/app.sqlite3")
    return d


def _fresh_pg() -> None:
    engine = make_engine(PG_URL or "")
    with engine.begin() as conn:
        names = ", ".join(t.name for t in Base.metadata.sorted_tables)
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    engine.dispose()


def make_test_app(tmp_path: Path, template_dir: Path, **overrides: object) -> Flask:
    """An app on an empty, migrated database with the pre-generated keys, at the test clock."""
    shutil.copytree(template_dir / "keys", tmp_path / "keys", dirs_exist_ok=True)
    shutil.copytree(template_dir / "sim" / "keys", tmp_path / "sim" / "keys", dirs_exist_ok=True)
    if PG_URL:
        _fresh_pg()
        url = PG_URL
    else:
        shutil.copy(template_dir / "app.sqlite3", tmp_path / "app.sqlite3")
        url = f"sqlite:///{tmp_path}/app.sqlite3"
    return create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path),
            "DATABASE_URL": url,
            "SECRET_KEY": "test",
            "APP_TODAY": TODAY,
            **overrides,
        }
    )


def make_providers(app: Flask, **overrides: object) -> Flask:
    """The simulated providers for ``app``: same instance folder (their keys), same clock."""
    return sim.create_app(
        {
            "INSTANCE_PATH": app.instance_path,
            "SECRET_KEY": "test",
            "SIM_CONTROLS": True,
            "APP_TODAY": TODAY,
            "PAYMENT_TRANSPORT": "wsgi",
            **overrides,
        },
        clock=app.extensions["clock"],
    )


@pytest.fixture
def app(tmp_path: Path, template_dir: Path) -> Iterator[Flask]:
    """The app, and the providers as a second app reached in-process; notifications wait for the test."""
    app = make_test_app(
        tmp_path,
        template_dir,
        PUBLIC_BASE_URL=f"http://{APP_HOST}",
        PROVIDERS_URL=f"http://{PROVIDERS_HOST}",
        PAYMENT_TRANSPORT="wsgi",
    )
    providers = make_providers(app, SIM_NOTIFY_MODE="manual", SIM_RETRY_SCALE=0.0)
    app.extensions["payment_transport"].mount(PROVIDERS_HOST, providers)
    providers.extensions["sim_transport"].mount(APP_HOST, app)
    app.extensions["test_providers"] = providers
    yield app
    app.extensions["db_engine"].dispose()


@pytest.fixture
def providers(app: Flask) -> Flask:
    """The simulated providers' app (controls, trades, outbox)."""
    return app.extensions["test_providers"]


@pytest.fixture
def db(app: Flask) -> Iterator[sa.orm.Session]:
    """A session outside any request, for arranging and asserting."""
    with app.extensions["db_sessionmaker"]() as s:
        yield s


class Browser:
    """A phone user: test clients for the app and the providers, keeping the CSRF token of the last page.
    Each phone has an address of its own, as real phones do (rate limits count per address)."""

    _addresses = itertools.count(1)

    def __init__(self, app: Flask, ua: str = "") -> None:
        self.app, self.ua, self.token = app, ua, ""
        self.client: FlaskClient = app.test_client()
        n = next(Browser._addresses)
        self.client.environ_base["REMOTE_ADDR"] = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
        providers = app.extensions.get("test_providers")  # an app built without them has no cashier
        self.cashier: FlaskClient = providers.test_client() if providers else app.test_client()

    def _client(self, url: str) -> tuple[FlaskClient, str, str]:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if parts.netloc == PROVIDERS_HOST:
            return self.cashier, path, f"http://{PROVIDERS_HOST}"
        return self.client, path if parts.netloc else url, f"http://{APP_HOST}"

    def get(self, url: str, **kw: object):  # type: ignore[no-untyped-def]
        client, path, base = self._client(url)
        r = client.get(path, base_url=base, headers={"User-Agent": self.ua, **kw.pop("headers", {})}, **kw)  # type: ignore[arg-type]
        m = re.search(r'name="csrf_token" value="([^"]+)"|"X-CSRFToken": "([^"]+)"', r.get_data(as_text=True))
        if m and client is self.client:
            self.token = m.group(1) or m.group(2)
        return r

    def post(self, url: str, data: dict[str, object] | None = None, *, csrf: bool = True, **kw: object):  # type: ignore[no-untyped-def]
        client, path, base = self._client(url)
        if csrf and not self.token and client is self.client:
            self.get("/login")
        data = dict(data or {})
        if csrf and client is self.client:
            data.setdefault("csrf_token", self.token)
        return client.post(
            path, data=data, base_url=base, headers={"User-Agent": self.ua, **kw.pop("headers", {})}, **kw
        )  # type: ignore[arg-type]

    def follow(self, r):  # type: ignore[no-untyped-def]
        """Follow redirects, across to the providers' cashier and back (a relative one stays on its host)."""
        while r.status_code in (301, 302, 303):
            r = self.get(urljoin(r.request.url, r.location))
        return r

    def login(self, name: str, id_number: str, next_url: str = "/") -> None:
        """Log in with the face check (in 京通, after allowing it the phone number, seed 004 §1.2)."""
        if "申请获取你的手机号" in text(self.get("/login")):
            assert self.post("/login/phone", {"next": next_url}).status_code == 303
            self.get("/login")
        r = self.post(
            "/login", {"name": name, "id_type": "resident_id", "id_number": id_number, "agree": "1", "next": next_url}
        )
        assert r.status_code == 303, r.get_data(as_text=True)
        self.get(r.location)  # the face page: the login form started a new session, with its own token (D4)
        r = self.post("/login/face")
        assert r.status_code == 303, r.get_data(as_text=True)
        self.get(r.location)  # a new login is a new session: the page it lands on carries its CSRF token


HOST_UA = {
    "wechat": "Mozilla/5.0 (iPhone) MicroMessenger/8.0.50",
    "alipay": "Mozilla/5.0 (iPhone) AlipayClient/10.6",
    "etax-web": "Mozilla/5.0 (iPhone)",
    "etax-app": "Mozilla/5.0 (iPhone)",
    "baidu": "Mozilla/5.0 baiduboxapp",
}


@pytest.fixture
def browser(app: Flask) -> Browser:
    """An anonymous user in a plain browser (e-Tax web channel)."""
    return Browser(app)


@pytest.fixture
def phone_user(app: Flask):  # type: ignore[no-untyped-def]
    """``phone_user(person, "wechat")``: that person logged in inside that channel."""

    def login(person, channel: str = "wechat") -> Browser:  # type: ignore[no-untyped-def]
        b = Browser(app, HOST_UA.get(channel, ""))
        b.get(f"/?ch={channel}")
        b.login(person.name, person.id_number)
        return b

    return login


def text(r) -> str:  # type: ignore[no-untyped-def]
    """A response's body as text."""
    return r.get_data(as_text=True)
