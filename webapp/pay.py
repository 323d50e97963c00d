"""支付 (/pay): choosing a method, the return from the cashier, the result page, cancelling an
unfinished order, and the providers' notifications (R-PA-1..3). Thin: the payment core decides.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, g, redirect, request, url_for
from sqlalchemy import select

from .domain.channels import methods_for
from .models import Declaration, PaymentOrder
from .payments import orders
from .payments.base import PaymentAdapter
from .web import audit, clock, current_user, db, login_required, render

bp = Blueprint("pay", __name__, url_prefix="/pay")


def adapters() -> dict[str, PaymentAdapter]:
    """The configured provider adapters."""
    return current_app.extensions["payment_adapters"]


def payment_methods(scheme: str) -> list[str]:
    """The methods this session's channel offers for a scheme (R-CH-1); agreement payment is not
    offered until the debit agreement core exists."""
    return methods_for(str(g.channel), scheme, agreements_available=False)


def close_open_order(decl: Declaration) -> bool:
    """Close the declaration's unfinished order, if any; True if it turned out to be paid."""
    order = db().scalar(select(PaymentOrder).where(PaymentOrder.declaration_id == decl.id,
                                                   PaymentOrder.state.in_(("created", "paying"))))
    if order is None:
        return False
    order = orders.close(db(), adapters()[order.provider], order, clock().now())
    return order.state == "paid"


def start_payment_form(decl: Declaration, template: str, **context: Any) -> Any:
    """选择支付方式 and 确认缴费: start an order with the chosen provider and go to its cashier."""
    methods: list[str] = context["methods"]
    error = None
    chosen = request.form.get("method") or (methods[0] if methods else "")
    open_order = db().scalar(select(PaymentOrder).where(PaymentOrder.declaration_id == decl.id,
                                                        PaymentOrder.state.in_(("created", "paying"))))
    if decl.status == "paid":
        return redirect(url_for("pay.order", out_trade_no=_last_paid(decl)), 303)
    if request.method == "POST":
        if chosen not in methods:
            error = "请选择本渠道支持的支付方式"
        elif decl.status != "declared":
            error = "该申报已作废，请重新申报"
        else:
            try:
                order = orders.start(
                    db(), adapters(), chosen, decl=decl, channel=str(g.channel), now=clock().now(),
                    urls=_urls_for(chosen), expire_minutes=int(current_app.config["ORDER_EXPIRE_MINUTES"]))
            except orders.OrderError as e:
                db().rollback()
                error = str(e)
            else:
                if order.state == "paid":
                    return redirect(url_for("pay.order", out_trade_no=order.out_trade_no), 303)
                return redirect(order.cashier_url or url_for("pay.order", out_trade_no=order.out_trade_no), 303)
    return render(template, decl=decl, chosen=chosen, error=error, open_order=open_order,
                  status=422 if error else 200, **context)


def _urls_for(provider: str) -> orders.Urls:
    base = str(current_app.config["PUBLIC_BASE_URL"])
    return orders.Urls(notify_url=f"{base}{url_for('pay.notify', provider=provider)}",
                       return_url=f"{base}/pay/return/{provider}/" + "{out_trade_no}")


def _last_paid(decl: Declaration) -> str:
    order = db().scalar(select(PaymentOrder).where(PaymentOrder.declaration_id == decl.id,
                                                   PaymentOrder.state == "paid"))
    return order.out_trade_no if order else ""


def _own_order(out_trade_no: str) -> PaymentOrder:
    user = current_user()
    assert user is not None
    order = db().scalar(select(PaymentOrder).where(PaymentOrder.out_trade_no == out_trade_no))
    if order is None or order.payer_id != user.id:
        abort(404)
    return order


@bp.get("/return/<provider>/<out_trade_no>")
@login_required
def returned(provider: str, out_trade_no: str) -> Any:
    """Back from the cashier: what the redirect says proves nothing, so ask the provider (R-PA-3)."""
    o = _own_order(out_trade_no)
    if o.provider != provider:
        abort(404)
    o = orders.reconcile(db(), adapters()[o.provider], o, clock().now())
    return redirect(url_for("pay.order", out_trade_no=o.out_trade_no), 303)


@bp.get("/orders/<out_trade_no>")
@login_required
def order(out_trade_no: str) -> Any:
    """The result page: 缴费成功, 支付处理中 (polling, with 取消支付), or why it failed."""
    o = _own_order(out_trade_no)
    if o.state in ("created", "paying") and request.headers.get("HX-Request"):
        o = orders.reconcile(db(), adapters()[o.provider], o, clock().now())
    decl = db().get(Declaration, o.declaration_id)
    return render("pay/result.html", o=o, decl=decl, block="result" if request.args.get("poll") else None)


@bp.post("/orders/<out_trade_no>/cancel")
@login_required
def cancel(out_trade_no: str) -> Any:
    """取消支付: close the order at the provider now, then choose another way (no 35-minute wait)."""
    o = _own_order(out_trade_no)
    try:
        o = orders.close(db(), adapters()[o.provider], o, clock().now())
    except orders.OrderError as e:
        return render("pay/result.html", o=o, decl=db().get(Declaration, o.declaration_id), error=str(e),
                      status=503)
    audit("order.cancelled_by_user", o.out_trade_no)
    db().commit()
    if o.state == "paid":
        return redirect(url_for("pay.order", out_trade_no=o.out_trade_no), 303)
    return redirect(method_url(db().get(Declaration, o.declaration_id)), 303)


def method_url(decl: Declaration | None) -> str:
    """Where a declaration's 选择支付方式 page lives, by scheme."""
    if decl is None:
        return url_for("hall.index")
    endpoint = {"rm": "resident_medical.method", "flex": "flexible.method"}.get(decl.scheme)
    return url_for(endpoint, declaration_id=decl.id) if endpoint else url_for("hall.index")


@bp.post("/notify/<provider>")
def notify(provider: str) -> Any:
    """A provider's asynchronous notification: verified, settled at most once, answered its way."""
    adapter = adapters().get(provider)
    if adapter is None:
        abort(404)
    ack = orders.handle_notification(db(), adapter, request.headers, request.get_data(), clock().now())
    return ack.body, ack.status, {"Content-Type": ack.content_type}
