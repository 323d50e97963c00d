"""银联云闪付 · 社保缴费 (/qd/unionpay, seed 002 云闪付, R-QD-8): the home's three menus 社保（养老）自助缴费,
医保（医疗）自助缴费 (this year; the base set, changed and voided — 基数作废 — in the same page, with 是否允许用于批扣)
and 社保（医保）费补缴 (earlier years: pension or medical, then 缴费所属期), 缴费明细查询 in each, and the promise
如有已扣款缴费未成功的情况，费用将自动退款 (the reconcile job keeps it, R-PA-5).

Each menu's first step is 输入姓名、证件类型、证件号码 (R-QD-2's finding: the identity register, counted per client
and per ID before it is judged); the finding is the one Qingdao's pages keep (session ``qd_found``), so 确认缴费
continues in the shared Qingdao checkout (``qingdao.order`` → the cashier → 缴费成功 → 完成). Thin: the services
``qingdao`` and ``qd_unionpay`` decide.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Blueprint, abort, g, redirect, request, session, url_for

from ..domain import qingdao as rules
from ..domain.certificates import mask_number
from ..domain.errors import RuleViolation
from ..domain.identity import ID_TYPES, IdentityError, mask_id_number, mask_name, normalize_id_number
from ..domain.money import fen_to_yuan
from ..services import declarations
from ..services import qd_unionpay as up
from ..services import qingdao as qd
from ._attempts import Refused, too_many
from ._limits import per_address
from ._qd_finding import found_person, look_up, reserve_lookup
from ._web import clock, db, render

if TYPE_CHECKING:  # annotations only: views read the database through services
    from ..models import Person

bp = Blueprint("qd_unionpay", __name__, url_prefix="/qd/unionpay")
CHANNEL = "qd-unionpay"
PROMISE = "如有已扣款缴费未成功的情况，费用将自动退款。"


def _page(template: str, status: int = 200, **context: Any) -> Any:
    return render(
        f"qd_unionpay/{template}",
        status=status,
        menus=up.MENUS,
        promise=PROMISE,
        mask=mask_number,
        fen_to_yuan=fen_to_yuan,
        **context,
    )


def _menu(menu: str) -> tuple[str, str, str | None]:
    for m in up.MENUS:
        if m[0] == menu:
            return m
    abort(404)


def _years(menu: str) -> list[int]:
    """缴费所属期 to choose: this year for 自助缴费, the five years before it for 补缴."""
    this = clock().today().year
    return [this] if menu != "backpay" else [this - n for n in range(1, 6)]


@bp.get("")
def index() -> Any:
    """云闪付 → 城市服务 → 社保缴费: 首页共有三个菜单."""
    g.channel = CHANNEL
    session["channel"] = CHANNEL
    return _page("index.html")


@bp.route("/<token:menu>", methods=["GET", "POST"])
@per_address("RATELIMIT_LOGIN")
def menu(menu: str) -> Any:
    """第一步: 输入姓名、证件类型、证件号码，选择缴费所属期 (补缴: and 医疗 or 养老), 下一步."""
    code, label, insurance = _menu(menu)
    session["channel"] = CHANNEL
    years = _years(code)
    form = {"name": "", "id_type": "resident_id", "id_number": "", "year": str(years[0]), "insurance": ""}
    errors: dict[str, str] = {}
    refusal = None
    if request.method == "POST":
        form.update({k: request.form.get(k, "").strip()[:40] for k in form})
        if not form["name"]:
            errors["name"] = "请输入姓名"
        try:
            form["id_number"] = normalize_id_number(form["id_type"], form["id_number"])
        except IdentityError as e:
            errors["id_number"] = str(e)
        if form["year"] not in {str(y) for y in years}:
            errors["year"] = "请选择缴费所属期"
        if code == "backpay" and form["insurance"] not in up.BACKPAY_INSURANCES:
            errors["insurance"] = "请选择灵活就业人员基本医疗保险或灵活就业人员基本养老保险"
        if not errors:
            budget = reserve_lookup(form["id_type"], form["id_number"])  # Qingdao's entry's budgets (R-QD-2)
            if isinstance(budget, Refused):
                return too_many(budget)
            person, refusal = look_up(form, budget, CHANNEL)
            if person is not None:
                session["channel"] = CHANNEL
                if code == "backpay":
                    target = url_for("qd_unionpay.backpay", insurance=form["insurance"], year=int(form["year"]))
                else:
                    target = url_for("qd_unionpay.selfpay", menu=code)
                return redirect(target, 303)
    return _page(
        "menu.html",
        code=code,
        label=label,
        year_options={str(y): f"{y}年度" for y in years},
        form=form,
        errors=errors,
        refusal=refusal,
        id_types=ID_TYPES,
        backpay_insurances=up.BACKPAY_INSURANCES,
        status=422 if errors or refusal else 200,
    )


def _required(menu: str) -> Person:
    """The person the menu's entry found; without one (or once the finding lapsed), back to the menu's entry."""
    person = found_person()
    if person is None:
        abort(redirect(url_for("qd_unionpay.menu", menu=menu)))
    return person


def _who(person: Person) -> dict[str, str]:
    return {"name": mask_name(person.name), "id_number": mask_id_number(person.id_number)}


@bp.route("/<token:menu>/pay", methods=["GET", "POST"])
def selfpay(menu: str) -> Any:
    """第二步: 自助输入缴费基数，并选择是否允许用于批扣 (设置、修改), 基数作废; 第三步: 确认缴费基数后，查询到
    应缴费信息并确认缴费 (→ the shared Qingdao checkout)."""
    code, label, insurance = _menu(menu)
    if insurance is None:
        abort(404)
    person = _required(code)
    session["channel"] = CHANNEL
    today = clock().today()
    error = notice = None
    typed = {"base": "", "batch": ""}
    try:
        number = up.number_of(db(), person.id, insurance)
    except RuleViolation as e:
        return _page("selfpay.html", code=code, label=label, who=_who(person), missing=str(e), status=422)
    if request.method == "POST":
        action = request.form.get("action", "")
        now = clock().now()
        try:
            if action == "base":
                typed = {"base": request.form.get("base", "")[:20], "batch": request.form.get("batch", "")}
                choice = up.set_base(
                    db(), person.id, number.id, typed["base"], typed["batch"], channel=CHANNEL, now=now
                )
                notice = f"缴费基数{choice.base}元已提交，待社保部门核定后生成应缴费信息"
                typed = {"base": "", "batch": ""}
            elif action == "void":
                up.void_base(db(), person.id, number.id, now)
                notice = "缴费基数已作废，可重新选择缴费基数"
            elif action == "pay":
                ids = declarations.parse_ids(request.form.getlist("receivable_id"))
                decl = qd.declare(db(), person.id, number.id, ids, channel=CHANNEL, now=now)
                return redirect(url_for("qingdao.order", declaration_id=decl.id), 303)
            else:
                abort(400)
        except RuleViolation as e:
            error = str(e)
    numbers = [n for n in qd.insured_numbers(db(), person.id, today, special=False) if n.row.id == number.id]
    return _page(
        "selfpay.html",
        code=code,
        label=label,
        who=_who(person),
        missing=None,
        n=numbers[0] if numbers else None,
        number=number,
        year=today.year,
        typed=typed,
        error=error,
        done=notice,
        note=rules.msg_base_range(today),
        # bills held by an order not yet paid (继续缴费); asked only when no bill is left to offer (the budget of 4)
        open=[]
        if numbers and numbers[0].bills
        else qd.open_declarations(db(), person.id, insurance=number.insurance, year=today.year),
        status=422 if error else 200,
    )


@bp.route("/backpay/<token:insurance>/<id:year>", methods=["GET", "POST"])
def backpay(insurance: str, year: int) -> Any:
    """社保（医保）费补缴 第二步: 系统查询出应缴费信息，可确认支付进行缴费."""
    if insurance not in up.BACKPAY_INSURANCES:
        abort(404)
    person = _required("backpay")
    session["channel"] = CHANNEL
    today = clock().today()
    error = None
    try:
        owed = up.backpay(db(), person.id, insurance, year, today.year)
    except RuleViolation as e:
        return _page(
            "backpay.html",
            who=_who(person),
            owed=None,
            refusal=str(e),
            insurance=insurance,
            year=year,
            open=qd.open_declarations(db(), person.id, insurance=insurance, year=year),  # held by an unpaid order
            status=422,
        )
    if request.method == "POST":
        try:
            ids = declarations.parse_ids(request.form.getlist("receivable_id"))
            decl = qd.declare(db(), person.id, owed.number.id, ids, channel=CHANNEL, now=clock().now())
        except RuleViolation as e:
            error = str(e)
        else:
            return redirect(url_for("qingdao.order", declaration_id=decl.id), 303)
    return _page(
        "backpay.html",
        who=_who(person),
        owed=owed,
        refusal=error,
        insurance=insurance,
        year=year,
        label=up.BACKPAY_INSURANCES[insurance],
        open=[],  # bills are offered here; an order holding some of them shows under 缴费 / 特殊缴费
        status=422 if error else 200,
    )


@bp.get("/<token:menu>/records")
def records(menu: str) -> Any:
    """缴费明细查询 (in each of the three menus): history — 费款所属期, 险种类型, amount and date only."""
    code, label, insurance = _menu(menu)
    person = _required(code)
    rows = qd.records(db(), person.id)
    if insurance is not None:
        rows = [r for r in rows if r.insurance == rules.INSURANCE_LABELS[insurance]]
    else:
        rows = [r for r in rows if r.special]
    return _page("records.html", code=code, label=label, who=_who(person), rows=rows)
