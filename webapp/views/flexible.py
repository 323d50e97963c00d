"""灵活就业 (/flex): 缴费基数申报, 社保缴费办理, 应缴费信息查询, 缴费记录查询 (R-FB-*, R-FP-*).

Thin: parse, call ``services.flexible`` (the use cases) or ``services.flex_pages`` (each page's read model),
render. Payment, 作废申报 and the result
are the shared checkout (``pay``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, g, request

from ..domain import basis as policy_basis
from ..domain import flexible as rules
from ..domain.calendar import Month
from ..domain.errors import RuleViolation
from ..domain.policy import NoPolicyError, PolicyTable, flex_policy
from ..domain.schemes import SCHEMES, SchemeCode
from ..services import flex_pages, flexible
from ..services.pages import as_context
from ._checkout import record_page, records_page, to_method
from ._web import audit, clock, db, login_required, me, render

bp = Blueprint("flexible", __name__, url_prefix="/flex")
SCHEME = SCHEMES[SchemeCode.FLEXIBLE]
STEPS = SCHEME.steps


# ------------------------------------------------------------------------------------- base (R-FB-*)


def _base_page(typed: str | None = None) -> dict[str, Any]:
    return as_context(
        flex_pages.base_page(db(), me(), clock().today(), typed=typed, edit=request.args.get("edit") == "1")
    )


@bp.get("/base")
@login_required
def base() -> Any:
    """灵活就业人员缴费基数申报: the guide's table, the window, the cycle."""
    return render("flexible/base.html", **_base_page(), errors={}, cycle=None)


@bp.post("/base/preview")
@login_required
def base_preview() -> Any:
    """The amounts as the user types (htmx): recomputed here, never in the browser."""
    ctx = _base_page(typed=request.form.get("base", ""))
    return render("flexible/base.html", block="amounts", **ctx, errors={}, cycle=None)


@bp.post("/base")
@login_required
def base_submit() -> Any:
    """提交: declare the base for the window's contribution year (R-FB-1, R-FB-3, R-FB-5)."""
    person = me()
    typed = request.form.get("base", "")
    cycle = request.form.get("cycle", "monthly")
    e = flexible.enrolment_of(db(), person.id)
    if e is None:
        abort(404)
    today = clock().today()
    first = not flexible.has_declared(db(), e)
    try:
        row = flexible.declare_base(
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
        ctx = _base_page(typed=typed)
        return render("flexible/base.html", **ctx, errors={"base": str(err)}, cycle=cycle, status=422)
    year_first = Month(row.contribution_year, flexible.region_year_start(e.region))
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
    e = flexible.enrolment_of(db(), person.id)
    return render("flexible/pay.html", person=person, enrolment=e, steps=STEPS)


@bp.route("/pay/select", methods=["GET", "POST"], endpoint="select")
@login_required
def select_items() -> Any:
    """Step 2, 选择缴费信息: 正常申报缴费 (rolling window) or 特殊核定缴费 (by notice number)."""
    person = me()
    tab = flexible.tab_of(request.values.get("tab"))
    error = None
    chosen = request.form.getlist("receivable") if request.method == "POST" else None
    if request.method == "POST" and flexible.enrolment_of(db(), person.id) is not None:
        try:
            decl = flexible.declare_selection(
                db(), person, tab=tab, chosen=chosen or [], channel=str(g.channel), now=clock().now()
            )
            return to_method(decl)
        except RuleViolation as err:
            error = str(err)
    return render("flexible/select.html", **_select_page(tab, chosen), error=error, status=422 if error else 200)


def _select_page(tab: str, chosen: list[str] | None) -> dict[str, Any]:
    return as_context(flex_pages.select_page(db(), me(), tab, chosen, clock().now(), clock().today()))


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
    tab = flexible.tab_of(request.form.get("tab"))
    return render(
        "flexible/select.html", block="total", **_select_page(tab, request.form.getlist("receivable")), error=None
    )


# ------------------------------------------------------------------------------------- due (R-FP-8)


@bp.get("/due")
@login_required
def due() -> Any:
    """应缴费信息查询: 待申报 (can be paid) and 已申报待缴款 (paid or voided) (R-FP-8)."""
    return render("flexible/due.html", **as_context(flex_pages.due_page(db(), me(), clock().today())))


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
