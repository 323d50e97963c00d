"""灵活就业 (/flex): 缴费基数申报, 社保缴费办理, 应缴费信息查询, 缴费记录查询 (R-FB-*, R-FP-*).

Thin: parse, call ``services.flexible`` and the pure rules, render. Payment, 作废申报 and the result
are the shared checkout (``pay``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, current_app, g, request

from ..domain import basis as policy_basis
from ..domain import flexible as rules
from ..domain.calendar import Month
from ..domain.errors import RuleViolation
from ..domain.policy import NoPolicyError, PolicyTable, contribution_year, flex_policy
from ..domain.schemes import SCHEMES, SchemeCode
from ..models import Person, Receivable
from ..services import batch_debit
from ..services import flexible as accounts
from ._checkout import record_page, records_page, to_method
from ._web import audit, clock, db, login_required, me, render

bp = Blueprint("flexible", __name__, url_prefix="/flex")
SCHEME = SCHEMES[SchemeCode.FLEXIBLE]
STEPS = SCHEME.steps


# ------------------------------------------------------------------------------------- base (R-FB-*)


def _base_context(person: Person, typed: str | None = None) -> dict[str, Any]:
    """What the base page shows: the table, the window state, the cycles."""
    e = accounts.enrolment_of(db(), person.id)
    today = clock().today()
    if e is None:
        return {"enrolment": None, "rows": []}  # the page says so; the live amounts (htmx) are an empty table
    state = accounts.window_state(db(), e, today)
    year = state.target_year or contribution_year(today, e.region)
    policy, no_policy = accounts.policy_or_none(e.region, Month(year, 7).first_day if state.target_year else today)
    current = accounts.declared_base(db(), e, year)
    base_text = typed if typed is not None else (str(current.base) if current else "")
    rows, valid = _base_rows(e, policy, base_text)
    # The table echoes the base as the server read it (7000, not the ７０００ an input method typed).
    table_base = str(valid) if valid is not None else base_text
    # R-FB-5: judged at the start of the year declared for (a cycle runs for the whole year, R-FB-8); the
    # months that then fall within 12 months of retirement are billed monthly whatever was chosen.
    on = max(today, Month(year, accounts.region_year_start(e.region)).first_day) if state.target_year else today
    cycles = rules.allowed_cycles(person.birth_date, person.sex, on) if person.birth_date else list(rules.CYCLES)
    return {
        "enrolment": e,
        "state": state,
        "policy": policy,
        "no_policy": no_policy,
        "year": year,
        "current": current,
        "base_text": base_text,
        "table_base": table_base,
        "rows": rows,
        "cycles": cycles,
        "source_label": _source_label(current, policy),
        "cycle_labels": rules.CYCLE_LABELS,
        "cycle_rules": rules.cycle_rules_zh(accounts.region_year_start(e.region)),
        # seed 000 §2 步骤1: the table first, 点击【修改】 to change it; typing (or nothing declared yet) is editing
        "editing": typed is not None or current is None or request.args.get("edit") == "1",
        "basis_line": policy_basis.line_zh([policy]) if policy else "",
    }


def _source_label(current: Any, policy: rules.FlexPolicy | None) -> str:
    """Where this year's base came from, truthfully: a base brought into range was raised to a risen
    minimum or lowered to a fallen maximum (R-FB-4), never "低于下限" for the latter."""
    if current is None:
        return ""
    if current.source == "declared":
        return "本人申报"
    if current.source == "carried":
        return "沿用上年度基数"
    if policy is not None and current.base == policy.base_max and current.base != policy.base_min:
        return "上年度基数高于上限，按上限确定"
    return "上年度基数低于下限，按下限确定"


def _base_rows(e: Any, policy: rules.FlexPolicy | None, base_text: str) -> tuple[list[dict[str, Any]], int | None]:
    """险种 / 缴费基数 / 应缴金额 for each insurance; amounts only for a valid base."""
    base: int | None = None
    if policy is not None and not e.subsidized:
        try:
            base = rules.validate_base(base_text, None, policy)
        except RuleViolation:
            base = None
    rows = []
    for ins in accounts.insurances(e):
        amount, unknown = None, None
        if policy is not None:
            try:
                amount = (
                    rules.monthly_amount(base, policy, ins, e.subsidized)
                    if (base is not None or e.subsidized or ins == rules.MEDICAL)
                    else None
                )
            except NoPolicyError as err:
                unknown = str(err)  # the source gives no rate: said so, never invented
            except RuleViolation:
                amount = None
        rows.append(
            {
                "insurance": ins,
                "label": rules.INSURANCE_LABELS[ins],
                "amount": amount,
                "fixed": ins == rules.MEDICAL or e.subsidized,
                "unknown": unknown,
            }
        )
    return rows, base


@bp.get("/base")
@login_required
def base() -> Any:
    """灵活就业人员缴费基数申报: the guide's table, the window, the cycle."""
    return render("flexible/base.html", **_base_context(me()), errors={}, cycle=None)


@bp.post("/base/preview")
@login_required
def base_preview() -> Any:
    """The amounts as the user types (htmx): recomputed here, never in the browser."""
    ctx = _base_context(me(), typed=request.form.get("base", ""))
    return render("flexible/base.html", block="amounts", **ctx, errors={}, cycle=None)


@bp.post("/base")
@login_required
def base_submit() -> Any:
    """提交: declare the base for the window's contribution year (R-FB-1, R-FB-3, R-FB-5)."""
    person = me()
    typed = request.form.get("base", "")
    cycle = request.form.get("cycle", "monthly")
    e = accounts.enrolment_of(db(), person.id)
    if e is None:
        abort(404)
    today = clock().today()
    first = not accounts.has_declared(db(), e)
    try:
        row = accounts.declare_base(
            db(),
            e,
            pension=typed,
            unemployment=request.form.get("unemployment_base", typed),
            cycle=cycle,
            person=person,
            today=today,
        )
        audit("flex.base_declared", str(e.id), f"{row.contribution_year}:{row.base}:{cycle}")
    except (RuleViolation, NoPolicyError) as err:
        ctx = _base_context(person, typed=typed)
        return render("flexible/base.html", **ctx, errors={"base": str(err)}, cycle=cycle, status=422)
    year_first = Month(row.contribution_year, accounts.region_year_start(e.region))
    # A first declaration covers the months since enrolment (R-FB-7): it applies from the enrolment month, which
    # for a new enrollee (enrolled in October) is not the July the contribution year starts with.
    start = Month.of(e.enrolled_on) if first and e.enrolled_on else max(year_first, Month.of(today))
    applies = f"缴费基数自{start.label_zh()}属期起适用至{(year_first + 11).label_zh()}属期"
    if cycle != "monthly":
        applies += (
            f"；{rules.CYCLE_LABELS.get(cycle, cycle)}自{year_first.label_zh()}属期起生效，养老、失业保险费须在"
            f"每个周期的首个征期月到{rules.WINDOW_ONLY_PLACES}以协议支付方式缴纳，医疗保险仍按月缴费"
        )
    return render("flexible/base_done.html", row=row, cycle_label=rules.CYCLE_LABELS.get(cycle, cycle), applies=applies)


# ------------------------------------------------------------------------------------- pay (R-FP-*)


@bp.get("/pay")
@login_required
def pay() -> Any:
    """Step 1, 身份信息确认: oneself only (R-FP-6)."""
    person = me()
    e = accounts.enrolment_of(db(), person.id)
    return render("flexible/pay.html", person=person, enrolment=e, steps=STEPS)


@bp.route("/pay/select", methods=["GET", "POST"], endpoint="select")
@login_required
def select_items() -> Any:
    """Step 2, 选择缴费信息: 正常申报缴费 (rolling window) or 特殊核定缴费 (by notice number)."""
    person = me()
    tab = request.values.get("tab", "normal")
    if tab not in ("normal", "special"):
        tab = "normal"
    error = None
    chosen = request.form.getlist("receivable") if request.method == "POST" else None
    if request.method == "POST" and accounts.enrolment_of(db(), person.id) is not None:
        try:
            decl = accounts.declare_selection(
                db(), person, tab=tab, chosen=chosen or [], channel=str(g.channel), now=clock().now()
            )
            return to_method(decl)
        except RuleViolation as err:
            error = str(err)
    return render(
        "flexible/select.html", **_select_context(person, tab, chosen), error=error, status=422 if error else 200
    )


def _select_context(person: Person, tab: str, chosen: list[str] | None) -> dict[str, Any]:
    today = clock().today()
    e = accounts.enrolment_of(db(), person.id)
    items = accounts.items_of_tab(db(), person.id, tab, today) if e else []
    policy, no_policy = accounts.policy_or_none(e.region, today) if e else (None, None)
    groups: dict[str, list[Receivable]] = {}
    for r in items:
        key = r.insurance if tab == "normal" else (r.notice_no or "")
        groups.setdefault(key, []).append(r)
    selected = set(chosen) if chosen is not None else {str(r.id) for r in items}
    total = sum((r.amount for r in items if str(r.id) in selected), Decimal("0.00"))
    needs_base = bool(
        e
        and not e.subsidized
        and not accounts.has_declared(db(), e)
        and accounts.window_state(db(), e, today).can_change
    )
    return {
        "tab": tab,
        "items": items,
        "groups": groups,
        "selected": selected,
        "total": total,
        "enrolment": e,
        "window": accounts.pay_window(db(), person.id, clock().now()) if e else None,
        "policy": policy,
        "no_policy": no_policy,
        "lapse": rules.lapse_warning(accounts.unpaid_medical_periods(db(), person.id, today), today) if e else None,
        "charge_type_of": lambda r: rules.CHARGE_TYPE_LABELS.get(accounts.charge_type_of(r, today), ""),
        "labels": rules.INSURANCE_LABELS,
        "steps": STEPS,
        "needs_base": needs_base,
        "special_count": len(accounts.special_receivables(db(), person.id)) if e else 0,
        "open_decls": accounts.open_declarations(db(), person.id, tab) if e else [],
        **_basis_of(e, items if tab == "normal" else []),
        "window_only": accounts.window_only(db(), person.id, today) if e and tab == "normal" else [],
        "failures": batch_debit.failures_for(db(), person.id, today, SchemeCode.FLEXIBLE) if e else [],
    }


def _policies(e: Any, items: list[Receivable]) -> list[rules.FlexPolicy]:
    """The numbers behind the listed months, one policy per contribution year, oldest first: the page says in one
    line which year's numbers it uses (暂按上年度 only where a listed month is provisional, R-FB-6) and links to
    their 依据, where derived and unconfirmed numbers are marked."""
    found: dict[int, rules.FlexPolicy] = {}
    for month in sorted({Month.of(r.fee_period_start) for r in items if r.charge_type == "normal"}):
        policy, _ = accounts.policy_or_none(e.region, month.first_day)
        if policy is not None:
            found.setdefault(policy.contribution_year, policy)
    return list(found.values())


def _basis_of(e: Any, items: list[Receivable]) -> dict[str, Any]:
    """The 依据 line of a bill list: which year's numbers, and the year its link opens (the newest listed)."""
    policies = _policies(e, items) if e else []
    return {
        "basis_line": policy_basis.line_zh(policies),
        "basis_year": policies[-1].contribution_year if policies else None,
    }


@bp.get("/basis")
def basis() -> Any:
    """依据: a contribution year's numbers, how sure each is, and their source (public, like the guides)."""
    region = request.args.get("region") or str(current_app.config["REGION"])
    table = PolicyTable.load()
    try:
        start = table.region(region).year_start_month
    except NoPolicyError:
        abort(404)
    year_text = request.args.get("year", "")
    today = clock().today()
    year = int(year_text) if year_text.isascii() and year_text.isdigit() and len(year_text) == 4 else None
    try:
        policy = flex_policy(region, Month(year, start) if year else today, table)
    except NoPolicyError as err:
        return render(
            "flexible/basis.html", basis=None, error=str(err), years=table.flex_years(region), region=region, year=year
        )
    return render(
        "flexible/basis.html",
        basis=policy_basis.flex_basis(policy),
        error=None,
        years=table.flex_years(region),
        region=region,
        year=policy.contribution_year,
    )


@bp.post("/pay/total")
@login_required
def total() -> Any:
    """The live 合计 (htmx): summed here from the stored receivables the user ticked (R-MO-2)."""
    person = me()
    tab = request.form.get("tab", "normal")
    return render(
        "flexible/select.html",
        block="total",
        **_select_context(
            person, tab if tab in ("normal", "special") else "normal", request.form.getlist("receivable")
        ),
        error=None,
    )


# ------------------------------------------------------------------------------------- due (R-FP-8)


@bp.get("/due")
@login_required
def due() -> Any:
    """应缴费信息查询: 待申报 (can be paid) and 已申报待缴款 (paid or voided) (R-FP-8)."""
    person = me()
    today = clock().today()
    e = accounts.enrolment_of(db(), person.id)
    pending = (
        accounts.window_receivables(db(), person.id, today) + accounts.special_receivables(db(), person.id) if e else []
    )
    window_only = (
        {r.id: message for message, rows in accounts.window_only(db(), person.id, today) for r in rows} if e else {}
    )
    return render(
        "flexible/due.html",
        enrolment=e,
        pending=pending,
        window_only=window_only,
        failures=batch_debit.failures_for(db(), person.id, today, SchemeCode.FLEXIBLE) if e else [],
        by_decl=accounts.declared_receivables(db(), person.id) if e else {},
        labels=rules.INSURANCE_LABELS,
        charge_type_of=lambda r: rules.CHARGE_TYPE_LABELS.get(accounts.charge_type_of(r, today), ""),
        lapse=rules.lapse_warning(accounts.unpaid_medical_periods(db(), person.id, today), today) if e else None,
    )


# ------------------------------------------------------------------------------------- records


@bp.get("/records")
@login_required
def records() -> Any:
    """灵活就业人员缴费记录查询 by 费款所属期."""
    this = Month.of(clock().today())
    return records_page(SCHEME.code, this + -12, this)


@bp.get("/records/<id:payment_id>")
@login_required
def record(payment_id: int) -> Any:
    """One payment's 明细数据."""
    return record_page(SCHEME.code, payment_id)
