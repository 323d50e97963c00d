"""城乡居民医疗 (/rm): 缴费办理 for oneself or family, 已申报查询, 缴费记录查询 (R-RM-1 … R-RM-4).
Payment, 作废 and the result are the shared checkout (``pay``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from flask import Blueprint, abort, current_app, flash, g, redirect, request, session, url_for

from ..domain.calendar import Month
from ..domain.errors import NotFound, RuleViolation
from ..domain.inputs import parse_id
from ..domain.schemes import SCHEMES, SchemeCode
from ..services import declarations, identity
from ..services import resident_medical as rm
from ._checkout import record_page, records_page, to_method
from ._forms import InsuranceChoiceForm, OtherInsuredForm
from ._limits import configured, limiter, per_payer
from ._web import audit, clock, date_range, db, found, login_required, me, render

if TYPE_CHECKING:  # annotations only: views read the database through services
    from ..models import Person

bp = Blueprint("resident_medical", __name__, url_prefix="/rm")
SCHEME = SCHEMES[SchemeCode.RESIDENT_MEDICAL]


def _is_lookup() -> bool:
    """A POST that looks someone up by name and document (他人), not 本人 or a saved family member."""
    return request.method == "POST" and request.form.get("who") == "other"


@bp.route("/pay", methods=["GET", "POST"])
@login_required
@limiter.limit(configured("RATELIMIT_LOOKUP"), key_func=per_payer, exempt_when=lambda: not _is_lookup())
def pay() -> Any:
    """Step 1, 身份信息确认: 本人, a saved family member, or 他人 typed in (R-RM-1). The 他人 look-up answers
    only the guide's Q21 message when it finds no one, whatever the reason, and is rate-limited (R-ID-4)."""
    user = me()
    who = request.values.get("who", "self")
    form = OtherInsuredForm(formdata=request.form) if request.method == "POST" else OtherInsuredForm.blank()
    errors: dict[str, str] = {}
    if request.method == "POST":
        if who == "self":
            return _go_select(user.id)
        if who != "other":  # a saved family member, by id; anything else names no one
            family_id = parse_id(who)
            if family_id is None or not rm.may_pay_for(db(), user.id, family_id):
                abort(404)
            return _go_select(family_id)
        if not form.validate():
            errors = form.first_errors()
        else:
            try:
                insured = rm.find_insured(db(), form.name.data, form.id_type.data, form.id_number.data)
            except RuleViolation as e:
                errors["form"] = str(e)
            else:
                if insured.id == user.id:
                    return _go_select(user.id)
                if form.save.data:
                    rm.remember(db(), user.id, insured.id, form.relation.data)
                    audit("family.saved", str(insured.id))
                session["rm_other"] = insured.id
                return _go_select(insured.id)
    year, earlier = _years()
    return render(
        "resident_medical/pay.html",
        form={"who": who, **form.values()},
        errors=errors,
        steps=SCHEME.steps,
        year=year,
        sale=_sale_notice(year),
        members=rm.members(db(), user.id, year, earlier),
        relation_options={"": "请选择", **{r: r for r in rm.RELATIONS}},
        state_labels=rm.YEAR_STATE_LABELS,
        user=user,
        status=422 if errors else 200,
    )


@bp.get("/family")
@login_required
def family() -> Any:
    """家庭成员 (R-RM-5): each saved member with relationship and this year's state, 修改关系, 删除 (confirmed
    in the page: ``?remove=<id>`` shows the dialog), 为TA缴费 while unpaid, and their 缴费记录."""
    return _family_page()


def _years() -> tuple[int, tuple[int, ...]]:
    """The year the pages present and the earlier years still on sale (docs/policy.md §1)."""
    return rm.sale_years(str(current_app.config["REGION"]), clock().today())


def _sale_notice(year: int) -> str:
    return rm.sale_notice(str(current_app.config["REGION"]), clock().today(), year)


def _family_page(error: str | None = None, editing: int | None = None, status: int = 200) -> Any:
    user, (year, earlier) = me(), _years()
    confirm = None
    if "remove" in request.args:
        remove_id = parse_id(request.args.get("remove", ""))
        if remove_id is None:
            abort(404)
        with found():
            confirm = rm.member(db(), user.id, remove_id, year, earlier)
    return render(
        "resident_medical/family.html",
        members=rm.members(db(), user.id, year, earlier),
        year=year,
        relations=rm.RELATIONS,
        state_labels=rm.YEAR_STATE_LABELS,
        confirm=confirm,
        error=error,
        editing=editing,
        status=status,
    )


@bp.post("/family/<id:member_id>/relation")
@login_required
def family_relation(member_id: int) -> Any:
    """修改关系 of a saved family member (R-RM-5); a relationship the form does not offer keeps the page."""
    try:
        entry = rm.set_relation(db(), me().id, member_id, request.form.get("relation", "").strip())
    except NotFound:
        abort(404)
    except RuleViolation as e:
        return _family_page(str(e), editing=member_id, status=422)
    audit("family.relation", str(entry.insured_id), entry.relation or "")
    flash(f"已将{entry.insured.name}的关系改为{entry.relation}", "ok")
    return redirect(url_for("resident_medical.family"), 303)


@bp.post("/family/<id:member_id>/remove")
@login_required
def family_remove(member_id: int) -> Any:
    """删除 a saved family member after the in-page confirmation (R-RM-5); their payments stay in the records."""
    with found():
        name = rm.forget(db(), me().id, member_id)
    audit("family.removed", str(member_id))
    flash(f"已删除家庭成员{name}。已缴费记录仍可在缴费记录查询中查看。", "ok")
    return redirect(url_for("resident_medical.family"), 303)


def _go_select(insured_id: int) -> Any:
    return redirect(url_for("resident_medical.insurance", insured=insured_id), 303)


def _insured_or_404(insured_id: int) -> Person:
    user = me()
    allowed = rm.may_pay_for(db(), user.id, insured_id) or session.get("rm_other") == insured_id
    person = identity.person(db(), insured_id) if allowed else None
    if person is None:
        abort(404)
    return person


@bp.route("/pay/insurance", methods=["GET", "POST"])
@login_required
def insurance() -> Any:
    """Step 2, 参保信息选择 (seed 003 §2.1): the insured's 参保数据 (expand for its details); 勾选 → 下一步."""
    insured_id = parse_id(request.values.get("insured", ""))
    if insured_id is None:
        return redirect(url_for("resident_medical.pay"))
    insured = _insured_or_404(insured_id)
    error = None
    if request.method == "POST":
        choice = InsuranceChoiceForm(formdata=request.form)
        if choice.validate():
            return redirect(url_for("resident_medical.select", insured=insured.id), 303)
        error = choice.first_errors()["insurance"]
    year, earlier = _years()
    return render(
        "resident_medical/insurance.html",
        insured=insured,
        enrolment=rm.enrolment_of(db(), insured.id),
        year=year,
        state=rm.year_state(db(), insured.id, year, earlier),
        items=rm.receivables(db(), insured.id, clock().today()),
        category_label=rm.category_label,
        state_labels=rm.YEAR_STATE_LABELS,
        steps=SCHEME.steps,
        error=error,
        status=422 if error else 200,
    )


@bp.route("/pay/select", methods=["GET", "POST"], endpoint="select")
@login_required
def select_items() -> Any:
    """Step 3, 选择缴费信息: the receivables of the years on sale, with 明细数据; 提交 declares them (R-RM-2,
    R-PA-1, docs/policy.md §1)."""
    insured_id = parse_id(request.values.get("insured", ""))
    if insured_id is None:
        return redirect(url_for("resident_medical.pay"))
    insured = _insured_or_404(insured_id)
    error = None
    chosen = request.form.getlist("receivable") if request.method == "POST" else None
    if request.method == "POST":
        try:
            decl = rm.declare(db(), me().id, insured.id, chosen or [], str(g.channel), clock().now())
            return to_method(decl)
        except RuleViolation as e:
            error = str(e)
    return render(
        "resident_medical/select.html",
        insured=insured,
        items=rm.receivables(db(), insured.id, clock().today()),
        year=_years()[0],
        period_of=rm.period_of,
        category_label=rm.category_label,
        today=clock().today(),
        steps=SCHEME.steps,
        error=error,
        chosen=chosen,
        state=rm.status_of(db(), insured.id, clock().today()),
        status=422 if error else 200,
    )


@bp.get("/declared")
@login_required
def declared() -> Any:
    """已申报查询: declarations by date, including those made for others (R-RM-4), with 继续缴费 and 作废."""
    today = clock().today()
    start, end, error = date_range(today - timedelta(days=90), today)
    rows = []
    if not error:
        try:
            rows = declarations.declared_between(db(), me().id, SCHEME.code, start, end)
        except RuleViolation as e:
            error = str(e)
    return render(
        "resident_medical/declared.html",
        rows=rows,
        start=request.args.get("start") or start.isoformat(),
        end=request.args.get("end") or end.isoformat(),
        error=error,
        block="results",  # htmx asking from the form gets the results; a history restore, boost or refresh, the page
        status=422 if error else 200,
    )


@bp.get("/records")
@login_required
def records() -> Any:
    """缴费记录查询 by 费款所属期: what was paid for me, or by me (R-CE-1 columns)."""
    year = clock().today().year
    return records_page(SCHEME.code, Month(year - 1, 1), Month(max(year, _years()[0]), 12))


@bp.get("/records/<id:payment_id>")
@login_required
def record(payment_id: int) -> Any:
    """One payment's 明细数据."""
    return record_page(SCHEME.code, payment_id)
