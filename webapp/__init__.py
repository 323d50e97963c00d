"""社保缴费: the app factory."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, g, request, session
from flask_htmx import HTMX
from flask_wtf.csrf import CSRFProtect
from jinja2 import StrictUndefined

from .config import load_config
from .db import make_engine, make_sessionmaker

ROOT = Path(__file__).resolve().parent.parent
csrf = CSRFProtect()
htmx = HTMX()


def create_app(test_config: dict[str, object] | None = None) -> Flask:
    """Create and configure the app; ``test_config`` overrides the environment."""
    instance_path = str((test_config or {}).get("INSTANCE_PATH") or os.environ.get("INSTANCE_PATH")
                        or ROOT / "instance")
    app = Flask(
        __name__,
        instance_path=instance_path,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(load_config(app.instance_path))
    if test_config:
        app.config.from_mapping(test_config)
    app.jinja_env.undefined = StrictUndefined
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    engine = make_engine(str(app.config["DATABASE_URL"]))
    app.extensions["db_engine"] = engine
    app.extensions["db_sessionmaker"] = make_sessionmaker(engine)

    csrf.init_app(app)
    htmx.init_app(app)

    from . import web

    web.init_app(app)

    from .payments import build_adapters, sim
    from .payments.crypto import ensure_keys
    from .payments.transport import RequestsTransport, WsgiTransport

    ensure_keys(app.instance_path)
    transport = WsgiTransport(app) if app.config["PAYMENT_TRANSPORT"] == "wsgi" else RequestsTransport()
    app.extensions["payment_adapters"] = build_adapters(
        {**app.config, "INSTANCE_PATH": app.instance_path}, transport
    )
    sim.init_app(app)
    # The providers are another party: they post notifications without our CSRF token.
    for name in ("sim_wechat", "sim_alipay", "sim_unionpay"):
        if name in app.blueprints:
            csrf.exempt(app.blueprints[name])

    from . import auth, cli, flexible, hall, pay, resident_medical

    app.register_blueprint(hall.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(resident_medical.bp)
    app.register_blueprint(flexible.bp)
    app.register_blueprint(pay.bp)
    csrf.exempt(pay.notify)
    cli.init_app(app)

    @app.before_request
    def _remember_channel() -> None:
        from .domain.channels import channel_from

        ch = channel_from(request.args.get("ch"), request.headers.get("User-Agent"))
        if ch and session.get("channel") != ch:
            session["channel"] = ch
        g.channel = session.get("channel") or "etax-web"

    return app
