"""The payment providers, simulated: WeChat Pay v3, Alipay and UnionPay 5.1.0, each under /sim/<name>,
as a server of their own (``create_app``), the way a real provider is another party on another host.

They keep their own state (instance/sim/sim.sqlite3), their own keys (instance/sim/keys/) and their own
cashier pages, and know the app only through the URLs and merchant public keys an order carries.
``make run`` serves them on SIM_PORT; tests mount this app in-process (WsgiTransport) or on a port.
Nothing here is part of the app: it exists only when someone starts it.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Blueprint, Flask, abort, current_app, g, redirect, render_template, request

from ...domain.calendar import Clock
from ..crypto import APIV3_KEY, MERCHANT_KEYS, PLATFORM_KEYS, ensure_keys, load_private, load_public
from ..transport import RequestsTransport, Transport, WsgiTransport
from .notifier import Notifier
from .store import Store

__all__ = ["PASSWORD", "Sim", "create_app", "new_trade", "sim"]

PASSWORD = "123456"
BRANDS = {"wechat": ("微信支付", "#07a35a"), "alipay": ("支付宝", "#1677ff"), "unionpay": ("银联在线支付", "#c6000d")}
ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Sim:
    """Everything the simulated providers share in one process: state, keys, clock, notifier."""

    store: Store
    notifier: Notifier
    instance_path: str
    clock: Clock  # APP_TODAY moves the providers' time as it moves the app's
    controls_enabled: bool = False
    _keys: dict[str, Any] = field(default_factory=dict)

    def now(self) -> float:
        """The providers' idea of now (epoch seconds)."""
        return float(self.clock.now().timestamp())

    def platform_key(self, provider: str) -> rsa.RSAPrivateKey:
        """The provider's own signing key."""
        return load_private(Path(self.instance_path) / f"{PLATFORM_KEYS[provider]}.pem")

    def platform_public(self, provider: str) -> rsa.RSAPublicKey:
        """The provider's public key (what merchants are given)."""
        return load_public(Path(self.instance_path) / f"{PLATFORM_KEYS[provider]}.pub.pem")

    def merchant_public(self, provider: str) -> rsa.RSAPublicKey:
        """The merchant's public key the provider verifies requests with."""
        return load_public(Path(self.instance_path) / f"{MERCHANT_KEYS[provider]}.pub.pem")

    def apiv3_key(self) -> bytes:
        """WeChat's APIv3 key, shared with the merchant."""
        if "apiv3" not in self._keys:
            self._keys["apiv3"] = (Path(self.instance_path) / APIV3_KEY).read_bytes().strip()
        return self._keys["apiv3"]

    def controls(self, provider: str) -> dict[str, Any]:
        """The fault-injection controls set for a provider (empty unless SIM_CONTROLS is on)."""
        return self.store.controls(provider) if self.controls_enabled else {}


def sim() -> Sim:
    """The current providers' app state."""
    return current_app.extensions["sim"]


def new_trade(
    provider: str,
    out_trade_no: str,
    amount_fen: int,
    notify_url: str,
    return_url: str,
    description: str,
    expire_at: float | None,
    state: str = "NOTPAY",
    **extra: Any,
) -> str:
    """Record a trade; returns its cashier token. Raises ValueError on a duplicate order number."""
    import json

    token = secrets.token_urlsafe(16)
    store = sim().store
    if store.trade(provider, out_trade_no) is not None:
        raise ValueError("duplicate out_trade_no")
    store.run(
        "INSERT INTO trade(provider, out_trade_no, amount_fen, state, notify_url, return_url, description, "
        "token, created, expire_at, extra) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        provider,
        out_trade_no,
        amount_fen,
        state,
        notify_url,
        return_url,
        description,
        token,
        sim().now(),
        expire_at,
        json.dumps(extra),
    )
    return token


def tombstone(provider: str, out_trade_no: str) -> None:
    """Remember a close for an order number the provider never saw: that number can never be paid."""
    try:
        new_trade(provider, out_trade_no, 0, "", "", "", None, state="CLOSED")
    except ValueError:
        pass  # it exists after all: the caller's conditional close handles it


def expire_if_due(provider: str, trade: Any) -> Any:
    """Close an unpaid trade whose time_expire has passed; returns the trade as it now is."""
    if (
        trade is not None
        and trade["state"] in ("NOTPAY", "UNSEEN")
        and trade["expire_at"]
        and sim().now() > trade["expire_at"]
    ):
        sim().store.set_state(provider, trade["out_trade_no"], "CLOSED", only_from=("NOTPAY", "UNSEEN"))
        return sim().store.trade(provider, trade["out_trade_no"])
    return trade


def cashier_blueprint(provider: str) -> Blueprint:
    """The phone cashier page every provider shows (password 123456 in the demo)."""
    bp = Blueprint(f"sim_{provider}", __name__, url_prefix=f"/sim/{provider}")

    @bp.route("/cashier/<token>", methods=["GET", "POST"])
    def cashier(token: str) -> Any:
        from . import providers

        trade = expire_if_due(provider, sim().store.trade_by_token(provider, token))
        if trade is None or trade["state"] == "CLOSED" and not trade["amount_fen"]:
            abort(404)
        module = providers.MODULES[provider]
        error = None
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
            elif not module.mark_paid(trade):
                error = "该订单已关闭或已支付，不能再支付"
            else:
                trade = sim().store.trade_by_token(provider, token)
                return redirect(module.return_redirect(trade, paid=True), 303)
            trade = sim().store.trade_by_token(provider, token)
        name, color = BRANDS[provider]
        g.csp_nonce = secrets.token_urlsafe(16)  # the page's one <style>, and nothing else inline
        merchant = urlsplit(str(trade["return_url"] or ""))
        if merchant.scheme in ("http", "https") and merchant.netloc:
            g.form_targets = [f"{merchant.scheme}://{merchant.netloc}"]  # 返回商户 and the 303 after 确认支付
        return render_template(
            "sim/cashier.html",
            trade=trade,
            brand=name,
            color=color,
            error=error,
            yuan=f"{trade['amount_fen'] / 100:.2f}",
            csp_nonce=g.csp_nonce,
        ), (422 if error else 200)

    @bp.post("/_control")
    def control() -> Any:
        if not sim().controls_enabled:
            abort(404)
        sim().store.set_controls(provider, request.get_json(force=True) or {})
        return {"ok": True}

    return bp


def create_app(
    config: Mapping[str, object] | None = None, *, clock: Clock | None = None, transport: Transport | None = None
) -> Flask:
    """The providers' server. ``config`` overrides the environment (read by ``webapp.config``);
    ``clock`` and ``transport`` let an in-process test share the app's clock and reach the app."""
    from ...config import load_config
    from . import providers

    overrides = dict(config or {})
    instance_path = str(overrides.get("INSTANCE_PATH") or "")
    cfg = load_config(instance_path or None, overrides=overrides)
    app = Flask(
        __name__, instance_path=str(cfg["INSTANCE_PATH"]), template_folder=str(ROOT / "templates"), static_folder=None
    )
    app.config.from_mapping(cfg)
    ensure_keys(app.instance_path)
    store = Store(app.instance_path)
    if transport is None:
        transport = WsgiTransport() if cfg["PAYMENT_TRANSPORT"] == "wsgi" else RequestsTransport()
    controls_enabled = bool(cfg["SIM_CONTROLS"])
    notifier = Notifier(
        store,
        transport,
        mode=str(cfg["SIM_NOTIFY_MODE"]),
        scale=float(str(cfg["SIM_RETRY_SCALE"])),
        controls=lambda p: store.controls(p) if controls_enabled else {},
    )
    app.extensions["sim"] = Sim(
        store=store,
        notifier=notifier,
        instance_path=app.instance_path,
        clock=clock or cast(Clock, cfg["CLOCK"]),
        controls_enabled=controls_enabled,
    )
    app.extensions["sim_transport"] = transport
    for provider, module in providers.MODULES.items():
        bp = cashier_blueprint(provider)
        module.register(bp)
        app.register_blueprint(bp)
    from . import bank

    bank.init(store)
    app.register_blueprint(bank.blueprint())

    @app.get("/healthz")
    def healthz() -> Any:
        return {"status": "ok", "providers": sorted([*providers.MODULES, "bank"])}

    app.after_request(_security_headers)
    return app


def _security_headers(response: Any) -> Any:
    """As a real provider's cashier would (issue 17, D11): nothing framed (a password page under someone
    else's frame is clickjacking), no script at all, the page's own <style> by nonce, and forms only to the
    cashier itself and back to the merchant the order names."""
    nonce = g.get("csp_nonce")
    response.headers["Content-Security-Policy"] = "; ".join(
        [
            "default-src 'none'",
            f"style-src 'nonce-{nonce}'" if nonce else "style-src 'none'",
            "img-src 'self' data:",
            "form-action " + " ".join(["'self'", *g.get("form_targets", [])]),
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ]
    )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers.pop("Server", None)
    return response


def charge(provider: str, trade: Any, txn_id: str) -> Any | None:
    """The buyer pays an open trade: NOTPAY → PAID, once. Returns the paid trade, or None if it was not
    payable any more (closed, expired or paid). ``amount_delta`` (a test control) takes a wrong amount."""
    taken = int(trade["amount_fen"]) + int(sim().controls(provider).get("amount_delta", 0))
    if not sim().store.set_state(
        provider,
        trade["out_trade_no"],
        "PAID",
        only_from=("NOTPAY",),
        txn_id=txn_id,
        paid_at=sim().now(),
        paid_fen=taken,
    ):
        return None
    return sim().store.trade(provider, trade["out_trade_no"])


def taken_fen(trade: Any) -> int:
    """What the provider took for a trade (its amount, unless a test control made it differ)."""
    return int(trade["paid_fen"] if trade["paid_fen"] is not None else trade["amount_fen"])


def down(provider: str) -> bool:
    """The ``unavailable`` test control: the provider answers 503 to every API call."""
    return bool(sim().controls(provider).get("unavailable"))


def refund_down(provider: str) -> bool:
    """The ``refund="down"`` test control (or ``unavailable``): refunds and their queries answer 503."""
    return down(provider) or sim().controls(provider).get("refund") == "down"


def refund_processing(provider: str) -> bool:
    """The ``refund="processing"`` test control: refunds are accepted but not finished until it is lifted."""
    return sim().controls(provider).get("refund") == "processing"
