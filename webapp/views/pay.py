"""支付 (/pay): the checkout every flow shares — 选择支付方式 and 确认缴费, 作废, the return from the cashier,
the result page (缴费成功, 支付结果确认中 with 取消支付, or why it did not go through, and any refund) —
and the providers' notifications (R-PA-1 … R-PA-6). Thin: ``services.checkout`` decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from flask import Blueprint, abort, current_app, flash, g, redirect, request, url_for
from flask_limiter.util import get_remote_address

from ..domain.errors import RuleViolation
from ..domain.schemes import SCHEMES
from ..domain.statuses import DeclarationStatus, OrderState, Provider
from ..payments import orders
from ..services import checkout, declarations
from ._checkout import send_refunds_if_any, urls_for
from ._limits import count_one, too_many, used_up
from ._web import adapters, clock, db, found, htmx, login_required, me, render, safe_next, writes

bp = Blueprint("pay", __name__, url_prefix="/pay")


def _declaration(declaration_id: int) -> Any:
    with found():
        return declarations.declaration_of(db(), me().id, declaration_id)


@bp.route("/<id:declaration_id>", methods=["GET", "POST"])
@login_required
def method(declaration_id: int) -> Any:
    """选择支付方式 → 确认缴费 → the provider's cashier (R-CH-1, R-PA-4)."""
    decl = _declaration(declaration_id)
    if decl.status is DeclarationStatus.PAID and (paid := orders.paid_order(db(), decl.id)) is not None:
        return redirect(url_for("pay.order", out_trade_no=paid.out_trade_no), 303)
    channel = str(g.channel)
    methods = checkout.methods(channel, decl.scheme)
    usable = checkout.usable_agreements(db(), decl, clock().today()) if Provider.AGREEMENT in methods else []
    ready = [m for m in methods if m != Provider.AGREEMENT or usable]  # 协议支付 preselected only when it can pay
    chosen = request.form.get("method") or (ready or methods or [""])[0]
    agreement_text = request.form.get("agreement_id", "")
    agreement_id = (
        int(agreement_text)
        if agreement_text.isascii() and agreement_text.isdigit() and len(agreement_text) < 19
        else (usable[0].id if len(usable) == 1 else None)
    )
    error = None
    scheme = SCHEMES[decl.scheme]
    # 协议支付: 确认缴费 first brings out the usable agreements to choose from (seed 003 §1.1: 系统带出可缴费的协议),
    # after a prompt where the guide shows one (§2.1: 带出提示语，点击【确定】); choosing one and 确认缴费 pays.
    stage = ""
    picking = chosen == Provider.AGREEMENT and Provider.AGREEMENT in methods
    if request.method == "POST" and picking and "agreement_id" not in request.form:
        stage = "prompt" if scheme.agreement_prompt and not request.form.get("prompted") else "pick"
    if request.method == "POST" and not stage:
        try:
            order = checkout.confirm(
                db(),
                adapters(),
                decl,
                chosen,
                channel=channel,
                now=clock().now(),
                urls=urls_for(chosen),
                agreement_id=agreement_id,
                expire_minutes=int(current_app.config["ORDER_EXPIRE_MINUTES"]),
            )
        except RuleViolation as e:
            error = str(e)
        else:
            if order.state is OrderState.PAYING and order.cashier_url:
                return redirect(order.cashier_url, 303)
            if order.state is OrderState.PAID or order.provider == Provider.AGREEMENT:
                return redirect(url_for("pay.order", out_trade_no=order.out_trade_no), 303)
            error = order.failure_reason or orders.MSG_CREATE_FAILED
        stage = "pick" if picking else ""  # refused: the agreements stay in front of the payer
    return render(
        "pay/method.html",
        decl=decl,
        scheme=scheme,
        stage=stage,
        agreement_prompt=checkout.AGREEMENT_PROMPT,
        methods=methods,
        chosen=chosen,
        agreements=usable,
        coming=_taking_effect(decl, methods, usable),
        agreement_id=agreement_id,
        error=error,
        open_order=orders.open_order(db(), decl.id),
        not_now=checkout.why_not_now(db(), decl, clock().now()),
        status=422 if error else 200,
    )


def _taking_effect(decl: Any, methods: list[str], usable: list[Any]) -> str | None:
    """When 协议支付 is offered and no agreement can pay today, but one signed is on its way: when it opens
    (R-AG-5), instead of asking the payer to sign again."""
    if Provider.AGREEMENT not in methods or usable:
        return None
    coming = checkout.agreements_taking_effect(db(), decl, clock().today())
    return checkout.msg_taking_effect(coming[0]) if coming else None


@bp.post("/<id:declaration_id>/void")
@login_required
def void(declaration_id: int) -> Any:
    """作废 an unpaid declaration (closing its unfinished order at the provider first); back to the list."""
    decl = _declaration(declaration_id)
    try:
        flash(declarations.void(db(), adapters(), decl, clock().now(), me().id), "ok")
    except RuleViolation as e:
        flash(str(e), "warn")
    back = safe_next(request.form.get("next")) or url_for(SCHEMES[decl.scheme].declared)
    return redirect(back, 303)


def _own_order(out_trade_no: str) -> Any:
    with found():
        return declarations.order_of(db(), me().id, out_trade_no)


@bp.get("/return/<token:provider>/<token:out_trade_no>")
@writes
@login_required
def returned(provider: str, out_trade_no: str) -> Any:
    """Back from the cashier: what the redirect says proves nothing, so ask the provider (R-PA-3)."""
    o = _own_order(out_trade_no)
    if o.provider != provider:
        abort(404)
    o = checkout.back_from_cashier(db(), adapters(), o, clock().now())
    send_refunds_if_any(o)
    return redirect(url_for("pay.order", out_trade_no=o.out_trade_no), 303)


@bp.get("/orders/<token:out_trade_no>")
@writes
@login_required
def order(out_trade_no: str) -> Any:
    """The result page: 缴费成功, 支付结果确认中 (polling, with 取消支付), or why not, with any refund (退款中 polls a
    while, asking the provider, until it reads 已退款)."""
    o = _own_order(out_trade_no)
    if htmx:
        if o.state.is_open:
            o = checkout.refresh(db(), adapters(), o, clock().now())
        send_refunds_if_any(o)
    return _result(o, block="result" if request.args.get("poll") else None)


def _result(o: Any, block: str | None = None, error: str | None = None, status: int = 200) -> Any:
    decl = o.declaration
    return render(
        "pay/result.html",
        o=o,
        decl=decl,
        scheme=SCHEMES[decl.scheme],
        refund=checkout.refund_state(checkout.refunds(db(), o)),
        polls=int(p) if (p := request.args.get("poll", "")).isascii() and p.isdigit() and len(p) < 3 else 0,
        error=error,
        block=block,
        status=status,
    )


@bp.post("/orders/<token:out_trade_no>/cancel")
@login_required
def cancel(out_trade_no: str) -> Any:
    """取消支付: close the order at the provider now, then choose another way (no 35-minute wait)."""
    o = _own_order(out_trade_no)
    try:
        o = checkout.cancel(db(), adapters(), o, clock().now())
    except RuleViolation as e:
        return _result(o, error=str(e), status=503)
    if o.state is OrderState.PAID:
        return redirect(url_for("pay.order", out_trade_no=o.out_trade_no), 303)
    return redirect(url_for("pay.method", declaration_id=o.declaration_id), 303)


@bp.post("/notify/<token:provider>")
def notify(provider: str) -> Any:
    """A provider's asynchronous notification: verified, settled at most once, answered its way. Refused
    ones (forged, unreadable, unknown order) are counted per address and limited; a correctly signed one is
    never held back, whatever its address sent before (R-PA-5, issue 17 D10)."""
    adapter = adapters().get(provider)
    if adapter is None:
        abort(404)
    address = get_remote_address()
    headers = cast(Mapping[str, str], request.headers)  # werkzeug's Headers: a case-insensitive mapping
    if used_up("RATELIMIT_NOTIFY", address) and not orders.signed_by(adapter, headers, request.get_data()):
        return too_many("RATELIMIT_NOTIFY", address)
    ack, o = orders.handle_notification(db(), adapter, headers, request.get_data(), clock().now())
    if o is not None:
        send_refunds_if_any(o)
    else:
        count_one("RATELIMIT_NOTIFY", address)
    return ack.body, ack.status, {"Content-Type": ack.content_type}
