"""开具社保缴费记录 (/certificates, R-CE-2, R-CE-3, R-CE-6): 记录打印 (posted items by 税务机关 → 证明申请),
记录下载 (requests by 申请日期, updating itself while one is 制作中), 查看 (page images to long-press) and
下载 (the PDF). Everything is the signed-in payer's own: someone else's request is 404.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from flask import Blueprint, Response, current_app, flash, redirect, request, url_for

from ..domain.calendar import Month
from ..domain.certificates import STATUS_LABELS
from ..domain.errors import RuleViolation
from ..domain.inputs import parse_id
from ..domain.levy import LABELS, levy_of
from ..services import certificates as certs
from ._web import after_commit, audit, clock, date_range, db, found, login_required, me, month_range, render, writes

if TYPE_CHECKING:  # annotations only: views read the database through services
    from ..models import Certificate

bp = Blueprint("certificates", __name__, url_prefix="/certificates")
NO_STORE = {"Cache-Control": "private, no-store"}


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    """For every record page: when a paid item is (or will be) posted and so certifiable (R-CE-2)."""
    return {"certificate_available_on": certs.available_on}


def _default_months() -> tuple[Month, Month]:
    this = Month.of(clock().today())
    return Month(this.year - 1, 1), this


@bp.get("")
@login_required
def index() -> Any:
    """记录打印: the payer's posted items in a 费款所属期 range, grouped by 征收税务机关, each group with
    证明申请; paid items not posted yet, with the day they will be (R-CE-2)."""
    return _print_page()


def _print_page(refused: str | None = None, chosen: set[str] | None = None) -> Any:
    """记录打印 for the range in the query string; ``refused`` is why 开具缴费记录 was not accepted, ``chosen`` the
    records the payer had ticked (kept as they were)."""
    start, end, error = month_range(*_default_months())
    groups: dict[str, list[Any]] = {}
    waiting: list[Any] = []
    if not error:
        try:
            posted, waiting = certs.print_items(db(), me().id, start, end)
            groups = certs.by_tax_office(posted)
        except RuleViolation as e:
            error = str(e)
    error = error or refused
    return render(
        "certificates/index.html",
        groups=groups,
        waiting=waiting,
        error=error,
        labels=LABELS,
        levy_of=levy_of,
        chosen=chosen,
        start=request.args.get("start") or str(start),
        end=request.args.get("end") or str(end),
        status=422 if error else 200,
    )


@bp.post("/apply")
@login_required
def apply() -> Any:
    """勾选缴费记录 → 开具缴费记录 for one 税务机关 (seed 000 §6; the range comes in the query string, as 记录打印
    showed it) → straight to 记录下载 with the new request 制作中 (R-CE-3)."""
    start, end, error = month_range(*_default_months())
    if error:
        return _print_page()
    chosen = request.form.getlist("payment")
    try:
        ids = [i for i in (parse_id(v) for v in chosen) if i is not None]
        if len(ids) != len(chosen):
            raise RuleViolation("所选缴费记录有误，请刷新后重新勾选")
        cert = certs.apply(db(), me(), request.form.get("tax_office", "")[:100], start, end, clock().now(), ids)
    except RuleViolation as e:
        return _print_page(str(e), chosen=set(chosen))
    maker = current_app.extensions["certificate_maker"]
    after_commit(lambda: maker(cert.id))
    flash("证明申请已提交，制作成功后可查看和下载。", "ok")
    return redirect(url_for("certificates.downloads"), 303)


@bp.get("/downloads")
@login_required
def downloads() -> Any:
    """记录下载: the payer's requests by 申请日期; while one is 制作中 the list polls itself (htmx) and
    stops once none is."""
    today = clock().today()
    start, end, error = date_range(today - timedelta(days=30), today)
    rows: list[Certificate] = []
    if not error:
        try:
            rows = certs.certificates_between(db(), me().id, start, end)
        except RuleViolation as e:
            error = str(e)
    making = any(c.status == "making" for c in rows)
    return render(
        "certificates/downloads.html",
        rows=rows,
        error=error,
        making=making,
        labels=STATUS_LABELS,
        start=request.args.get("start") or start.isoformat(),
        end=request.args.get("end") or end.isoformat(),
        block="list" if request.args.get("partial") else None,
        status=422 if error else 200,
    )


def _mine(certificate_id: int) -> Certificate:
    with found():
        return certs.certificate_of(db(), me().id, certificate_id)


@bp.get("/<id:certificate_id>")
@login_required
def view(certificate_id: int) -> Any:
    """查看: the certificate's pages as images the phone can long-press to save (R-CE-6)."""
    cert = _mine(certificate_id)
    if cert.status != "made":
        return _not_made(cert)
    return render("certificates/view.html", cert=cert)


@bp.get("/<id:certificate_id>/pages/<id:page_no>.png")
@login_required
def page(certificate_id: int, page_no: int) -> Any:
    """One page image (PNG)."""
    cert = _mine(certificate_id)
    if cert.status != "made":
        return _not_made(cert)
    with found():
        png = certs.page_png(db(), cert, page_no)
    return Response(png, mimetype="image/png", headers=NO_STORE)


@bp.get("/<id:certificate_id>/download")
@writes
@login_required
def download(certificate_id: int) -> Any:
    """下载: the encrypted PDF (R-CE-4)."""
    cert = _mine(certificate_id)
    if cert.status != "made":
        return _not_made(cert)
    pdf = certs.pdf_of(db(), cert)
    audit("certificate.downloaded", str(cert.id))
    name = f"社会保险费缴费证明-{cert.number}.pdf"
    disposition = f"attachment; filename=\"certificate-{cert.number}.pdf\"; filename*=UTF-8''{quote(name)}"
    return Response(pdf, mimetype="application/pdf", headers={**NO_STORE, "Content-Disposition": disposition})


def _not_made(cert: Certificate) -> Any:
    """A 查看 or 下载 before 制作成功: say so, on a page (409)."""
    message = (
        "缴费证明正在制作中，请在记录下载中等待制作成功后再查看或下载。"
        if cert.status == "making"
        else f"缴费证明制作失败（{cert.failure_reason or ''}），请在记录下载中点击重新制作。"
    )
    return render("_components/error.html", title="证明尚未制作成功", message=message, status=409)


@bp.post("/<id:certificate_id>/retry")
@login_required
def retry(certificate_id: int) -> Any:
    """重新制作 a failed request (R-CE-3)."""
    cert = _mine(certificate_id)
    try:
        certs.retry(db(), cert, me().id)
    except RuleViolation as e:
        flash(str(e), "warn")
    else:
        maker = current_app.extensions["certificate_maker"]
        after_commit(lambda: maker(cert.id))
        flash("已重新提交制作，请稍候。", "ok")
    return redirect(url_for("certificates.downloads"), 303)
