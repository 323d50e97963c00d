"""社保缴费: the app factory."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Flask, g, request, session
from flask_wtf.csrf import CSRFProtect
from jinja2 import StrictUndefined

from .config import ROOT, load_config, make_instance_dir
from .db import make_engine, make_sessionmaker, reader_engine
from .payments.transport import RequestsTransport, Transport, WsgiTransport

csrf = CSRFProtect()


def create_app(test_config: dict[str, object] | None = None) -> Flask:
    """Create and configure the app; ``test_config`` overrides the environment."""
    cfg = load_config(overrides=test_config)
    app = Flask(
        __name__,
        instance_path=str(cfg["INSTANCE_PATH"]),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    make_instance_dir(app.instance_path)
    app.config.from_mapping(cfg)
    app.jinja_env.undefined = StrictUndefined
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    engine = make_engine(
        str(app.config["DATABASE_URL"]),
        pool_size=int(app.config["DB_POOL_SIZE"]),
        max_overflow=int(app.config["DB_MAX_OVERFLOW"]),
    )
    app.extensions["db_engine"] = engine
    app.extensions["db_sessionmaker"] = make_sessionmaker(engine)
    app.extensions["db_reader_engine"] = readers = reader_engine(engine, strict=bool(app.config.get("TESTING")))
    app.extensions["db_readers"] = make_sessionmaker(readers)
    app.extensions["clock"] = app.config["CLOCK"]

    csrf.init_app(app)
    _csrf_without_session(app)
    from .views._web import htmx

    htmx.init_app(app)  # htmx in templates; views read the request's headers through it

    from .payments import build_adapters
    from .payments.crypto import ensure_keys

    ensure_keys(app.instance_path)
    transport: Transport = WsgiTransport() if app.config["PAYMENT_TRANSPORT"] == "wsgi" else RequestsTransport()
    app.extensions["payment_transport"] = transport
    app.extensions["payment_adapters"] = build_adapters(app.config, transport, app.extensions["clock"].now)

    _certificates(app)

    from . import cli, views

    views.init_app(app)
    from . import static_files

    static_files.init_app(app, app.extensions["security_headers"])
    csrf.exempt(views.pay.notify)  # the providers post without our CSRF token; their signature is checked
    cli.init_app(app)
    from . import health

    health.init_app(app)

    @app.before_request
    def _remember_channel() -> None:
        from .domain.channels import visit_channel

        ch = visit_channel(request.args.get("ch"), request.headers.get("User-Agent"), session.get("channel"))
        if ch and session.get("channel") != ch:
            session["channel"] = ch
        g.channel = session.get("channel") or "etax-web"

    if int(app.config["TRUSTED_PROXIES"]) > 0:  # behind nginx (make run-scale): the client is who nginx says
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]  # Flask's documented way to wrap its WSGI app
    from . import public_pages

    public_pages.init_app(app)  # in front of everything: the anonymous public pages from bytes (issue 21)
    return app


def _csrf_without_session(app: Flask) -> None:
    """Form tokens and where a form may come from (issue 17, D2).

    - Every state-changing request but the providers' notifications must come from this site: its Origin
      (or, without one, its Referer) must be PUBLIC_BASE_URL's origin — or, when PUBLIC_BASE_URL is not set,
      the address the request was sent to. A client that sends neither is judged by its form token alone.
    - Anonymous visitors have no server-side session: a page rendered for one carries a token derived from
      the visitor's pre-session nonce (``views._sessions``), signed as Flask-WTF signs its own. When that
      visitor POSTs, a token that is theirs becomes the request's CSRF value just before Flask-WTF checks
      it, so the check is the usual one; a token minted for another browser, or a POST without the
      pre-session cookie, is refused (400) and nothing is written anywhere.
    - Anyone with a server-side session gets and must send the token bound to it.
    - A new server-side session (a login form accepted) counts against RATELIMIT_NEW_SESSION per address.
    """
    import hmac

    from flask_wtf.csrf import generate_csrf
    from itsdangerous import BadData, URLSafeTimedSerializer

    from .public_pages import PLACEHOLDER_KEY
    from .views._attempts import Refused, per_address, reserve, too_many
    from .views._sessions import CSRF_FIELD, LIGHT_KEYS, PRESESSION_SECONDS, presession_csrf
    from .views._web import error_page

    safe = ("GET", "HEAD", "OPTIONS", "TRACE")

    def serializer() -> URLSafeTimedSerializer:
        secret: str | bytes = app.config.get("WTF_CSRF_SECRET_KEY") or app.secret_key or ""
        return URLSafeTimedSerializer(secret, salt="wtf-csrf-token")  # Flask-WTF's own signing

    def form_token() -> str:
        """``csrf_token()`` in templates."""
        if getattr(session, "stateless", False) or getattr(session, "server_side", True):
            return generate_csrf()
        placeholder = request.environ.get(PLACEHOLDER_KEY)
        if placeholder:  # ``public_pages`` renders the page once, this visitor's token put in per request
            return str(placeholder)
        if "presession_form_token" not in g:
            g.presession_form_token = serializer().dumps(presession_csrf(app, session.pre_nonce()))  # type: ignore[attr-defined]  # our ServerSession (views._sessions), typed by Flask as SessionMixin
        return str(g.presession_form_token)

    def from_this_site() -> Any:
        if request.method in safe or getattr(session, "stateless", False):
            return None
        sent = request.headers.get("Origin") or request.headers.get("Referer")
        if sent is None:
            return None
        allowed = {_origin(str(app.config["PUBLIC_BASE_URL"]))}
        if not app.config.get("PUBLIC_BASE_URL_SET"):
            allowed.add(_origin(request.host_url))
        if _origin(sent) in allowed - {None}:
            return None
        return error_page(403, "请求来源无效", "该请求不是从本网站的页面发出的，已拒绝。请打开本网站重新操作。")

    def adopt() -> None:
        if (
            request.method in safe
            or getattr(session, "stateless", False)
            or getattr(session, "server_side", True)
            or CSRF_FIELD in session
        ):
            return
        nonce = session.pre.get("n")  # type: ignore[attr-defined]  # our ServerSession (views._sessions), typed by Flask as SessionMixin
        if not nonce:
            return  # no pre-session cookie: nothing to check a token against; Flask-WTF refuses
        sent = request.form.get(CSRF_FIELD) or request.headers.get("X-CSRFToken") or ""
        try:
            raw = serializer().loads(sent, max_age=PRESESSION_SECONDS)
        except BadData:
            return
        if isinstance(raw, str) and hmac.compare_digest(raw, presession_csrf(app, nonce)):
            session[CSRF_FIELD] = raw

    def limit_new_sessions(response: Any) -> Any:
        """A server-side session about to start for a request that came without one counts per address."""
        s = session
        if (
            getattr(s, "stateless", True)
            or getattr(s, "opened_with_token", True)
            or not getattr(s, "server_side", False)
        ):
            return response
        refused = reserve((per_address("session"), "RATELIMIT_NEW_SESSION"))
        if isinstance(refused, Refused):
            kept = {k: s[k] for k in LIGHT_KEYS if k in s}
            s.clear()  # nothing is stored
            s.update(kept)
            return app.make_response(too_many(refused))
        return response

    app.jinja_env.globals["csrf_token"] = form_token
    app.context_processor(lambda: {"csrf_token": form_token})  # after (so over) Flask-WTF's own
    app.before_request_funcs.setdefault(None, []).insert(0, adopt)
    app.before_request_funcs[None].insert(0, from_this_site)
    app.after_request(limit_new_sessions)


def _origin(url: str) -> str | None:
    """``scheme://host:port`` of a URL (default ports spelled out), or None for anything else (``null``)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.hostname}:{port or (443 if parts.scheme == 'https' else 80)}"


def _certificates(app: Flask) -> None:
    """How a requested certificate gets made (CERTIFICATE_MAKING): a huey task (``queue``), right after the
    request commits (``inline``, tests), or by the periodic job (``later``)."""
    from .services.certificates import MakeSettings, make_now

    settings = MakeSettings(
        base_url=str(app.config["PUBLIC_BASE_URL"]),
        secret=str(app.config["SECRET_KEY"]),
        font_path=str(app.config["CJK_FONT_PATH"]),
    )
    mode = app.config["CERTIFICATE_MAKING"]

    def submit(certificate_id: int) -> None:
        try:
            if mode == "inline":
                make_now(app.extensions["db_sessionmaker"], certificate_id, settings, app.extensions["clock"].now())
            elif mode == "queue":
                from .jobs import make_certificate_task  # the queue is only opened where it is used

                make_certificate_task(certificate_id)
        except Exception:  # the request is committed: the periodic job makes what stays 制作中
            app.logger.exception("certificate %s: making not started", certificate_id)

    app.extensions["certificate_settings"] = settings
    app.extensions["certificate_maker"] = submit
