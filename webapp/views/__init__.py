"""One blueprint per flow, named as the user knows it. Flask lives here and in ``_web``/``_checkout``.

URL → blueprint → template: ``/rm/pay`` → ``resident_medical.pay`` → ``templates/resident_medical/pay.html``.
"""

from __future__ import annotations

from flask import Flask

from . import (
    _attempts,
    _limits,
    _sessions,
    _web,
    agreements,
    auth,
    certificates,
    flexible,
    hall,
    pay,
    qd_certificates,
    qd_unionpay,
    qingdao,
    resident_medical,
    resident_pension,
    verify,
)

BLUEPRINTS = (
    hall.bp,
    auth.bp,
    resident_medical.bp,
    flexible.bp,
    agreements.bp,
    pay.bp,
    resident_pension.bp,
    certificates.bp,
    verify.bp,
    qingdao.bp,
    qd_certificates.bp,
    qd_unionpay.bp,
)


def init_app(app: Flask) -> None:
    """The request lifecycle, then every flow's blueprint."""
    _web.init_app(app)
    _sessions.init_app(app)
    _limits.init_app(app)
    _attempts.init_app(app)
    for bp in BLUEPRINTS:
        app.register_blueprint(bp)
