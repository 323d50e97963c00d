"""The payment providers, simulated: WeChat Pay v3, Alipay and UnionPay, each under /sim/<name>.

Another party than the app: their own state (instance/sim/sim.sqlite3), their own keys
(instance/sim/keys/), their own cashier pages. They know the app only through the URLs and
merchant public keys an order carries, as the real providers do.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, abort, current_app, redirect, render_template, request

from ..crypto import APIV3_KEY, MERCHANT_KEYS, PLATFORM_KEYS, ensure_keys, load_private, load_public
from ..transport import RequestsTransport, WsgiTransport
from .notifier import Notifier
from .store import Store

__all__ = ["ensure_keys", "init_app", "sim"]

PASSWORD = "123456"
BRANDS = {"wechat": ("微信支付", "#07c160"), "alipay": ("支付宝", "#1677ff"), "unionpay": ("银联在线支付", "#d7000f")}


@dataclass
class Sim:
    """Everything the simulated providers share in one process."""

    store: Store
    notifier: Notifier
    instance_path: str
    clock: Any  # the app's clock, so APP_TODAY moves both parties' time alike

    def now(self) -> float:
        """The providers' idea of now (epoch seconds)."""
        return float(self.clock.now().timestamp())

    def platform_key(self, provider: str) -> Any:
        """The provider's own signing key."""
        return load_private(Path(self.instance_path) / f"{PLATFORM_KEYS[provider]}.pem")

    def merchant_public(self, provider: str) -> Any:
        """The merchant's public key the provider verifies requests with."""
        return load_public(Path(self.instance_path) / f"{MERCHANT_KEYS[provider]}.pub.pem")

    def apiv3_key(self) -> bytes:
        """WeChat's APIv3 key, shared with the merchant."""
        return (Path(self.instance_path) / APIV3_KEY).read_bytes().strip()


def sim() -> Sim:
    """The current app's simulation state."""
    return current_app.extensions["sim"]


def new_trade(provider: str, out_trade_no: str, amount_fen: int, notify_url: str, return_url: str,
              description: str, expire_at: float | None, state: str = "NOTPAY", **extra: Any) -> str:
    """Record a trade; returns its cashier token. Raises ValueError on a duplicate order number."""
    import json

    token = secrets.token_urlsafe(16)
    store = sim().store
    if store.trade(provider, out_trade_no) is not None:
        raise ValueError("duplicate out_trade_no")
    store.run("INSERT INTO trade(provider, out_trade_no, amount_fen, state, notify_url, return_url, description, "
              "token, created, expire_at, extra) VALUES (?,?,?,?,?,?,?,?,?,?,?)", provider, out_trade_no, amount_fen,
              state, notify_url, return_url, description, token, sim().now(), expire_at, json.dumps(extra))
    return token


def cashier_blueprint(provider: str) -> Blueprint:
    """The phone cashier page every provider shows (password 123456 in the demo)."""
    bp = Blueprint(f"sim_{provider}", __name__, url_prefix=f"/sim/{provider}")

    @bp.route("/cashier/<token>", methods=["GET", "POST"])
    def cashier(token: str) -> Any:
        from . import providers

        trade = sim().store.trade_by_token(provider, token)
        if trade is None:
            abort(404)
        module = providers.MODULES[provider]
        error = None
        if trade["state"] in ("NOTPAY", "UNSEEN") and trade["expire_at"] and sim().now() > trade["expire_at"]:
            sim().store.set_state(provider, trade["out_trade_no"], "CLOSED", only_from=("NOTPAY", "UNSEEN"))
            trade = sim().store.trade_by_token(provider, token)
        if trade["state"] == "UNSEEN":  # Alipay: the trade exists once the buyer opens the cashier
            sim().store.set_state(provider, trade["out_trade_no"], "NOTPAY", only_from=("UNSEEN",))
            trade = sim().store.trade_by_token(provider, token)
        if request.method == "POST":
            if request.form.get("action") == "cancel":
                return redirect(module.return_redirect(trade, paid=False), 303)
            if trade["state"] != "NOTPAY":
                error = "该订单已关闭或已支付，不能再支付"
            elif request.form.get("password") != PASSWORD:
                error = "支付密码错误，请重试"
            else:
                module.mark_paid(trade)
                trade = sim().store.trade_by_token(provider, token)
                return redirect(module.return_redirect(trade, paid=True), 303)
        name, color = BRANDS[provider]
        return render_template("sim/cashier.html", trade=trade, brand=name, color=color, error=error,
                               yuan=f"{trade['amount_fen'] / 100:.2f}"), (422 if error else 200)

    @bp.post("/_control")
    def control() -> Any:
        if not current_app.config.get("SIM_CONTROLS"):
            abort(404)
        sim().store.set_controls(provider, request.get_json(force=True) or {})
        return {"ok": True}

    return bp


def init_app(app: Flask) -> None:
    """Mount the three simulations and their notifier on the app."""
    from . import providers

    ensure_keys(app.instance_path)
    store = Store(app.instance_path)
    transport = WsgiTransport(app) if app.config.get("PAYMENT_TRANSPORT") == "wsgi" else RequestsTransport()
    notifier = Notifier(store, transport, mode=str(app.config.get("SIM_NOTIFY_MODE", "thread")),
                        scale=float(app.config.get("SIM_RETRY_SCALE", 1.0)))  # type: ignore[arg-type]
    app.extensions["sim"] = Sim(store=store, notifier=notifier, instance_path=app.instance_path,
                                clock=app.extensions["clock"])
    for provider, module in providers.MODULES.items():
        bp = cashier_blueprint(provider)
        module.register(bp)
        app.register_blueprint(bp)
