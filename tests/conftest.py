"""Fixtures: an app per test on a fresh database (SQLite, or PostgreSQL when TEST_DATABASE_URL is set),
the demo people, a logged-in client, and the simulated providers in manual notification mode."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from webapp import create_app, demo
from webapp.db import Base, make_engine
from webapp.migrate import upgrade
from webapp.payments.crypto import ensure_keys

TODAY = "2026-11-22T10:00:00+08:00"
PG_URL = os.environ.get("TEST_DATABASE_URL")


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
    shutil.copytree(template_dir / "keys", tmp_path / "keys")
    shutil.copytree(template_dir / "sim" / "keys", tmp_path / "sim" / "keys")
    if PG_URL:
        _fresh_pg()
        url = PG_URL
    else:
        shutil.copy(template_dir / "app.sqlite3", tmp_path / "app.sqlite3")
        url = f"sqlite:///{tmp_path}/app.sqlite3"
    return create_app({
        "TESTING": True, "INSTANCE_PATH": str(tmp_path), "DATABASE_URL": url, "SECRET_KEY": "test",
        "APP_TODAY": TODAY, "SIM_CONTROLS": True, **overrides,
    })


@pytest.fixture
def app(tmp_path: Path, template_dir: Path) -> Iterator[Flask]:
    """The app in one process; providers notify only when a test says so."""
    app = make_test_app(tmp_path, template_dir, PUBLIC_BASE_URL="http://localhost", PAYMENT_TRANSPORT="wsgi",
                        SIM_NOTIFY_MODE="manual", SIM_RETRY_SCALE=0.0)
    yield app
    app.extensions["db_engine"].dispose()


@pytest.fixture
def db(app: Flask) -> Iterator[sa.orm.Session]:
    """A session outside any request, for arranging and asserting."""
    with app.extensions["db_sessionmaker"]() as s:
        yield s


@pytest.fixture
def seeded(app: Flask) -> Flask:
    """The demo people (SPEC §13)."""
    with app.extensions["db_sessionmaker"]() as s:
        demo.seed(s, app.extensions["clock"].today())
        s.commit()
    return app


class Browser:
    """A phone user: a test client that keeps the CSRF token of the last page it saw."""

    def __init__(self, client: FlaskClient, ua: str = "") -> None:
        self.client, self.ua, self.token = client, ua, ""

    def get(self, url: str, **kw: object):  # type: ignore[no-untyped-def]
        r = self.client.get(url, headers={"User-Agent": self.ua, **kw.pop("headers", {})}, **kw)  # type: ignore[arg-type]
        m = re.search(r'name="csrf_token" value="([^"]+)"', r.get_data(as_text=True))
        if m:
            self.token = m.group(1)
        return r

    def post(self, url: str, data: dict[str, object] | None = None, *, csrf: bool = True, **kw: object):  # type: ignore[no-untyped-def]
        if csrf and not self.token:
            self.get("/login")
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.token)
        return self.client.post(url, data=data, headers={"User-Agent": self.ua, **kw.pop("headers", {})}, **kw)  # type: ignore[arg-type]

    def follow(self, r):  # type: ignore[no-untyped-def]
        """Follow redirects within the app (the cashier's absolute URLs included)."""
        while r.status_code in (301, 302, 303):
            loc = r.location.replace("http://localhost", "")
            r = self.get(loc)
        return r

    def login(self, name: str, id_number: str, next_url: str = "/") -> None:
        """Log in with the face check."""
        self.get("/login")
        r = self.post("/login", {"name": name, "id_type": "resident_id", "id_number": id_number, "agree": "1",
                                 "next": next_url})
        assert r.status_code == 303, r.get_data(as_text=True)
        r = self.post("/login/face")
        assert r.status_code == 303, r.get_data(as_text=True)


@pytest.fixture
def browser(app: Flask) -> Browser:
    """An anonymous user in a plain browser (e-Tax web channel)."""
    return Browser(app.test_client())


@pytest.fixture
def wechat_user(seeded: Flask) -> Browser:
    """王建国 (rm-family) logged in inside WeChat."""
    b = Browser(seeded.test_client(), "Mozilla/5.0 (iPhone) MicroMessenger/8.0.50")
    b.get("/?ch=wechat")
    b.login("王建国", "110105198003120032")
    return b


def text(r) -> str:  # type: ignore[no-untyped-def]
    """A response's body as text."""
    return r.get_data(as_text=True)
