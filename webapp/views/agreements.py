"""缴费协议 (/agreements, a poster URL, R-CH-2): the list, 新增协议 step by step (税务机关 → 社保经办机构, 开户银行 →
银行行政区划 → 银行网点), and 撤销 after an in-page confirmation (R-AG-1 … R-AG-8)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, request, url_for

from ..domain import banks
from ..domain.errors import RuleViolation
from ..domain.identity import mask_id_number
from ..domain.statuses import AgreementStatus
from ..services import agreements
from ._web import clock, db, found, login_required, me, render

bp = Blueprint("agreements", __name__, url_prefix="/agreements")


def _bank() -> Any:
    return current_app.extensions["payment_adapters"]["agreement"]


@bp.get("")
@login_required
def index() -> Any:
    """缴费协议: the payer's agreements with their status, 新增协议 and 撤销 (R-AG-2)."""
    return _list()


def _list(confirming: int | None = None, status: int = 200) -> Any:
    today = clock().today()
    rows = agreements.list_for(db(), me().id)
    return render(
        "agreements/index.html",
        rows=rows,
        today=today,
        status_label=agreements.status_label,
        withheld=agreements.withheld_insurances(db(), me(), rows, today),
        confirming=confirming,
        banks=banks.banks(),
        status=status,
    )


def _form() -> dict[str, str]:
    keys = ("tax_office", "bank", "bank_region", "branch", "holder", "card_number", "batch_debit")
    form = {k: request.values.get(k, "").strip() for k in keys}
    form["batch_debit"] = form["batch_debit"] or "1"
    return form


def _form_context(form: dict[str, str], errors: dict[str, str]) -> dict[str, Any]:
    person = me()
    offices = agreements.offices(db(), person.id)
    if not form["tax_office"] and len(offices) == 1:
        form["tax_office"] = next(iter(offices))
    regions = banks.regions(form["bank"]) if form["bank"] in banks.banks() else []
    branches = banks.branches(form["bank"], form["bank_region"]) if form["bank_region"] in regions else []
    return {
        "form": form,
        "errors": errors,
        "person": person,
        "id_masked": mask_id_number(person.id_number),
        "offices": offices,
        "si_agency": offices.get(form["tax_office"], ""),
        "banks": banks.banks(),
        "regions": regions,
        "branches": branches,
        "batch_tip": agreements.BATCH_TIP,
        "account_tip": agreements.ACCOUNT_TIP,
        "resign_block": _resign_block(person.id),
    }


def _resign_block(payer_id: int) -> str | None:
    until = agreements.resign_blocked_until(db(), payer_id, clock().today())
    return agreements.resign_message(until) if until else None


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> Any:
    """新增协议 in the guide's two steps (seed 000 §4 移动端): 缴费人信息 (read-only, R-AG-1) and 是否银行代扣 →
    下一步 → 税务机关 and 银行信息 → 提交 → 签订成功, in effect tomorrow (R-AG-5)."""
    form = _form()
    errors: dict[str, str] = {}
    step = 2 if request.method == "POST" or request.args.get("step") == "2" else 1
    if form["batch_debit"] not in ("0", "1"):
        form["batch_debit"], step = "1", 1
    if request.method == "POST":
        signing = agreements.SignForm(
            form["tax_office"],
            form["bank"],
            form["bank_region"],
            form["branch"],
            form["holder"],
            form["card_number"],
            form["batch_debit"] == "1",
        )
        errors = agreements.check(db(), me(), signing)
        if not errors:
            try:
                a = agreements.sign(db(), _bank(), me(), signing, clock().now())
            except RuleViolation as e:
                errors["form"] = str(e)
            else:
                return render("agreements/signed.html", a=a, bank=banks.banks()[a.bank])
    return render("agreements/new.html", **_form_context(form, errors), step=step, status=422 if errors else 200)


@bp.get("/new/options")
@login_required
def options() -> Any:
    """The selects that depend on an earlier choice (社保经办机构, 银行行政区划, 银行网点), as they are made
    (htmx)."""
    return render("agreements/new.html", block="dependent", **_form_context(_form(), {}), step=2)


@bp.route("/<id:agreement_id>/revoke", methods=["GET", "POST"])
@login_required
def revoke(agreement_id: int) -> Any:
    """撤销: GET asks in the page (确定 / 取消), POST revokes (R-AG-6)."""
    with found():
        a = agreements.agreement_of(db(), me().id, agreement_id)
    if request.method != "POST":  # GET, and HEAD (a link checker or prefetcher): asking, never revoking
        if a.status is not AgreementStatus.SIGNED:
            flash("该协议已撤销或已失效，无需撤销", "warn")
            return redirect(url_for("agreements.index"), 303)
        return _list(confirming=a.id)
    try:
        agreements.revoke(db(), _bank(), a, clock().now())
    except RuleViolation as e:
        flash(str(e), "warn")
    else:
        flash(f"撤销成功：协议{a.agreement_no}已撤销，不能再用于社保费缴款或批扣", "ok")
    return redirect(url_for("agreements.index"), 303)
