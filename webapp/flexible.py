"""灵活就业 (/flex): 缴费基数申报, 社保缴费办理, 应缴费信息查询, 缴费记录查询 (R-FB-*, R-FP-*).

Thin: parse, call ``domain.flex_accounts`` / ``domain.flexible``, render.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, g, redirect, request, session, url_for
from sqlalchemy import select

from .domain import declarations
from .domain import flex_accounts as accounts
from .domain import flexible as rules
from .domain.calendar import Month
from .domain.declarations import RuleViolation
from .domain.policy import NoPolicyError, contribution_year
from .models import Person, Receivable, SettledPayment
from .pay import close_open_order, payment_methods, start_payment_form
from .payments.orders import OrderError
from .web import audit, clock, current_user, db, login_required, month_arg, render

bp = Blueprint("flexible", __name__, url_prefix="/flex")
STEPS = ["身份信息确认", "选择缴费信息", "选择支付方式"]


def _me() -> Person:
    user = current_user()
    assert user is not None
    return user


# ------------------------------------------------------------------------------------- base (R-FB-*)


def _base_context(person: Person, typed: str | None = None) -> dict[str, Any]:
    """What the base page shows: the table, the window state, the cycles."""
    e = accounts.enrolment_of(db(), person.id)
    today = clock().today()
    if e is None:
        return {"enrolment": None}
    state = accounts.window_state(db(), e, today)
    year = state.target_year or contribution_year(today, e.region)
    policy, no_policy = accounts.policy_or_none(e.region, Month(year, 7).first_day if state.target_year else today)
    current = accounts.declared_base(db(), e, year)
    base_text = typed if typed is not None else (str(current.base) if current else "")
    rows = _base_rows(e, policy, base_text)
    cycles = rules.allowed_cycles(person.birth_date, person.sex, today) if person.birth_date else list(rules.CYCLES)
    return {"enrolment": e, "state": state, "policy": policy, "no_policy": no_policy, "year": year,
            "current": current, "base_text": base_text, "rows": rows, "cycles": cycles,
            "cycle_labels": rules.CYCLE_LABELS}


def _base_rows(e: Any, policy: rules.FlexPolicy | None, base_text: str) -> list[dict[str, Any]]:
    """险种 / 缴费基数 / 应缴金额 for each insurance; amounts only for a valid base."""
    base: int | None = None
    if policy is not None and not e.subsidized:
        try:
            base = rules.validate_base(base_text, None, policy)
        except RuleViolation:
            base = None
    rows = []
    for ins in accounts.insurances(e):
        amount = None
        if policy is not None:
            try:
                amount = rules.monthly_amount(base, policy, ins, e.subsidized) if (
                    base is not None or e.subsidized or ins == rules.MEDICAL) else None
            except (NoPolicyError, RuleViolation):
                amount = None
        rows.append({"insurance": ins, "label": rules.INSURANCE_LABELS[ins], "amount": amount,
                     "fixed": ins == rules.MEDICAL or e.subsidized})
    return rows


@bp.get("/base")
@login_required
def base() -> Any:
    """灵活就业人员缴费基数申报: the guide's table, the window, the cycle."""
    return render("flexible/base.html", **_base_context(_me()), errors={}, cycle=None)


@bp.post("/base/preview")
@login_required
def base_preview() -> Any:
    """The amounts as the user types (htmx): recomputed here, never in the browser."""
    ctx = _base_context(_me(), typed=request.form.get("base", ""))
    return render("flexible/base.html", block="amounts", **ctx, errors={}, cycle=None)


@bp.post("/base")
@login_required
def base_submit() -> Any:
    """提交: declare the base for the window's contribution year (R-FB-1, R-FB-3, R-FB-5)."""
    person = _me()
    typed = request.form.get("base", "")
    cycle = request.form.get("cycle", "monthly")
    e = accounts.enrolment_of(db(), person.id)
    if e is None:
        abort(404)
    try:
        row = accounts.declare_base(db(), e, pension=typed, unemployment=request.form.get("unemployment_base", typed),
                                    cycle=cycle, person=person, today=clock().today())
        audit("flex.base_declared", str(e.id), f"{row.contribution_year}:{row.base}:{cycle}")
        db().commit()
    except (RuleViolation, NoPolicyError) as err:
        db().rollback()
        ctx = _base_context(person, typed=typed)
        return render("flexible/base.html", **ctx, errors={"base": str(err)}, cycle=cycle, status=422)
    return render("flexible/base_done.html", row=row, cycle_label=rules.CYCLE_LABELS.get(cycle, cycle))


# ------------------------------------------------------------------------------------- pay (R-FP-*)


@bp.get("/pay")
@login_required
def pay() -> Any:
    """Step 1, 身份信息确认: oneself only (R-FP-6)."""
    person = _me()
    e = accounts.enrolment_of(db(), person.id)
    return render("flexible/pay.html", person=person, enrolment=e, steps=STEPS)


def _pay_state(person: Person) -> Any:
    e = accounts.enrolment_of(db(), person.id)
    return rules.can_pay_now(clock().now(), bool(e and e.batch_debit))


@bp.route("/pay/select", methods=["GET", "POST"], endpoint="select")
@login_required
def select_items() -> Any:
    """Step 2, 选择缴费信息: 正常申报缴费 (rolling window) or 特殊核定缴费 (by notice number)."""
    person = _me()
    tab = request.values.get("tab", "normal")
    if tab not in ("normal", "special"):
        tab = "normal"
    e = accounts.enrolment_of(db(), person.id)
    if e is None:
        return render("flexible/select.html", **_select_context(person, tab, None), error=None)
    error = None
    chosen = request.form.getlist("receivable") if request.method == "POST" else None
    window = _pay_state(person)
    if request.method == "POST":
        try:
            if not window.open:
                raise RuleViolation(window.message_zh)
            ids = declarations.parse_ids(chosen or [])
            items = _items(person, tab)
            checked = (rules.validate_normal_selection if tab == "normal" else rules.validate_special_selection)(
                ids, accounts.as_rule_items(items, clock().today()))
            decl = declarations.declare(db(), payer_id=person.id, insured_id=person.id, scheme=accounts.SCHEME,
                                        receivable_ids=[i.id for i in checked], channel=str(g.channel),
                                        now=clock().now(), kind=tab)
            audit("declaration.created", str(decl.id), f"{decl.total_fen}")
            db().commit()
            return redirect(url_for("flexible.method", declaration_id=decl.id), 303)
        except RuleViolation as err:
            db().rollback()
            error = str(err)
    return render("flexible/select.html", **_select_context(person, tab, chosen), error=error,
                  status=422 if error else 200)


def _items(person: Person, tab: str) -> list[Receivable]:
    today = clock().today()
    if tab == "special":
        return accounts.special_receivables(db(), person.id)
    return accounts.window_receivables(db(), person.id, today)


def _select_context(person: Person, tab: str, chosen: list[str] | None) -> dict[str, Any]:
    today = clock().today()
    e = accounts.enrolment_of(db(), person.id)
    items = _items(person, tab) if e else []
    policy, no_policy = accounts.policy_or_none(e.region, today) if e else (None, None)
    groups: dict[str, list[Receivable]] = {}
    for r in items:
        key = r.insurance if tab == "normal" else (r.notice_no or "")
        groups.setdefault(key, []).append(r)
    selected = set(chosen) if chosen is not None else {str(r.id) for r in items}
    total = sum((r.amount for r in items if str(r.id) in selected), Decimal("0.00"))
    needs_base = bool(e and not e.subsidized and not accounts.has_declared(db(), e) and not items
                      and accounts.window_state(db(), e, today).reason == "new_enrollee")
    return {"tab": tab, "items": items, "groups": groups, "selected": selected, "total": total,
            "enrolment": e, "window": _pay_state(person) if e else None, "policy": policy, "no_policy": no_policy,
            "lapse": rules.lapse_warning(accounts.unpaid_medical_periods(db(), person.id, today), today) if e else None,
            "charge_type_of": lambda r: rules.CHARGE_TYPE_LABELS.get(accounts.charge_type_of(r, today), ""),
            "labels": rules.INSURANCE_LABELS, "steps": STEPS, "needs_base": needs_base,
            "special_count": len(accounts.special_receivables(db(), person.id)) if e else 0}


@bp.post("/pay/total")
@login_required
def total() -> Any:
    """The live 合计 (htmx): summed here from the stored receivables the user ticked (R-MO-2)."""
    person = _me()
    tab = request.form.get("tab", "normal")
    return render("flexible/select.html", block="total",
                  **_select_context(person, tab if tab in ("normal", "special") else "normal",
                                    request.form.getlist("receivable")), error=None)


@bp.route("/pay/<int:declaration_id>/method", methods=["GET", "POST"])
@login_required
def method(declaration_id: int) -> Any:
    """Step 3, 选择支付方式 for a flexible-worker declaration."""
    decl = declarations.declaration_of(db(), _me().id, declaration_id)
    if decl is None or decl.scheme != accounts.SCHEME:
        abort(404)
    window = _pay_state(_me())
    if request.method == "POST" and not window.open:
        return render("resident_medical/method.html", decl=decl, chosen="", error=window.message_zh,
                      open_order=None, steps=STEPS, methods=payment_methods(accounts.SCHEME), status=422)
    return start_payment_form(decl, "resident_medical/method.html", steps=STEPS,
                              methods=payment_methods(accounts.SCHEME))


# ------------------------------------------------------------------------------------- due (R-FP-8)


@bp.get("/due")
@login_required
def due() -> Any:
    """应缴费信息查询: 待申报 (can be paid) and 已申报待缴款 (paid or voided)."""
    person = _me()
    today = clock().today()
    e = accounts.enrolment_of(db(), person.id)
    pending = accounts.window_receivables(db(), person.id, today) + accounts.special_receivables(db(), person.id) \
        if e else []
    declared_rows = list(db().scalars(select(Receivable).where(
        Receivable.insured_id == person.id, Receivable.scheme == accounts.SCHEME, Receivable.status == "declared"
    ).order_by(Receivable.declaration_id, Receivable.fee_period_start))) if e else []
    by_decl: dict[int, list[Receivable]] = {}
    for r in declared_rows:
        by_decl.setdefault(r.declaration_id or 0, []).append(r)
    flash = session.pop("flash", None)
    return render("flexible/due.html", enrolment=e, pending=pending, by_decl=by_decl, flash=flash,
                  labels=rules.INSURANCE_LABELS,
                  charge_type_of=lambda r: rules.CHARGE_TYPE_LABELS.get(accounts.charge_type_of(r, today), ""),
                  lapse=rules.lapse_warning(accounts.unpaid_medical_periods(db(), person.id, today), today)
                  if e else None)


@bp.post("/due/<int:declaration_id>/void")
@login_required
def void(declaration_id: int) -> Any:
    """作废申报: an unpaid flexible-worker declaration goes back to 待申报."""
    decl = declarations.declaration_of(db(), _me().id, declaration_id)
    if decl is None or decl.scheme != accounts.SCHEME:
        abort(404)
    message, kind = "已作废申报，可重新缴费", "ok"
    try:
        if close_open_order(decl):
            message = "该申报在作废前已支付成功，无需作废"
        else:
            declarations.void(db(), decl, clock().now())
            audit("declaration.voided", str(decl.id))
            db().commit()
    except (RuleViolation, OrderError) as err:
        db().rollback()
        message, kind = str(err), "warn"
    session["flash"] = {"message": message, "kind": kind}
    return redirect(url_for("flexible.due"), 303)


# ------------------------------------------------------------------------------------- records


@bp.get("/records")
@login_required
def records() -> Any:
    """灵活就业人员缴费记录查询 by 费款所属期."""
    person = _me()
    this = Month.of(clock().today())
    start, e1 = month_arg("start", this + -12)
    end, e2 = month_arg("end", this)
    error = e1 or e2 or ("起始所属期不能晚于截止所属期" if start > end else None)
    rows: list[SettledPayment] = []
    if not error:
        rows = list(db().scalars(select(SettledPayment).join(Receivable).where(
            Receivable.insured_id == person.id, Receivable.scheme == accounts.SCHEME,
            Receivable.fee_period_start >= start.first_day, Receivable.fee_period_start <= end.first_day
        ).order_by(Receivable.fee_period_start.desc(), Receivable.id)))
    return render("flexible/records.html", rows=rows, error=error, labels=rules.INSURANCE_LABELS,
                  start=request.args.get("start") or str(start), end=request.args.get("end") or str(end),
                  status=422 if error else 200)


@bp.get("/records/<int:payment_id>")
@login_required
def record(payment_id: int) -> Any:
    """One payment's 明细数据."""
    p = db().get(SettledPayment, payment_id)
    if p is None or p.receivable.insured_id != _me().id or p.receivable.scheme != accounts.SCHEME:
        abort(404)
    return render("flexible/record.html", p=p, labels=rules.INSURANCE_LABELS,
                  charge_type=rules.CHARGE_TYPE_LABELS.get(p.receivable.charge_type, "正常申报缴费"))
