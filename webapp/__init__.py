"""社保缴费: the app factory."""

from __future__ import annotations

import secrets
import time

from flask import Flask, g, request, session
from flask_htmx import HTMX
from flask_wtf.csrf import CSRFProtect
from jinja2 import StrictUndefined

from .config import ROOT, load_config, make_instance_dir
from .db import make_engine, make_sessionmaker, reader_engine
from .payments.transport import RequestsTransport, Transport, WsgiTransport

csrf = CSRFProtect()
htmx = HTMX()


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
    htmx.init_app(app)

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
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    return app


def _csrf_without_session(app: Flask) -> None:
    """Anonymous GETs create no session (no store write, no Set-Cookie): a page rendered for someone with no
    session carries a form token that is signed as Flask-WTF signs its own but stored nowhere. When that
    visitor POSTs (still without a session), the token's signed value becomes the new session's CSRF value
    just before Flask-WTF checks it, so the check is the usual one. Anyone with a session, even an ended
    one, gets and must send the token bound to it."""
    from flask_wtf.csrf import generate_csrf
    from itsdangerous import BadData, URLSafeTimedSerializer

    field = "csrf_token"
    shared: list = [-1e9, ""]  # when the current anonymous token was signed, and the token

    def serializer() -> URLSafeTimedSerializer:
        secret = app.config.get("WTF_CSRF_SECRET_KEY") or app.secret_key
        return URLSafeTimedSerializer(secret, salt="wtf-csrf-token")  # Flask-WTF's own signing

    def form_token() -> str:
        """``csrf_token()`` in templates."""
        if getattr(session, "token", None) or session.modified or session or getattr(session, "lost", False):
            return generate_csrf()
        # Stored nowhere and bound to nobody, so one per process a minute serves every visitor as well as one
        # each would (signing is most of a small page's cost).
        minted, token = shared
        if time.monotonic() - minted > 60:
            token = serializer().dumps(secrets.token_hex(20))
            shared[:] = [time.monotonic(), token]
        return token

    def adopt() -> None:
        if (
            request.method in ("GET", "HEAD", "OPTIONS", "TRACE")
            or getattr(session, "token", None)
            or getattr(session, "lost", False)
            or getattr(session, "stateless", False)
            or field in session
        ):
            return
        sent = request.form.get(field) or request.headers.get("X-CSRFToken") or ""
        try:
            raw = serializer().loads(sent, max_age=int(ANONYMOUS_FORM_SECONDS))
        except BadData:
            return  # Flask-WTF refuses it as before
        if isinstance(raw, str):
            session[field] = raw

    app.jinja_env.globals["csrf_token"] = form_token
    app.context_processor(lambda: {"csrf_token": form_token})  # after (so over) Flask-WTF's own
    app.before_request_funcs.setdefault(None, []).insert(0, adopt)


ANONYMOUS_FORM_SECONDS = 2 * 3600  # as long as an anonymous session lives


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
