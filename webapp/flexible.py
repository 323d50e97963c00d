"""灵活就业 (/flex): base declaration, payment, receivable query and records (R-FB-*, R-FP-*)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort

from .domain import declarations
from .pay import payment_methods, start_payment_form
from .web import current_user, db, login_required, render

bp = Blueprint("flexible", __name__, url_prefix="/flex")
STEPS = ["身份信息确认", "选择缴费信息", "选择支付方式"]


@bp.get("/base")
@login_required
def base() -> Any:
    """灵活就业人员缴费基数申报."""
    return render("flexible/pending.html", title="缴费基数申报")


@bp.get("/pay")
@login_required
def pay() -> Any:
    """灵活就业人员社保缴费办理."""
    return render("flexible/pending.html", title="灵活就业缴费")


@bp.get("/due")
@login_required
def due() -> Any:
    """应缴费信息查询."""
    return render("flexible/pending.html", title="应缴费信息查询")


@bp.get("/records")
@login_required
def records() -> Any:
    """灵活就业人员缴费记录查询."""
    return render("flexible/pending.html", title="灵活就业缴费记录")


@bp.route("/pay/<int:declaration_id>/method", methods=["GET", "POST"])
@login_required
def method(declaration_id: int) -> Any:
    """选择支付方式 for a flexible-worker declaration."""
    user = current_user()
    assert user is not None
    decl = declarations.declaration_of(db(), user.id, declaration_id)
    if decl is None or decl.scheme != "flex":
        abort(404)
    return start_payment_form(decl, "resident_medical/method.html", steps=STEPS, methods=payment_methods("flex"))
