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

Anonymous visitors have no server-side session at all, only a **pre-session** (issue 17, D2): a cookie
(``presession``) signed with the app's secret and carrying a random nonce, plus the little an anonymous
visit keeps (the channel of the code scanned, a 记录查验 captcha challenge). The form token of an anonymous
page is derived from that nonce (``presession_csrf``), so it is this visitor's and no one else's: a token
copied from another browser fails against this browser's nonce, and a browser without the cookie (a
cross-site form: the cookie is SameSite=Lax) has nothing to check a token against. Reading or minting a
pre-session writes nothing on the server, so an anonymous GET stays a pure function of the request: a page
could be rendered once and served as bytes with only the token substituted. The pre-session lives two hours
from the visitor's last request (the cookie is signed again when it is over ten minutes old). A server-side
session starts only when a view stores something that may not travel in a cookie (a pending login); that
is a step that raises trust, so it gets a fresh id and token and the pre-session cookie is dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from flask import Flask, Request, Response, current_app
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SecureCookieSession, SessionInterface
from itsdangerous import BadData, URLSafeTimedSerializer

from ..models import WebSession

if TYPE_CHECKING:
    import redis

ANONYMOUS_LIFETIME = timedelta(hours=2)  # a session nobody logged in with (CSRF token, channel, pending login)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
_SERIALIZER = TaggedJSONSerializer()
_STATELESS_PREFIXES = ("/static/", "/pay/notify/", "/healthz", "/readyz")
PRESESSION_COOKIE = "presession"
PRESESSION_SECONDS = 2 * 3600  # from the visitor's last request
_PRESESSION_RESIGN = 600
#: What an anonymous visit may keep in its pre-session cookie; anything else in the session (a pending login,
#: a flash) makes it a server-side session. The CSRF value is not kept: it is derived from the nonce.
LIGHT_KEYS = ("channel", "captcha")
CSRF_FIELD = "csrf_token"


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
        self.opened_with_token = token is not None  # a live server-side session came with the request
        self.pre: dict[str, Any] = {}  # the pre-session: "n" (its nonce) and the LIGHT_KEYS it keeps
        self.pre_sent = False  # the request carried a valid pre-session cookie
        self.pre_resign = False  # send the pre-session cookie with this answer (new, changed or old)

    def regenerate(self) -> None:
        """A new token at the end of this request; the current one stops working (login, logout)."""
        if self.token:
            self.ended.append(self.token)
        self.token = None
        self.pre.pop("n", None)  # nor does a pre-session nonce (planted or not) outlive a step up in trust
        self.modified = True

    def pre_nonce(self) -> str:
        """This visitor's pre-session nonce; minted (and its cookie sent with this answer) on first need."""
        if "n" not in self.pre:
            self.pre["n"] = secrets.token_urlsafe(18)
            self.pre_resign = True
        return str(self.pre["n"])

    @property
    def server_side(self) -> bool:
        """Whether this session is, or is about to be, kept on the server (it holds more than LIGHT_KEYS)."""
        return self.token is not None or any(k not in LIGHT_KEYS and k != CSRF_FIELD for k in self)


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
        self, key: str, data: str, person_id: int | None, expires_at: datetime, now: datetime, **flags: Any
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
        """Load the session the cookie names, or start an empty one on the visitor's pre-session."""
        if request.path.startswith(_STATELESS_PREFIXES):
            return ServerSession(stateless=True)
        token = request.cookies.get(self.get_cookie_name(app), "")
        if _TOKEN.fullmatch(token):
            raw = self.store.load(_key(token), self.now())
            if raw is not None:
                return ServerSession(_SERIALIZER.loads(raw), token)
        pre, age = _read_presession(app, request)
        session = ServerSession({k: pre[k] for k in LIGHT_KEYS if k in pre}, lost=bool(token))
        if pre:
            session.pre, session.pre_sent, session.pre_resign = pre, True, age > _PRESESSION_RESIGN
        return session

    def save_session(self, app: Flask, session: ServerSession, response: Response) -> None:  # type: ignore[override]  # Flask types the session as SessionMixin; ours is always a ServerSession
        """Write the session if it changed, end the tokens it replaced, and set or clear the cookies."""
        if session.stateless:
            return
        for token in session.ended:
            self.store.delete(_key(token))
        session.ended.clear()
        if session.accessed:
            response.vary.add("Cookie")
        cookie: dict[str, Any] = {
            "domain": self.get_cookie_domain(app),
            "path": self.get_cookie_path(app),
            "secure": self.get_cookie_secure(app),
            "samesite": self.get_cookie_samesite(app),
            "httponly": self.get_cookie_httponly(app),
        }
        name = self.get_cookie_name(app)
        if session.token and not session:  # emptied: the session ends (its cookie goes below)
            self.store.delete(_key(session.token))
            session.token = None
        if not session.server_side:
            if session.lost or session.opened_with_token:
                response.delete_cookie(name, **cookie)  # an ended session's cookie, or one that just ended
            _write_presession(app, session, response, cookie)
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
            if session.pre_sent:  # the server-side session replaces the pre-session (see the module's doc)
                response.delete_cookie(PRESESSION_COOKIE, **cookie)
        max_age = math.ceil((login_until - now).total_seconds()) if login_until else None
        response.set_cookie(name, session.token, max_age=max_age, **cookie)


def _presession_serializer(app: Flask) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(app.secret_key or "", salt="pre-session")


def _read_presession(app: Flask, request: Request) -> tuple[dict[str, Any], float]:
    """The pre-session the request's cookie carries (empty if none, forged or over two hours idle), and
    how many seconds ago the cookie was signed."""
    value = request.cookies.get(PRESESSION_COOKIE)
    if not value or len(value) > 2048:
        return {}, 0.0
    try:
        data, signed = _presession_serializer(app).loads(value, max_age=PRESESSION_SECONDS, return_timestamp=True)
    except BadData:
        return {}, 0.0
    if not isinstance(data, dict) or not isinstance(data.get("n"), str):
        return {}, 0.0
    return {k: v for k, v in data.items() if k == "n" or k in LIGHT_KEYS}, time.time() - signed.timestamp()


def _write_presession(app: Flask, session: ServerSession, response: Response, cookie: dict[str, Any]) -> None:
    """Send the pre-session cookie when it is new, its content changed, or it was signed long ago."""
    kept = {k: session[k] for k in LIGHT_KEYS if k in session}
    before = {k: v for k, v in session.pre.items() if k != "n"}
    if kept != before:
        session.pre = {**({"n": session.pre["n"]} if "n" in session.pre else {}), **kept}
        session.pre_resign = True
    if not session.pre_resign or not (kept or "n" in session.pre):
        return
    session.pre_nonce()
    value = _presession_serializer(app).dumps(session.pre)
    response.set_cookie(PRESESSION_COOKIE, value, max_age=PRESESSION_SECONDS, **cookie)
    response.vary.add("Cookie")


def presession_csrf(app: Flask, nonce: str) -> str:
    """The CSRF value of a pre-session: derived from its nonce with the app's secret, so it is stored nowhere
    and only the browser holding the nonce's cookie can have a form token for it."""
    secret = str(app.config.get("WTF_CSRF_SECRET_KEY") or app.secret_key).encode()
    return hmac.new(secret, f"pre-session csrf:{nonce}".encode(), hashlib.sha256).hexdigest()[:40]


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
