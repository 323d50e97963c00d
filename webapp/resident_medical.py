"""城乡居民医疗 (/rm): 缴费办理, 已申报查询 with 作废, 缴费记录查询 (R-RM-1..4)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, abort, redirect, request, session, url_for
from sqlalchemy import select

from .domain import declarations
from .domain import resident_medical as rm
from .domain.calendar import Month
from .domain.declarations import RuleViolation
from .domain.identity import IdentityError, normalize_id_number
from .models import Declaration, Person, Receivable, SettledPayment
from .pay import close_open_order, payment_methods, start_payment_form
from .payments.orders import OrderError
from .web import BEIJING, audit, clock, current_user, db, login_required, month_arg, render

bp = Blueprint("resident_medical", __name__, url_prefix="/rm")
STEPS = ["身份信息确认", "选择缴费信息", "选择支付方式"]


@bp.route("/pay", methods=["GET", "POST"])
@login_required
def pay() -> Any:
    """Step 1, 身份信息确认: 本人, a saved family member, or 他人 typed in (R-RM-1)."""
    user = current_user()
    assert user is not None
    form = {"who": request.values.get("who", "self"), "name": "", "id_type": "resident_id", "id_number": "",
            "nationality": "中华人民共和国", "save": "1", "relation": ""}
    errors: dict[str, str] = {}
    if request.method == "POST":
        form.update({k: request.form.get(k, "").strip() for k in form if k != "who"})
        who = form["who"]
        if who == "self":
            return _go_select(user.id)
        if who.isdigit():
            if not rm.may_pay_for(db(), user.id, int(who)):
                abort(404)
            return _go_select(int(who))
        # 他人, typed in.
        if not form["name"]:
            errors["name"] = "请输入参保人姓名"
        try:
            form["id_number"] = normalize_id_number(form["id_type"], form["id_number"])
        except IdentityError as e:
            errors["id_number"] = str(e)
        if not errors:
            try:
                insured = rm.find_insured(db(), form["name"], form["id_type"], form["id_number"])
            except RuleViolation as e:
                errors["form"] = str(e)
            else:
                if insured.id == user.id:
                    return _go_select(user.id)
                if form["save"]:
                    rm.remember(db(), user.id, insured.id, form["relation"] or None)
                    audit("family.saved", str(insured.id))
                    db().commit()
                session["rm_other"] = insured.id
                return _go_select(insured.id)
    return render("resident_medical/pay.html", form=form, errors=errors, steps=STEPS,
                  family=rm.family(db(), user.id), user=user, status=422 if errors else 200)


def _go_select(insured_id: int) -> Any:
    return redirect(url_for("resident_medical.select", insured=insured_id), 303)


def _insured_or_404(insured_id: int) -> Person:
    user = current_user()
    assert user is not None
    allowed = rm.may_pay_for(db(), user.id, insured_id) or session.get("rm_other") == insured_id
    person = db().get(Person, insured_id) if allowed else None
    if person is None:
        abort(404)
    return person


@bp.route("/pay/select", methods=["GET", "POST"], endpoint="select")
@login_required
def select_items() -> Any:
    """Step 2, 选择缴费信息: the year's receivable with 明细数据; 提交 declares it (R-RM-2, R-PA-1)."""
    insured_id = request.values.get("insured", "")
    if not insured_id.isdigit():
        return redirect(url_for("resident_medical.pay"))
    insured = _insured_or_404(int(insured_id))
    user = current_user()
    assert user is not None
    error = None
    chosen = request.form.getlist("receivable") if request.method == "POST" else None
    if request.method == "POST":
        try:
            ids = declarations.parse_ids(chosen or [])
            decl = declarations.declare(db(), payer_id=user.id, insured_id=insured.id, scheme=rm.SCHEME,
                                        receivable_ids=ids, channel=g_channel(), now=clock().now())
            audit("declaration.created", str(decl.id), f"{decl.total_fen}")
            db().commit()
            return redirect(url_for("resident_medical.method", declaration_id=decl.id), 303)
        except RuleViolation as e:
            db().rollback()
            error = str(e)
    items = rm.receivables(db(), insured.id)
    return render("resident_medical/select.html", insured=insured, items=items, steps=STEPS, error=error,
                  chosen=chosen, state=rm.status_of(db(), insured.id), status=422 if error else 200)


def g_channel() -> str:
    """The channel this session arrived from."""
    from flask import g

    return str(g.channel)


@bp.route("/pay/<int:declaration_id>/method", methods=["GET", "POST"])
@login_required
def method(declaration_id: int) -> Any:
    """Step 3, 选择支付方式 → 确认缴费 → the provider's cashier (R-CH-1)."""
    user = current_user()
    assert user is not None
    decl = declarations.declaration_of(db(), user.id, declaration_id)
    if decl is None or decl.scheme != rm.SCHEME:
        abort(404)
    return start_payment_form(decl, "resident_medical/method.html", steps=STEPS,
                              methods=payment_methods(rm.SCHEME))


def _date_arg(name: str, default: date) -> tuple[date, str | None]:
    raw = request.args.get(name, "")
    if not raw:
        return default, None
    try:
        return date.fromisoformat(raw), None
    except ValueError:
        return default, "日期格式应为YYYY-MM-DD"


@bp.get("/declared")
@login_required
def declared() -> Any:
    """已申报查询: declarations by date, including those made for others (R-RM-4), with 作废."""
    user = current_user()
    assert user is not None
    today = clock().today()
    start, e1 = _date_arg("start", today - timedelta(days=90))
    end, e2 = _date_arg("end", today)
    error = e1 or e2 or ("起始日期不能晚于截止日期" if start > end else None)
    rows: list[Declaration] = []
    if not error:
        lo = datetime.combine(start, time.min, BEIJING)
        hi = datetime.combine(end, time.max, BEIJING)
        rows = list(db().scalars(select(Declaration).where(
            Declaration.payer_id == user.id, Declaration.scheme == rm.SCHEME,
            Declaration.declared_at >= lo, Declaration.declared_at <= hi).order_by(Declaration.declared_at.desc())))
    return render("resident_medical/declared.html", rows=rows, start=request.args.get("start") or start.isoformat(),
                  end=request.args.get("end") or end.isoformat(), error=error, block="results" if
                  request.args.get("partial") else None, status=422 if error else 200)


@bp.post("/declared/<int:declaration_id>/void")
@login_required
def void(declaration_id: int) -> Any:
    """作废 an unpaid declaration; its receivable can be declared and paid again (R-RM-3)."""
    user = current_user()
    assert user is not None
    decl = declarations.declaration_of(db(), user.id, declaration_id)
    if decl is None or decl.scheme != rm.SCHEME:
        abort(404)
    message, kind = "已作废，可重新缴费", "ok"
    try:
        if close_open_order(decl):
            message, kind = "该申报在作废前已支付成功，无需作废", "ok"
        else:
            declarations.void(db(), decl, clock().now())
            audit("declaration.voided", str(decl.id))
            db().commit()
    except (RuleViolation, OrderError) as e:
        db().rollback()
        message, kind = str(e) or "暂时无法作废，请稍后重试", "warn"
    session["flash"] = {"message": message, "kind": kind}
    return redirect(url_for("resident_medical.declared", start=request.form.get("start") or None,
                            end=request.form.get("end") or None), 303)


@bp.get("/records")
@login_required
def records() -> Any:
    """缴费记录查询 by 费款所属期 range: what was paid for me, or by me (R-CE-1 columns)."""
    user = current_user()
    assert user is not None
    today = clock().today()
    start, e1 = month_arg("start", Month(today.year - 1, 1))
    end, e2 = month_arg("end", Month(today.year, 12))
    error = e1 or e2 or ("起始所属期不能晚于截止所属期" if start > end else None)
    rows: list[SettledPayment] = []
    if not error:
        rows = list(db().scalars(select(SettledPayment).join(Receivable).where(
            (SettledPayment.payer_id == user.id) | (Receivable.insured_id == user.id),
            Receivable.scheme == rm.SCHEME, Receivable.fee_period_start <= end.first_day,
            Receivable.fee_period_end >= start.first_day).order_by(SettledPayment.paid_at.desc())))
    return render("resident_medical/records.html", rows=rows, error=error,
                  start=request.args.get("start") or str(start), end=request.args.get("end") or str(end),
                  status=422 if error else 200)


@bp.get("/records/<int:payment_id>")
@login_required
def record(payment_id: int) -> Any:
    """One payment's 明细数据."""
    user = current_user()
    assert user is not None
    p = db().get(SettledPayment, payment_id)
    if p is None or (p.payer_id != user.id and p.receivable.insured_id != user.id) or p.receivable.scheme != rm.SCHEME:
        abort(404)
    return render("resident_medical/record.html", p=p)

