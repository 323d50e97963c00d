"""The public pages served from bytes (issue 21): ``/``, ``/login`` and ``/verify`` for an anonymous visitor, and
the liveness probe ``/healthz``, answered in front of Flask from what Flask rendered once per process.

Why not whole pages with an ETag: an anonymous page carries this visitor's form token, derived from the nonce of
their pre-session cookie (issue 17 D2, ``views._sessions``), and ``/verify`` a fresh captcha challenge. Two visitors
never get the same bytes, and a browser's own copy holds a token that ages (two hours), so a 304 could bring back a
page whose token no longer passes. So the page is cached *around* the token: Flask renders it once with random
placeholders where the token and the captcha nonce go, and each visitor gets those bytes with their own token (and a
new challenge) put in. The pre-session itself is handled exactly as ``views._sessions`` does (the same reader, the
same nonce, token and cookie), so a token is bound to its visitor's cookie as before. ``/healthz`` is the same for
everyone: its bytes go out with an ETag (a 304 for ``If-None-Match``), and its database check runs at most once a
second per process (HEALTHZ_CHECK_SECONDS).

A request takes the fast path only when nothing about it needs Flask: a GET without a server-side session cookie, a
short query without NUL, a page Flask answered 200 without ``no-store``. Anything else (a login, a flash, a long or
odd URL, a POST) goes to Flask as before. The template's key is everything the page is rendered from: the path and
query, the channel of the visit, the display-mode and 京通 phone cookies, the htmx headers and the app's date.
PUBLIC_PAGE_CACHE=0 turns it off.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from werkzeug.http import dump_cookie
from werkzeug.wrappers import Request

from .domain import captcha
from .domain.channels import visit_channel
from .views._sessions import _PRESESSION_RESIGN, LIGHT_KEYS, PRESESSION_COOKIE, PRESESSION_SECONDS, _read_presession

PAGES = ("/", "/login", "/verify")
HEALTHZ = "/healthz"
MAX_QUERY = 512
MAX_ENTRIES = 512  # templates kept per process (keys differ by query: bounded, least recently used goes)
ENTRY_SECONDS = 300  # a template is rendered again after this long (config or templates reloaded meanwhile)
#: The WSGI environ key that hands the token's placeholder to ``csrf_token()`` (``_csrf_without_session``).
PLACEHOLDER_KEY = "webapp.token_placeholder"
HTMX_HEADERS = ("HTTP_HX_REQUEST", "HTTP_HX_BOOSTED", "HTTP_HX_HISTORY_RESTORE_REQUEST", "HTTP_HX_TARGET")
KEYED_COOKIES = ("display_mode", "jt_phone")

StartResponse = Callable[..., Any]


class _Template:
    __slots__ = ("status", "headers", "body", "uses_token", "born")

    def __init__(self, status: str | None, headers: list[tuple[str, str]], body: bytes, uses_token: bool) -> None:
        self.status, self.headers, self.body, self.uses_token = status, headers, body, uses_token
        self.born = time.monotonic()


class PublicPages:
    """WSGI middleware in front of the app: the fast path for the public pages (see the module's doc)."""

    def __init__(self, app: Flask, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        self.app, self.wsgi_app = app, wsgi_app
        self.token_mark = "T" + secrets.token_hex(16)  # nothing typed can make these: random per process
        self.nonce_mark = "N" + secrets.token_hex(16)
        self.templates: OrderedDict[tuple[Any, ...], _Template] = OrderedDict()
        self.lock = threading.Lock()
        self.health: tuple[str, list[tuple[str, str]], bytes, str] | None = None
        self.health_checked = -1e9
        self.health_seconds = float(app.config.get("HEALTHZ_CHECK_SECONDS", 1.0))
        si = app.session_interface
        self.session_cookie = si.get_cookie_name(app)
        self.cookie_options: dict[str, Any] = {
            "domain": si.get_cookie_domain(app),
            "path": si.get_cookie_path(app),
            "secure": si.get_cookie_secure(app),
            "samesite": si.get_cookie_samesite(app),
            "httponly": si.get_cookie_httponly(app),
        }
        from itsdangerous import URLSafeTimedSerializer

        from .views._sessions import _presession_serializer, presession_csrf

        self.pre_serializer = _presession_serializer(app)
        secret = app.config.get("WTF_CSRF_SECRET_KEY") or app.secret_key or b""
        self.token_serializer = URLSafeTimedSerializer(secret, salt="wtf-csrf-token")  # Flask-WTF's own signing
        self.presession_csrf = presession_csrf
        self.clock = app.extensions["clock"]

    # ------------------------------------------------------------------------------------------ entry

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "GET":
            path = environ.get("PATH_INFO", "")
            if path == HEALTHZ:
                return self.healthz(environ, start_response)
            if path in PAGES:
                answer = self.page(environ, start_response)
                if answer is not None:
                    return answer
        return self.wsgi_app(environ, start_response)

    # ------------------------------------------------------------------------------------------ /healthz

    def healthz(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """The liveness probe's bytes, while the database answered within the last HEALTHZ_CHECK_SECONDS."""
        now = time.monotonic()
        if self.health is None or now - self.health_checked >= self.health_seconds:
            if self.health is not None and not self._database_answers():
                self.health = None  # Flask answers (and says what is wrong) until the database does again
            if self.health is None:
                status, headers, body = self._through_flask(environ)
                if status.startswith("200"):
                    tag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
                    kept = [(k, v) for k, v in headers if k.lower() not in ("content-length", "etag", "set-cookie")]
                    self.health = (status, kept, body, tag)
                    self.health_checked = time.monotonic()
                start_response(status, headers)
                return [body]
            self.health_checked = now
        status, headers, body, tag = self.health
        if environ.get("HTTP_IF_NONE_MATCH") == tag:
            start_response("304 Not Modified", [*headers, ("ETag", tag)])
            return []
        start_response(status, [*headers, ("ETag", tag), ("Content-Length", str(len(body)))])
        return [body]

    def _database_answers(self) -> bool:
        try:
            with self.app.extensions["db_reader_engine"].connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except Exception:  # noqa: BLE001 - any failure: Flask's own /healthz answers
            return False
        return True

    # ------------------------------------------------------------------------------------------ pages

    def page(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes] | None:
        """The page for an anonymous visitor from its template, or None when Flask must answer."""
        query = environ.get("QUERY_STRING", "")
        if len(query) > MAX_QUERY or "%00" in query or "\x00" in query:
            return None
        request = Request(environ)
        cookies = request.cookies
        if self.session_cookie in cookies:
            return None  # a server-side session (or the cookie of one that ended): Flask
        # The pre-session, as ``ServerSessionInterface.open_session`` reads it.
        pre, age = _read_presession(self.app, request)  # type: ignore[arg-type]  # a werkzeug Request: all it reads are the cookies
        light = {k: pre[k] for k in LIGHT_KEYS if k in pre}
        pre = dict(pre)
        resign = bool(pre) and age > _PRESESSION_RESIGN
        # The channel of the visit, as ``create_app``'s ``_remember_channel`` sets it.
        args = request.args
        ch = visit_channel(args.get("ch"), environ.get("HTTP_USER_AGENT"), light.get("channel"))
        if ch and light.get("channel") != ch:
            light["channel"] = ch
        channel = light.get("channel") or "etax-web"
        challenge = None
        if environ["PATH_INFO"] == "/verify":  # ``views.verify._new_challenge``: a new one on every page
            kind = args.get("captcha", "image")
            challenge = {
                "n": captcha.new_nonce(),
                "kind": kind if kind in captcha.KINDS else "image",
                "t": int(time.time()),
            }
            light["captcha"] = challenge
        key = (
            environ["PATH_INFO"],
            query,
            channel,
            challenge["kind"] if challenge else None,
            *(cookies.get(c) for c in KEYED_COOKIES),
            *(environ.get(h) for h in HTMX_HEADERS),
            self.clock.today(),
        )
        template = self.templates.get(key)
        if template is None or time.monotonic() - template.born > ENTRY_SECONDS:
            template = self._render(environ, key)
        if template is None or template.status is None:
            return None  # Flask answers (a page that may not be reused: each time)
        body = template.body
        headers = list(template.headers)
        if template.uses_token:
            if "n" not in pre:
                pre["n"], resign = secrets.token_urlsafe(18), True
            token = self.token_serializer.dumps(self.presession_csrf(self.app, pre["n"]))
            body = body.replace(self.token_mark.encode(), token.encode())
        if challenge is not None:
            body = body.replace(self.nonce_mark.encode(), str(challenge["n"]).encode())
        # The cookie, as ``views._sessions._write_presession`` sends it.
        before = {k: v for k, v in pre.items() if k != "n"}
        if light != before:
            pre = {**({"n": pre["n"]} if "n" in pre else {}), **light}
            resign = True
        if resign and (light or "n" in pre):
            pre.setdefault("n", secrets.token_urlsafe(18))
            value = self.pre_serializer.dumps(pre)
            headers.append(
                ("Set-Cookie", dump_cookie(PRESESSION_COOKIE, value, max_age=PRESESSION_SECONDS, **self.cookie_options))
            )
        headers.append(("Content-Length", str(len(body))))
        start_response(template.status, headers)
        return [body]

    def _render(self, environ: dict[str, Any], key: tuple[Any, ...]) -> _Template | None:
        """Let Flask render the page with placeholders; its template, or one that says Flask must answer this key
        (with the visitor's own token: a GET of these pages writes nothing but its answer, so it may run twice)."""
        inner = dict(environ)
        inner[PLACEHOLDER_KEY] = self.token_mark
        status, headers, body = self._through_flask(inner)
        template = self._template(status, headers, body, key)
        with self.lock:
            self.templates[key] = template or _Template(None, [], b"", False)
            self.templates.move_to_end(key)
            while len(self.templates) > MAX_ENTRIES:
                self.templates.popitem(last=False)
        return template

    def _template(
        self, status: str, headers: list[tuple[str, str]], body: bytes, key: tuple[Any, ...]
    ) -> _Template | None:
        if not status.startswith("200"):
            return None
        kept: list[tuple[str, str]] = []
        nonce = None
        for name, value in headers:
            low = name.lower()
            if low == "set-cookie":
                if not value.startswith(PRESESSION_COOKIE + "="):
                    return None  # anything but the pre-session: not an anonymous page
                nonce = self._captcha_nonce(value)
                continue
            if low == "cache-control" and "no-store" in value:
                return None
            if low != "content-length":
                kept.append((name, value))
        if key[0] == "/verify":
            if not nonce or nonce.encode() not in body:
                return None
            body = body.replace(nonce.encode(), self.nonce_mark.encode())
        return _Template(status, kept, body, self.token_mark.encode() in body)

    def _captcha_nonce(self, set_cookie: str) -> str | None:
        value = set_cookie.split(";", 1)[0].split("=", 1)[1].strip('"')
        try:
            data = self.pre_serializer.loads(value)
        except Exception:  # noqa: BLE001 - not ours to read: no template
            return None
        challenge = data.get("captcha") if isinstance(data, dict) else None
        return challenge.get("n") if isinstance(challenge, dict) and isinstance(challenge.get("n"), str) else None

    def _through_flask(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        """The app's own answer, collected."""
        got: dict[str, Any] = {}

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            got["status"], got["headers"] = status, headers
            return lambda _data: None

        chunks = self.wsgi_app(environ, start)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return got["status"], list(got["headers"]), body


def init_app(app: Flask) -> None:
    """Put the fast path in front of the app (PUBLIC_PAGE_CACHE, on unless 0)."""
    if str(app.config.get("PUBLIC_PAGE_CACHE", "1")) in ("0", "False", "false"):
        return
    app.wsgi_app = PublicPages(app, app.wsgi_app)  # type: ignore[method-assign]  # Flask's documented way to wrap its WSGI app
