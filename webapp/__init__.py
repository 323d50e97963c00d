"""社保缴费: the app factory."""

from __future__ import annotations

import os

from flask import Flask, g, request, session
from flask_htmx import HTMX
from flask_wtf.csrf import CSRFProtect
from jinja2 import StrictUndefined

from .config import ROOT, load_config
from .db import make_engine, make_sessionmaker
from .payments.transport import RequestsTransport, Transport, WsgiTransport

csrf = CSRFProtect()
htmx = HTMX()


def create_app(test_config: dict[str, object] | None = None) -> Flask:
    """Create and configure the app; ``test_config`` overrides the environment."""
    cfg = load_config(overrides=test_config)
    app = Flask(__name__, instance_path=str(cfg["INSTANCE_PATH"]), template_folder=str(ROOT / "templates"),
                static_folder=str(ROOT / "static"))
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(cfg)
    app.jinja_env.undefined = StrictUndefined
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    engine = make_engine(str(app.config["DATABASE_URL"]), pool_size=int(app.config["DB_POOL_SIZE"]),
                         max_overflow=int(app.config["DB_MAX_OVERFLOW"]))
    app.extensions["db_engine"] = engine
    app.extensions["db_sessionmaker"] = make_sessionmaker(engine)
    app.extensions["clock"] = app.config["CLOCK"]

    csrf.init_app(app)
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
    csrf.exempt(views.pay.notify)  # the providers post without our CSRF token; their signature is checked
    cli.init_app(app)

    @app.before_request
    def _remember_channel() -> None:
        from .domain.channels import visit_channel

        ch = visit_channel(request.args.get("ch"), request.headers.get("User-Agent"), session.get("channel"))
        if ch and session.get("channel") != ch:
            session["channel"] = ch
        g.channel = session.get("channel") or "etax-web"

    return app


def _certificates(app: Flask) -> None:
    """How a requested certificate gets made (CERTIFICATE_MAKING): a huey task (``queue``), right after the
    request commits (``inline``, tests), or by the periodic job (``later``)."""
    from .services.certificates import MakeSettings, make_now

    settings = MakeSettings(base_url=str(app.config["PUBLIC_BASE_URL"]), secret=str(app.config["SECRET_KEY"]),
                            font_path=str(app.config["CJK_FONT_PATH"]))
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
