"""城乡居民养老 (/rp): 城乡居民养老保险办理 (身份信息确认 → 选择参保信息 → 正常缴费 / 特殊缴费 → 提交),
批量扣款缴费金额设置 and 作废, 申报记录查询, 已缴费查询 (R-RP-1 … R-RP-4). Oneself only.

Thin: parse, call ``services.resident_pension``, render. Payment, 作废 of a declaration and the result are
the shared checkout (``pay``). Confirmations are in-page dialogs rendered by the server (no ``confirm()``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from flask import Blueprint, abort, flash, g, redirect, request, url_for

from ..domain import pension as rules
from ..domain.calendar import Month
from ..domain.errors import RuleViolation
from ..domain.money import format_yuan
from ..domain.policy import NoPolicyError
from ..domain.schemes import SCHEMES, SchemeCode
from ..domain.statuses import DeclarationKind
from ..services import batch_debit, rp_pages
from ..services import resident_pension as rp
from ..services.pages import as_context
from ._checkout import record_page, records_page, to_method
from ._web import audit, clock, date_range, db, found, keep_on_expiry, login_required, me, render

if TYPE_CHECKING:  # annotations only: views read the database through services
    from ..models import Enrolment, Person

bp = Blueprint("resident_pension", __name__, url_prefix="/rp")
SCHEME = SCHEMES[SchemeCode.RESIDENT_PENSION]
STEPS = SCHEME.steps


def _year() -> int:
    return rules.pension_year(clock().today())


def _id(text: str | None) -> int | None:
    """A form or query id: ASCII digits, at most 18 of them; anything else is None."""
    text = text or ""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


# ------------------------------------------------------------------------------------- 办理 (R-RP-2)


@bp.get("/pay")
@login_required
def pay() -> Any:
    """Step 1, 身份信息确认: the payer's own data (resident pension is paid for oneself only)."""
    person = me()
    e = rp.enrolment_of(db(), person.id)
    return render(
        "resident_pension/pay.html",
        person=person,
        enrolment=e,
        steps=STEPS,
        failures=batch_debit.failures_for(db(), person.id, clock().today(), SCHEME.code) if e else [],
    )


@bp.route("/pay/insurance", methods=["GET", "POST"])
@login_required
def insurance() -> Any:
    """Step 2, 选择参保信息: the insurance data, each with its 明细 (expand); 下一步 with the ticked ones."""
    person = me()
    e = rp.enrolment_of(db(), person.id)
    if e is None:
        return redirect(url_for("resident_pension.pay"))
    error = None
    chosen = request.form.getlist("insurance") if request.method == "POST" else None
    if request.method == "POST":
        picked = [i for i in rp.insurances(e) if i in (chosen or [])]
        if picked:
            return redirect(url_for("resident_pension.select", insurance=picked), 303)
        error = "请勾选需要缴费的参保险种"
    year = _year()
    rows = rp_pages.insurance_rows(db(), person, e, year)
    return render(
        "resident_pension/insurance.html",
        person=person,
        enrolment=e,
        rows=rows,
        year=year,
        chosen=chosen,
        error=error,
        steps=STEPS,
        status=422 if error else 200,
    )


@bp.route("/pay/select", methods=["GET", "POST"], endpoint="select")
@login_required
@keep_on_expiry("tab", "insurance", "receivable")
def select_items() -> Any:
    """Step 3, 选择缴费信息: 正常缴费 (the amount set) or 特殊缴费 (人社核定); 提交 declares the ticked items."""
    person = me()
    e = rp.enrolment_of(db(), person.id)
    if e is None:
        return redirect(url_for("resident_pension.pay"))
    tab = DeclarationKind.of(request.values.get("tab"))
    chosen_insurances = rp_pages.chosen_insurances(e, request.values.getlist("insurance"))
    chosen = (
        request.values.getlist("receivable") if "receivable" in request.values or request.method == "POST" else None
    )
    error = None
    if request.method == "POST":
        try:
            decl = rp.declare_selection(
                db(),
                person,
                tab=tab,
                chosen_insurances=chosen_insurances,
                chosen=chosen or [],
                channel=str(g.channel),
                now=clock().now(),
            )
            return to_method(decl)
        except RuleViolation as err:
            error = str(err)
    return render(
        "resident_pension/select.html",
        **as_context(rp_pages.select_page(db(), person, e, tab, chosen_insurances, chosen, clock().today())),
        error=error,
        status=422 if error else 200,
    )


@bp.post("/pay/total")
@login_required
def total() -> Any:
    """The live 合计 (htmx): summed here from the stored receivables the user ticked (R-MO-2)."""
    person = me()
    e = rp.enrolment_of(db(), person.id)
    if e is None:
        abort(404)
    page = rp_pages.select_page(
        db(),
        person,
        e,
        request.form.get("tab"),
        rp_pages.chosen_insurances(e, request.form.getlist("insurance")),
        request.form.getlist("receivable"),
        clock().today(),
    )
    return render("resident_pension/select.html", block="total", **as_context(page), error=None)


# ------------------------------------------------------------------------------------- 缴费金额 (R-RP-1)


def _amount_context(person: Person, e: Enrolment | None, year: int, typed: dict[str, str]) -> dict[str, Any]:
    rows = []
    no_policy = None
    if e is not None:
        try:
            grades = rp.grades_for(e, year)
        except NoPolicyError as err:
            grades, no_policy = (), f"{err}，暂不能设置缴费金额。"
        for i in rp.insurances(e):
            current = rp.active_amount(db(), e.id, i, year)
            rows.append(
                {
                    "insurance": i,
                    "label": rules.LABELS[i],
                    "current": current,
                    "status": rp.year_status(db(), person.id, i, year),
                    "value": typed.get(i, str(int(current.amount)) if current else ""),
                }
            )
    else:
        grades = ()
    return {
        "person": person,
        "enrolment": e,
        "year": year,
        "rows": rows,
        "no_policy": no_policy,
        "grade_options": {"": "请选择缴费金额", **{str(int(g)): rules.grade_text(g) for g in grades}},
        "assumptions": rp.assumptions(e, year) if e is not None else [],
    }


@bp.route("/amount", methods=["GET", "POST"])
@login_required
@keep_on_expiry(*(f"amount_{i}" for i in rules.INSURANCES))
def amount() -> Any:
    """批量扣款缴费金额设置: a grade per insurance; 提交 creates (or reprices) the year's receivable, then the
    guide's prompt whose 确定 leads back to 城乡居民养老保险办理 (R-RP-1)."""
    person = me()
    e = rp.enrolment_of(db(), person.id)
    year = _year()
    typed = {i: request.values.get(f"amount_{i}", "") for i in rules.INSURANCES if f"amount_{i}" in request.values}
    errors: dict[str, str] = {}
    if request.method == "POST" and e is not None:
        try:
            done = rp.set_amounts(db(), person.id, typed, year=year, now=clock().now())
        except rp.AmountRefused as err:
            errors = err.errors
        else:
            audit("rp.amount_submitted", ",".join(str(a.id) for a in done))
            return redirect(url_for("resident_pension.amount", done=[a.id for a in done]), 303)
    ctx = _amount_context(person, e, year, typed)
    done_ids = {i for i in (_id(v) for v in request.args.getlist("done")) if i is not None}
    done = [a for a in rp.amounts_of(db(), person.id) if a.id in done_ids] if done_ids else []
    prompt = (
        (
            "缴费金额设置成功，已上传至税务系统并生成对应的缴费信息："
            + "；".join(f"{a.year}年度{rules.LABELS[a.insurance]}，应缴费额¥{format_yuan(a.amount)}" for a in done)
            + "。点击确定，前往城乡居民养老保险办理缴费。"
        )
        if done
        else None
    )
    return render("resident_pension/amount.html", **ctx, errors=errors, prompt=prompt, status=422 if errors else 200)


@bp.route("/amount/void", methods=["GET", "POST"])
@login_required
@keep_on_expiry("amount_id")
def amount_void() -> Any:
    """批量扣款缴费金额作废: choose a set amount, 作废, confirm in the page (确定); within its 缴费金额有效期起止
    the batch debit then skips that insurance (R-RP-1)."""
    person = me()
    chosen = request.values.get("amount_id", "")
    error = None
    confirm = None
    if request.method == "POST":
        amount_id = _id(chosen)
        try:
            if amount_id is None:
                raise RuleViolation("请选择需要作废的缴费金额")
            with found():
                if request.form.get("confirmed") != "1":
                    confirm = rp.voidable(db(), person.id, amount_id, clock().now())  # 确定 posts again
                else:
                    a = rp.void_amount(db(), person.id, amount_id, clock().now())
                    flash(
                        f"已作废。{a.valid_from:%Y-%m-%d}至{a.valid_to:%Y-%m-%d}内，{rules.LABELS[a.insurance]}"
                        "不再批量扣款。",
                        "ok",
                    )
                    return redirect(url_for("resident_pension.amount_void"), 303)
        except RuleViolation as err:
            error = str(err)
    amounts = rp.amounts_of(db(), person.id)
    today = clock().today()
    return render(
        "resident_pension/amount_void.html",
        person=person,
        amounts=amounts,
        refusals={a.id: rp.void_refusal(a, today) for a in amounts if a.status == "active"},
        chosen=chosen,
        error=error,
        confirm=confirm,
        labels=rules.LABELS,
        status=422 if error else 200,
    )


# ------------------------------------------------------------------------------------- records (R-RP-3, R-RP-4)


@bp.get("/declared")
@login_required
def declared() -> Any:
    """申报记录查询: declarations by declaration date, 申报成功 / 申报处理中 / 已作废, with 作废 (confirmed in the
    page: ``?void=<id>`` shows the dialog) and 继续缴费 on a successful unpaid one (R-RP-3)."""
    today = clock().today()
    start, end, error = date_range(today - timedelta(days=90), today)
    rows: list[rp.DeclarationRow] = []
    if not error:
        try:
            rows = rp.declaration_rows(db(), me().id, start, end)
        except RuleViolation as err:
            error = str(err)
    start_text, end_text = request.args.get("start") or start.isoformat(), request.args.get("end") or end.isoformat()
    confirm = None
    if "void" in request.args:
        void_id = _id(request.args.get("void"))
        if void_id is None:
            abort(404)
        with found():
            confirm = rp.declaration_row(db(), me().id, void_id)
        if not confirm.actionable:
            error, confirm = f"该申报{confirm.state}，不能作废" if not confirm.paid else "该申报已缴费，不能作废", None
    return render(
        "resident_pension/declared.html",
        rows=rows,
        start=start_text,
        end=end_text,
        error=error,
        confirm=confirm,
        labels=rules.LABELS,
        back=url_for("resident_pension.declared", start=start_text, end=end_text),
        block="results",  # htmx asking from the form gets the results; a history restore, boost or refresh, the page
        status=422 if error else 200,
    )


@bp.get("/records")
@login_required
def records() -> Any:
    """已缴费查询 by 费款所属期 (本人; R-CE-1 columns) (R-RP-4)."""
    year = _year()
    return records_page(SCHEME.code, Month(year - 1, 1), Month(year, 12))


@bp.get("/records/<id:payment_id>")
@login_required
def record(payment_id: int) -> Any:
    """One payment's 明细数据."""
    return record_page(SCHEME.code, payment_id)
