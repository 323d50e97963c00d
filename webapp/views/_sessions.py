"""Server-side sessions (R-ID-5): the cookie carries a random token and nothing else; what the session
holds (who is logged in and until when, a pending login's name and ID number, the 他人 being paid for,
the CSRF token, flashes) lives on the server, in Redis when REDIS_URL is set, in the database otherwise.

Why server-side rather than a per-person generation in a signed cookie: a pending login holds a name and
an ID number, which must not travel in a cookie, even signed; logging out must end *this* session without
ending the person's others (a generation ends them all); and "log out everywhere" is then just deleting
the person's rows. The price is one primary-key read per request, which a Redis GET or an indexed row
makes small.

- The store keys a session by the SHA-256 of its token, so a copy of the table or of Redis gives no cookie.
- Logging in and logging out issue a new token and delete the old session: a cookie copied before is
  worth nothing after (no fixation either).
- A login lasts 2 hours, or 7 days with 7天免登录, from the moment of login: the session ends on the
  server then, and the cookie's Max-Age is what is left of the stay. Stays run on the wall clock, not on
  the app's business clock (APP_TODAY, which tests move by days); tests move ``interface.now`` instead.
- A save never recreates a session deleted meanwhile (log out everywhere while another tab is busy).
- Static files, provider notifications and the health check neither read nor write a session.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from flask import Flask, Request, Response, current_app
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SecureCookieSession, SessionInterface

from ..models import WebSession

if TYPE_CHECKING:
    import redis

ANONYMOUS_LIFETIME = timedelta(hours=2)  # a session nobody logged in with (CSRF token, channel, pending login)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
_SERIALIZER = TaggedJSONSerializer()
_STATELESS_PREFIXES = ("/static/", "/pay/notify/", "/healthz", "/readyz")


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ServerSession(SecureCookieSession):
    """The session dict and the token it is stored under (None until first saved)."""

    def __init__(
        self, initial: Any = None, token: str | None = None, *, lost: bool = False, stateless: bool = False
    ) -> None:
        super().__init__(initial)
        self.token = token
        self.lost = lost  # a cookie came whose session has ended (logged out, expired) or never existed
        self.stateless = stateless  # this request neither reads nor writes a session
        self.ended: list[str] = []

    def regenerate(self) -> None:
        """A new token at the end of this request; the current one stops working (login, logout)."""
        if self.token:
            self.ended.append(self.token)
        self.token = None
        self.modified = True


class SessionStore(Protocol):
    """Where sessions live: each is serialised data, an expiry, and whose login it is (if anyone's)."""

    def load(self, key: str, now: datetime) -> str | None:
        """The session's data, unless it is missing or expired."""

    def insert(self, key: str, data: str, person_id: int | None, expires_at: datetime, now: datetime) -> None:
        """Store a new session."""

    def update(self, key: str, data: str, person_id: int | None, expires_at: datetime, now: datetime) -> bool:
        """Rewrite an existing session; False (and nothing written) if it no longer exists."""

    def delete(self, key: str) -> None:
        """End one session."""

    def delete_person(self, person_id: int) -> int:
        """End every session of one person (log out everywhere); how many ended."""

    def purge(self, now: datetime) -> int:
        """Drop expired sessions (the database store; Redis expires keys itself)."""


class DatabaseStore:
    """Sessions as ``web_session`` rows, each read and write in a short transaction of its own."""

    def __init__(self, engine: sa.Engine, reader: sa.Engine | None = None) -> None:
        self.engine = engine
        self.reader = reader or engine  # ``db.reader_engine``: a load waits for no writer (SQLite: deferred BEGIN)
        self.table = t = WebSession.__table__
        self._load = sa.select(t.c.data, t.c.expires_at).where(t.c.key == sa.bindparam("key"))  # built once

    def load(self, key: str, now: datetime) -> str | None:
        """The session's data, unless it is missing or expired."""
        with self.reader.connect() as conn:
            row = conn.execute(self._load, {"key": key}).first()
        if row is not None and row.expires_at <= now:
            self.delete(key)  # ended: it stays ended (the purge job clears the ones nobody comes back with)
        return row.data if row is not None and row.expires_at > now else None

    def insert(self, key: str, data: str, person_id: int | None, expires_at: datetime, now: datetime) -> None:
        """Store a new session."""
        with self.engine.begin() as conn:
            conn.execute(
                self.table.insert().values(
                    key=key, data=data, person_id=person_id, expires_at=expires_at, created_at=now
                )
            )

    def update(self, key: str, data: str, person_id: int | None, expires_at: datetime, now: datetime) -> bool:
        """Rewrite an existing, unexpired session; False if it is gone."""
        t = self.table
        with self.engine.begin() as conn:
            done = conn.execute(
                t.update()
                .where(t.c.key == key, t.c.expires_at > now)
                .values(data=data, person_id=person_id, expires_at=expires_at)
            )
        return done.rowcount == 1

    def delete(self, key: str) -> None:
        """End one session."""
        with self.engine.begin() as conn:
            conn.execute(self.table.delete().where(self.table.c.key == key))

    def delete_person(self, person_id: int) -> int:
        """End every session of one person."""
        with self.engine.begin() as conn:
            return conn.execute(self.table.delete().where(self.table.c.person_id == person_id)).rowcount

    def purge(self, now: datetime) -> int:
        """Drop expired sessions."""
        with self.engine.begin() as conn:
            return conn.execute(self.table.delete().where(self.table.c.expires_at <= now)).rowcount


class RedisStore:
    """Sessions as Redis keys that expire with the session, and a set of each person's session keys."""

    PERSON_SET_SECONDS = 8 * 24 * 3600

    def __init__(self, client: redis.Redis, prefix: str = "sess:") -> None:
        self.client, self.prefix = client, prefix

    def _ttl(self, expires_at: datetime, now: datetime) -> int:
        return max(1, math.ceil((expires_at - now).total_seconds()))

    def _person_key(self, person_id: int) -> str:
        return f"{self.prefix}person:{person_id}"

    def load(self, key: str, now: datetime) -> str | None:
        """The session's data, unless it is missing or expired."""
        raw = self.client.get(self.prefix + key)
        if raw is None:
            return None
        doc = json.loads(raw)
        if datetime.fromisoformat(doc["expires_at"]) <= now:
            self.delete(key)
            return None
        return doc["data"]

    def _write(
        self, key: str, data: str, person_id: int | None, expires_at: datetime, now: datetime, **flags: bool
    ) -> bool:
        payload = json.dumps({"data": data, "expires_at": expires_at.isoformat()})
        ttl = self._ttl(expires_at, now)
        if not self.client.set(self.prefix + key, payload, ex=ttl, **flags):
            return False
        if person_id is not None:  # the set outlives the longest stay; stale members are harmless
            pipe = self.client.pipeline()
            pipe.sadd(self._person_key(person_id), key)
            pipe.expire(self._person_key(person_id), self.PERSON_SET_SECONDS)
            pipe.execute()
        return True

    def insert(self, key: str, data: str, person_id: int | None, expires_at: datetime, now: datetime) -> None:
        """Store a new session."""
        self._write(key, data, person_id, expires_at, now, nx=True)

    def update(self, key: str, data: str, person_id: int | None, expires_at: datetime, now: datetime) -> bool:
        """Rewrite an existing session (SET … XX); False if it is gone."""
        return self._write(key, data, person_id, expires_at, now, xx=True)

    def delete(self, key: str) -> None:
        """End one session."""
        self.client.delete(self.prefix + key)

    def delete_person(self, person_id: int) -> int:
        """End every session of one person."""
        keys = [k.decode() if isinstance(k, bytes) else k for k in self.client.smembers(self._person_key(person_id))]
        ended = self.client.delete(*(self.prefix + k for k in keys)) if keys else 0
        self.client.delete(self._person_key(person_id))
        return int(ended)

    def purge(self, now: datetime) -> int:
        """Nothing to do: Redis expires the keys."""
        return 0


class ServerSessionInterface(SessionInterface):
    """Flask's session, kept in a ``SessionStore``; the cookie is the token."""

    session_class = ServerSession

    def __init__(self, store: SessionStore, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store, self.now = store, now

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        """Load the session the cookie names, or start an empty one."""
        if request.path.startswith(_STATELESS_PREFIXES):
            return ServerSession(stateless=True)
        token = request.cookies.get(self.get_cookie_name(app), "")
        if not _TOKEN.fullmatch(token):
            return ServerSession(lost=bool(token))
        raw = self.store.load(_key(token), self.now())
        if raw is None:
            return ServerSession(lost=True)
        return ServerSession(_SERIALIZER.loads(raw), token)

    def save_session(self, app: Flask, session: ServerSession, response: Response) -> None:  # type: ignore[override]
        """Write the session if it changed, end the tokens it replaced, and set or clear the cookie."""
        if session.stateless:
            return
        for token in session.ended:
            self.store.delete(_key(token))
        session.ended.clear()
        if session.accessed:
            response.vary.add("Cookie")
        cookie = {
            "domain": self.get_cookie_domain(app),
            "path": self.get_cookie_path(app),
            "secure": self.get_cookie_secure(app),
            "samesite": self.get_cookie_samesite(app),
            "httponly": self.get_cookie_httponly(app),
        }
        name = self.get_cookie_name(app)
        if not session:
            if session.token:
                self.store.delete(_key(session.token))
                session.token = None
            if session.modified or session.lost:
                response.delete_cookie(name, **cookie)
            return
        if session.token and not session.modified:
            return
        now = self.now()
        login_until = _login_until(session, now)
        expires_at = login_until or now + ANONYMOUS_LIFETIME
        person_id = int(session["person_id"]) if login_until else None
        data = _SERIALIZER.dumps(dict(session))
        if session.token:
            if not self.store.update(_key(session.token), data, person_id, expires_at, now):
                session.token = None  # ended meanwhile (log out everywhere): never bring it back
                response.delete_cookie(name, **cookie)
                return
        else:
            session.token = secrets.token_urlsafe(32)
            self.store.insert(_key(session.token), data, person_id, expires_at, now)
        max_age = math.ceil((login_until - now).total_seconds()) if login_until else None
        response.set_cookie(name, session.token, max_age=max_age, **cookie)


def _login_until(session: ServerSession, now: datetime) -> datetime | None:
    """When the session's login ends, if it holds one that has not ended yet."""
    text = session.get("login_expires")
    if not session.get("person_id") or not isinstance(text, str):
        return None
    try:
        until = datetime.fromisoformat(text)
    except ValueError:
        return None
    return until if until.tzinfo is not None and until > now else None


def init_app(app: Flask) -> None:
    """Keep this app's sessions in Redis (REDIS_URL) or in the database."""
    url = app.config.get("REDIS_URL")
    store: SessionStore
    if url:
        import redis  # only where sessions live in Redis (0.2 s of a worker's boot otherwise)

        store = RedisStore(redis.Redis.from_url(str(url)), str(app.config.get("SESSION_REDIS_PREFIX") or "sess:"))
    else:
        store = DatabaseStore(app.extensions["db_engine"], app.extensions.get("db_reader_engine"))
    app.session_interface = ServerSessionInterface(store)


def session_now() -> datetime:
    """The time stays are measured in (the wall clock; a test may move it)."""
    interface = current_app.session_interface
    return interface.now() if isinstance(interface, ServerSessionInterface) else datetime.now(UTC)


def end_every_session_of(app: Flask, person_id: int) -> int:
    """Log a person out everywhere: every session that holds their login ends now."""
    interface = app.session_interface
    assert isinstance(interface, ServerSessionInterface)
    return interface.store.delete_person(person_id)
