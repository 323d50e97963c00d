"""青岛 (/qd): the second region's pages, seed 002 — the entry by 姓名 + 证件类型 + 证件号码 (no face check, R-QD-2),
the modules 缴费 (with 缴费记录, R-QD-3), 缴费档次或基数选择 (R-QD-4) and 特殊缴费 (R-QD-6), then the shared checkout
(``services.checkout``: 核对“订单金额”, 确定, the cashier, 缴费成功, 完成). Thin: ``services.qingdao`` decides.

Whoever types a name and an ID that match the identity register and a Qingdao enrolment may pay that person's
bills, as the public accounts allow; what they see is dates, insurance and amounts, and numbers masked. The
finding is kept in the session for ``FOUND_MINUTES``; 税税通 asks for the app's own real-name login first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Blueprint, abort, current_app, flash, g, redirect, request, session, url_for

from ..domain import qingdao as rules
from ..domain.certificates import mask_number
from ..domain.errors import RuleViolation
from ..domain.identity import IdentityError, mask_id_number, mask_name, normalize_id_number
from ..domain.money import fen_to_yuan
from ..domain.regions import QINGDAO
from ..domain.schemes import SCHEMES, SchemeCode
from ..domain.statuses import Channel, DeclarationStatus, OrderState
from ..payments import orders
from ..services import checkout, declarations
from ..services import qingdao as qd
from ._attempts import Refused, too_many
from ._checkout import send_refunds_if_any, urls_for
from ._limits import per_address
from ._qd_finding import FOUND_KEY, found_person, look_up, reserve_lookup
from ._web import (
    adapters,
    after_commit,
    clock,
    current_user,
    db,
    found,
    render,
    writes,
)

if TYPE_CHECKING:  # annotations only: views read the database through services
    from ..models import Person

bp = Blueprint("qingdao", __name__, url_prefix="/qd")

SCHEME = SCHEMES[SchemeCode.QINGDAO]


@bp.app_context_processor
def _qd_helpers() -> dict[str, Any]:
    return {"QD": QINGDAO, "QD_INSURANCE": rules.INSURANCE_LABELS, "qd_mask": mask_number}


def _channel() -> str | None:
    """The visit's channel when it is one of Qingdao's (R-QD-1), else None."""
    ch = g.get("channel")
    return ch if ch in QINGDAO.channels else None


def _found() -> Person | None:
    """The person the entry found, while the finding lasts (and, in 税税通, while its login lasts)."""
    if _channel() in QINGDAO.login_first and current_user() is None:
        return None
    return found_person()


def _required() -> Any:
    """The found person, or the response sending the visitor back to the entry."""
    person = _found()
    if person is None:
        target = url_for("qingdao.index", expired=1 if FOUND_KEY in session else None)
        if request.headers.get("HX-Request"):
            return None, ("", 200, {"HX-Redirect": target})
        return None, redirect(target)
    return person, None


def _page(template: str, status: int = 200, **context: Any) -> Any:
    return render(
        f"qingdao/{template}", status=status, channel=_channel(), module=QINGDAO.module_name(_channel()), **context
    )


@bp.route("", methods=["GET", "POST"])
@per_address("RATELIMIT_LOGIN")
def index() -> Any:
    """第二步: 输入参保人的姓名、证件类型、证件号码，点击“下一步” (R-QD-2). A visit without a Qingdao code is offered
    the five entries; 税税通 first asks for the app's real-name login (seed 002 第一步: 完成实名认证并注册后)."""
    channel = _channel()
    if channel is None:
        return _page("choose.html")
    # The budgets below count in transactions of their own, so nothing here reads the database before them
    # (SQLite has one writer); a POST checks 税税通's login after counting.
    if request.method == "GET" and channel in QINGDAO.login_first and current_user() is None:
        return redirect(url_for("auth.login", next=url_for("qingdao.index")))
    form = {"name": "", "id_type": "resident_id", "id_number": ""}
    errors: dict[str, str] = {}
    refusal = None
    if request.method == "POST":
        form.update({k: request.form.get(k, "").strip() for k in form})
        if not form["name"]:
            errors["name"] = "请输入参保人姓名"
        elif len(form["name"]) > 30:
            errors["name"] = "姓名过长，请核对"
        try:
            form["id_number"] = normalize_id_number(form["id_type"], form["id_number"])
        except IdentityError as e:
            errors["id_number"] = str(e)
        if not errors:
            budget = reserve_lookup(form["id_type"], form["id_number"])
            if isinstance(budget, Refused):
                return too_many(budget)
            if channel in QINGDAO.login_first and current_user() is None:
                after_commit(budget.release)
                return redirect(url_for("auth.login", next=url_for("qingdao.index")), 303)
            person, refusal = look_up(form, budget, channel)
            if person is not None:
                return redirect(url_for("qingdao.modules"), 303)
    return _page(
        "entry.html",
        form=form,
        errors=errors,
        refusal=refusal,
        expired=request.args.get("expired") == "1",
        status=422 if errors or refusal else 200,
    )


@bp.get("/modules")
def modules() -> Any:
    """第三步: the modules 缴费, 缴费档次或基数选择, 特殊缴费, for the person found (name and ID masked)."""
    person, away = _required()
    if away:
        return away
    return _page("modules.html", who=_who(person))


def _who(person: Person) -> dict[str, str]:
    return {"name": mask_name(person.name), "id_number": mask_id_number(person.id_number)}


@bp.post("/leave")
def leave() -> Any:
    """退出: the finding ends; back to the entry."""
    session.pop(FOUND_KEY, None)
    return redirect(url_for("qingdao.index"), 303)


# --------------------------------------------------------------------------------------- 缴费 / 特殊缴费


@bp.get("/pay")
def pay() -> Any:
    """缴费 第四步: 选择需缴纳险种的个人参保编号，核对“险种类型”、“缴费基数” (R-QD-3); 缴费记录 is linked here."""
    return _numbers(special=False)


@bp.get("/special")
def special() -> Any:
    """特殊缴费 第四步: 选择需缴纳险种的个人参保编号，核对“险种类型” (R-QD-6: earlier years, no 缴费基数)."""
    return _numbers(special=True)


def _numbers(*, special: bool) -> Any:
    person, away = _required()
    if away:
        return away
    today = clock().today()
    numbers = qd.insured_numbers(db(), person.id, today, special=special)
    return _page(
        "numbers.html",
        special=special,
        numbers=numbers,
        open=qd.open_declarations(db(), person.id),
        year=today.year,
        who=_who(person),
        fen_to_yuan=fen_to_yuan,
    )


@bp.route("/pay/<id:qd_insured_id>", methods=["GET", "POST"])
def bills(qd_insured_id: int) -> Any:
    """缴费 第五步: 核对缴费金额，点击“立即缴费” → the declaration, then 核对“订单金额”."""
    return _bills(qd_insured_id, special=False)


@bp.route("/special/<id:qd_insured_id>", methods=["GET", "POST"])
def special_bills(qd_insured_id: int) -> Any:
    """特殊缴费 第五步: 核对缴费金额，点击“立即缴费”."""
    return _bills(qd_insured_id, special=True)


def _bills(qd_insured_id: int, *, special: bool) -> Any:
    person, away = _required()
    if away:
        return away
    today = clock().today()
    with found():
        number = qd.insured_number(db(), person.id, qd_insured_id)
        rows = qd.bills_of(db(), person.id, qd_insured_id, today, special=special)
    error = None
    if request.method == "POST":
        channel = _channel()
        if channel is None:
            return redirect(url_for("qingdao.index"), 303)
        try:
            ids = declarations.parse_ids(request.form.getlist("receivable_id"))
            decl = qd.declare(db(), person.id, qd_insured_id, ids, channel=channel, now=clock().now())
        except RuleViolation as e:
            error = str(e)
            rows = qd.bills_of(db(), person.id, qd_insured_id, today, special=special)
        else:
            return redirect(url_for("qingdao.order", declaration_id=decl.id), 303)
    return _page(
        "bills.html",
        special=special,
        number=number,
        rows=rows,
        total=fen_to_yuan(sum(r.amount_fen for r in rows)),
        error=error,
        status=422 if error else 200,
    )


@bp.route("/order/<id:declaration_id>", methods=["GET", "POST"])
def order(declaration_id: int) -> Any:
    """第六步: 核对“订单金额”，点击“确定” → the provider's cashier (第七步: 输入交易密码), the channel's methods."""
    person, away = _required()
    if away:
        return away
    with found():
        decl = declarations.declaration_of(db(), person.id, declaration_id)
    if decl.scheme != SchemeCode.QINGDAO:
        abort(404)
    if decl.status is DeclarationStatus.PAID and (paid := orders.paid_order(db(), decl.id)) is not None:
        return redirect(url_for("qingdao.result", out_trade_no=paid.out_trade_no), 303)
    channel = _channel()
    if channel is None:
        return redirect(url_for("qingdao.index"), 303)
    methods = checkout.methods(channel, decl.scheme)
    chosen = request.form.get("method") or (methods or [""])[0]
    error = None
    if request.method == "POST":
        if request.form.get("void"):
            try:
                message = declarations.void(db(), adapters(), decl, clock().now(), person.id)
            except RuleViolation as e:
                error = str(e)
            else:
                flash(message, "ok")
                return redirect(url_for("qingdao.special" if _special(decl) else "qingdao.pay"), 303)
        else:
            try:
                o = checkout.confirm(
                    db(),
                    adapters(),
                    decl,
                    chosen,
                    channel=channel,
                    now=clock().now(),
                    urls=urls_for(chosen, "/qd/return"),
                    expire_minutes=int(current_app.config["ORDER_EXPIRE_MINUTES"]),
                )
            except RuleViolation as e:
                error = str(e)
            else:
                if o.state is OrderState.PAYING and o.cashier_url:
                    return redirect(o.cashier_url, 303)
                if o.state is OrderState.PAID:
                    return redirect(url_for("qingdao.result", out_trade_no=o.out_trade_no), 303)
                error = o.failure_reason or orders.MSG_CREATE_FAILED
    return _page(
        "order.html",
        decl=decl,
        methods=methods,
        chosen=chosen,
        error=error,
        status=422 if error else 200,
    )


def _special(decl: Any) -> bool:
    return str(decl.kind) == "special"


def _own_order(person: Person, out_trade_no: str) -> Any:
    with found():
        o = declarations.order_of(db(), person.id, out_trade_no)
    if o.declaration.scheme != SchemeCode.QINGDAO:
        abort(404)
    return o


@bp.get("/return/<token:provider>/<token:out_trade_no>")
@writes
def returned(provider: str, out_trade_no: str) -> Any:
    """Back from the cashier: the redirect proves nothing, so ask the provider (R-PA-3)."""
    person, away = _required()
    if away:
        return away
    o = _own_order(person, out_trade_no)
    if o.provider != provider:
        abort(404)
    o = checkout.back_from_cashier(db(), adapters(), o, clock().now())
    send_refunds_if_any(o)
    return redirect(url_for("qingdao.result", out_trade_no=o.out_trade_no), 303)


@bp.get("/result/<token:out_trade_no>")
@writes
def result(out_trade_no: str) -> Any:
    """第八步: 缴费成功，点击“完成”; or 支付结果确认中 (asks the provider again on 刷新), or why not, any refund."""
    person, away = _required()
    if away:
        return away
    o = _own_order(person, out_trade_no)
    if o.state.is_open:
        o = checkout.refresh(db(), adapters(), o, clock().now())
    send_refunds_if_any(o)
    return _page(
        "result.html",
        o=o,
        decl=o.declaration,
        special=_special(o.declaration),
        refund=checkout.refund_state(checkout.refunds(db(), o)),
        # 完成 / 返回 lead back to the menus the payer came from: 云闪付's own, or the public accounts' modules.
        menu=url_for("qd_unionpay.index") if _channel() == Channel.QD_UNIONPAY else url_for("qingdao.modules"),
    )


@bp.get("/records")
def records() -> Any:
    """缴费记录 (seed 002 §四 第四步): history — 费款所属期, 险种类型, amount and date only."""
    person, away = _required()
    if away:
        return away
    return _page(
        "records.html",
        rows=qd.records(db(), person.id),
        refunds=qd.refunds(db(), person.id),
        who=_who(person),
        fen_to_yuan=fen_to_yuan,
    )


# ------------------------------------------------------------------------------------- 缴费档次或基数选择


@bp.get("/base")
def base() -> Any:
    """缴费档次或基数选择 第四步: 选择个人参保编号，点击“确定” (R-QD-4)."""
    person, away = _required()
    if away:
        return away
    today = clock().today()
    return _page(
        "base.html",
        numbers=qd.insured_numbers(db(), person.id, today, special=False),
        year=today.year,
        who=_who(person),
    )


@bp.route("/base/<id:qd_insured_id>", methods=["GET", "POST"])
def base_amount(qd_insured_id: int) -> Any:
    """第五步: 输入缴费基数金额 (3980–19899, the policy table's range); 第六步: 缴费 or 退出. A bad amount is said in
    the handbook's words, what was typed kept, nothing written."""
    person, away = _required()
    if away:
        return away
    today = clock().today()
    with found():
        number = qd.insured_number(db(), person.id, qd_insured_id)
    current = qd.base_choice(db(), number.id, today.year)
    typed = request.form.get("base", "") if request.method == "POST" else ""
    error = None
    if request.method == "POST":
        channel = _channel()
        if channel is None:
            return redirect(url_for("qingdao.index"), 303)
        try:
            choice = qd.choose_base(db(), person.id, number.id, typed, channel=channel, now=clock().now())
        except RuleViolation as e:
            error = str(e)
        else:
            return _page("base_done.html", number=number, choice=choice)
    return _page(
        "base_amount.html",
        number=number,
        current=current,
        typed=typed,
        error=error,
        note=rules.msg_base_range(today),
        status=422 if error else 200,
    )
