"""The steps every flow shares once something is declared: where the providers call back, going to
选择支付方式, and the records pages (缴费记录查询 and its 明细数据), read from the scheme registry.
The routes themselves (选择支付方式, 确认缴费, 作废, the result) are in ``pay``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import current_app, redirect, request, url_for

from ..domain.calendar import Month
from ..domain.errors import RuleViolation
from ..domain.inputs import parse_id
from ..domain.levy import LABELS, levy_of
from ..domain.schemes import SCHEMES
from ..domain.statuses import OrderState
from ..payments import orders
from ..payments.orders import Urls
from ..services import declarations, identity, schemes
from ._web import after_commit, db, found, me, month_range, render

if TYPE_CHECKING:  # annotations only: views read the database through services
    from ..models import Declaration


def urls_for(provider: str, return_path: str = "/pay/return") -> Urls:
    """The absolute notify and return URLs a provider needs for an order: every provider calls the shared notify
    URL; the payer comes back under ``return_path`` (a region's own result pages may have their own)."""
    base = str(current_app.config["PUBLIC_BASE_URL"])
    return Urls(
        notify_url=f"{base}{url_for('pay.notify', provider=provider)}",
        return_url=f"{base}{return_path}/{provider}/" + "{out_trade_no}",
    )


def send_refunds_if_any(o: Any) -> None:
    """An order that took money it cannot settle (unapplied): its refunds go to the provider once this request's
    transaction has committed (the reconcile job retries them)."""
    if o.state is OrderState.UNAPPLIED:
        app = current_app._get_current_object()  # type: ignore[attr-defined]  # LocalProxy's, not on Flask's type
        after_commit(
            lambda: orders.send_refunds(
                app.extensions["db_sessionmaker"],
                app.extensions["payment_adapters"],
                app.extensions["clock"].now(),
                order_id=o.id,
            )
        )


def to_method(decl: Declaration) -> Any:
    """After 提交: on to 选择支付方式."""
    return redirect(url_for("pay.method", declaration_id=decl.id), 303)


def records_page(scheme_code: str, default_start: Month, default_end: Month) -> Any:
    """缴费记录查询 by 费款所属期 (R-CE-1): what was paid for me, or by me; ``?insured=`` narrows it
    to one person I paid for. Opened without a range, it covers every payment there is (a 补缴 of an old year
    paid today shows), and at least the given default."""
    insured_id = parse_id(request.args.get("insured", ""))
    if not request.args.get("start") and not request.args.get("end"):
        span = declarations.paid_span(db(), me().id, scheme_code, insured_id=insured_id)
        if span is not None:
            default_start, default_end = min(default_start, span[0]), max(default_end, span[1])
    start, end, error = month_range(default_start, default_end)
    rows, refunds = [], []
    if not error:
        try:
            rows = declarations.payments_between(db(), me().id, scheme_code, start, end, insured_id=insured_id)
            refunds = declarations.refunds_between(db(), me().id, scheme_code, start, end, insured_id=insured_id)
        except RuleViolation as e:
            error = str(e)
    # The query names the relative only to whom may see them: oneself, a saved member, someone paid for.
    known = insured_id is not None and (bool(rows) or schemes.may_name(db(), me().id, insured_id))
    insured = identity.person(db(), insured_id) if known and insured_id is not None else None
    return render(
        "_components/records.html",
        scheme=SCHEMES[scheme_code],
        rows=rows,
        refunds=refunds,
        error=error,
        labels=LABELS,
        insured=insured,
        start=str(start) if not error else request.args.get("start") or str(start),
        end=str(end) if not error else request.args.get("end") or str(end),
        status=422 if error else 200,
    )


def record_page(scheme_code: str, payment_id: int) -> Any:
    """One payment's 明细数据, with 主管税务机关, 社保经办机构, 人员编号 and 征收项目/品目/子目."""
    with found():
        p = declarations.payment_of(db(), me().id, scheme_code, payment_id)
    r = p.receivable
    return render(
        "_components/record.html",
        scheme=SCHEMES[scheme_code],
        p=p,
        labels=LABELS,
        levy=levy_of(r.insurance, r.enrolment.category),
    )
